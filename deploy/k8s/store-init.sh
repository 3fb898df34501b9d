#!/usr/bin/env bash
# Runs `firebreak store init` once, in the cluster, against the Redis the
# deployed Firebreak uses.
#
#   deploy/k8s/store-init.sh [--next-id N] [kubectl flags, e.g. -n NAMESPACE]
#
# Firebreak refuses a Redis without its instance marker: a new Redis and one
# that lost its data look the same, and going on would hand out incident IDs
# already posted to Slack and Telegram. Until the store is initialised the
# pods restart with that message. On a new Redis give --next-id 1; after a
# loss, a number above the last ID posted, or none for a clock-based one.
# On an initialised store it changes nothing and says so.
#
# The Job is made from the Deployment's own pod spec (image, environment,
# Secret references, roster, security settings), so it reaches Redis the
# way the pods do, whichever overlay was applied. It needs kubectl and jq.
set -euo pipefail

usage() {
	echo "usage: $0 [--next-id N] [kubectl flags, e.g. -n NAMESPACE]" >&2
	exit 2
}

init_args=(store init)
kubectl_flags=()
while (($#)); do
	case $1 in
	--next-id)
		(($# >= 2)) || usage
		[[ $2 =~ ^[0-9]+$ ]] || usage
		init_args+=(--next-id "$2")
		shift 2
		;;
	--next-id=*)
		[[ ${1#--next-id=} =~ ^[0-9]+$ ]] || usage
		init_args+=(--next-id "${1#--next-id=}")
		shift
		;;
	-h | --help) usage ;;
	*)
		kubectl_flags+=("$1")
		shift
		;;
	esac
done

kc() { kubectl ${kubectl_flags[@]+"${kubectl_flags[@]}"} "$@"; }

job=firebreak-store-init-$(date +%Y%m%d%H%M%S)

# The pod template's spec, run once: no restarts, no probes (store init
# serves no HTTP), no preStop pause, and labels of its own, so neither the
# Service nor the PodDisruptionBudget counts it as a replica.
# The arguments go in one per line: jq would read a --next-id given to its
# --args as an option of its own.
kc get deployment firebreak -o json | jq --arg job "$job" --arg args "$(printf '%s\n' "${init_args[@]}")" '
	{"app.kubernetes.io/name": "firebreak-store-init"} as $labels
	| {
		apiVersion: "batch/v1",
		kind: "Job",
		metadata: {name: $job, labels: $labels},
		spec: {
			backoffLimit: 0,
			ttlSecondsAfterFinished: 86400,
			template: {
				metadata: {labels: $labels},
				spec: (.spec.template.spec
					| .restartPolicy = "Never"
					| del(.topologySpreadConstraints)
					| .containers |= map(
						if .name == "firebreak" then
							.args = ($args | split("\n") | map(select(. != "")))
							| del(.ports, .startupProbe, .livenessProbe, .readinessProbe, .lifecycle)
						else . end))
			}
		}
	}' | kc create -f -

echo "waiting for job/$job" >&2
for ((i = 0; i < 90; i++)); do
	status=$(kc get job "$job" -o 'jsonpath={.status.succeeded}/{.status.failed}')
	case $status in
	[1-9]*/*)
		kc logs "job/$job"
		echo "now restart Firebreak: kubectl ${kubectl_flags[*]:+${kubectl_flags[*]} }rollout restart deployment/firebreak" >&2
		exit 0
		;;
	*/[1-9]*)
		kc logs "job/$job" >&2 || true
		echo "store init failed: job/$job" >&2
		exit 1
		;;
	esac
	sleep 2
done
echo "job/$job has not finished in 3 minutes: kubectl ${kubectl_flags[*]:+${kubectl_flags[*]} }describe job/$job" >&2
exit 1
