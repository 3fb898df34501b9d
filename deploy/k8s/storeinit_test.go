package k8s

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// fakeKubectl answers store-init.sh as kubectl would: the Deployment as
// JSON, the Job created from stdin, the Job's status and its logs. Every
// call is appended to calls.
const fakeKubectl = `#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_DIR/calls"
case "$*" in
*"get deployment firebreak -o json") cat "$FAKE_DIR/deployment.json" ;;
*"create -f -") cat >"$FAKE_DIR/job.json" && echo "job.batch/created" ;;
*"get job "*) printf '%s' "$FAKE_JOB_STATUS" ;;
*"logs job/"*) echo "$FAKE_LOGS" ;;
*) echo "fake kubectl: unexpected $*" >&2; exit 2 ;;
esac
`

// runStoreInit runs store-init.sh with args against the fake kubectl serving
// dir's rendered Deployment, and returns the Job it created, the kubectl
// calls and the script's output.
func runStoreInit(t *testing.T, dir, jobStatus string, args ...string) (job *batchv1.Job, calls []string, out string, err error) {
	t.Helper()
	if _, err := exec.LookPath("jq"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("jq is missing; store-init.sh needs it (.ci/run installs it)")
		}
		t.Skip("jq is missing; store-init.sh needs it")
	}
	fake := t.TempDir()
	if err := os.WriteFile(filepath.Join(fake, "kubectl"), []byte(fakeKubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(mustRendered(t, dir).deployment)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fake, "deployment.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("bash", append([]string{"store-init.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"),
		"FAKE_DIR="+fake, "FAKE_JOB_STATUS="+jobStatus, "FAKE_LOGS=store initialised: the next incident is YQ-7")
	b, err := cmd.CombinedOutput()
	out = string(b)

	if c, rerr := os.ReadFile(filepath.Join(fake, "calls")); rerr == nil {
		calls = strings.Split(strings.TrimSpace(string(c)), "\n")
	}
	if j, rerr := os.ReadFile(filepath.Join(fake, "job.json")); rerr == nil && len(j) > 0 {
		obj, derr := decodeStrict(j)
		if derr != nil {
			t.Fatalf("the Job store-init.sh creates: %v\n%s", derr, j)
		}
		var ok bool
		if job, ok = obj.(*batchv1.Job); !ok {
			t.Fatalf("store-init.sh created a %T, want a Job", obj)
		}
	}
	return job, calls, out, err
}

// TestStoreInitJob: the Job is the Deployment's pod run once with `store
// init`: the same image, environment (the Redis mode and URL of the
// overlay), volumes and security, no probes, and not counted as a replica.
func TestStoreInitJob(t *testing.T) {
	for _, k := range kustomizations {
		t.Run(k.name, func(t *testing.T) {
			job, calls, out, err := runStoreInit(t, k.dir, "1/", "-n", "incidents", "--next-id", "7")
			if err != nil {
				t.Fatalf("store-init.sh: %v\n%s", err, out)
			}
			if job == nil {
				t.Fatalf("no Job created; output:\n%s", out)
			}
			for _, c := range calls {
				if !strings.HasPrefix(c, "-n incidents ") {
					t.Errorf("kubectl %s: want the flags given (-n incidents) on every call", c)
				}
			}
			if !strings.Contains(out, "YQ-7") || !strings.Contains(out, "rollout restart deployment/firebreak") {
				t.Errorf("got output %q, want the Job's logs and how to restart", out)
			}

			r := mustRendered(t, k.dir)
			want := r.deployment.Spec.Template.Spec
			pod := job.Spec.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever || job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 {
				t.Errorf("got restartPolicy %q, backoffLimit %s; want Never and 0: store init runs once", pod.RestartPolicy, deref(job.Spec.BackoffLimit))
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("got %d containers, want 1", len(pod.Containers))
			}
			c, d := pod.Containers[0], want.Containers[0]
			if got := c.Args; !slices.Equal(got, []string{"store", "init", "--next-id", "7"}) {
				t.Errorf("got args %q, want store init --next-id 7", got)
			}
			if c.Image != d.Image || !reflect.DeepEqual(c.Env, d.Env) || !reflect.DeepEqual(c.VolumeMounts, d.VolumeMounts) ||
				!reflect.DeepEqual(c.SecurityContext, d.SecurityContext) || !reflect.DeepEqual(c.Resources, d.Resources) {
				t.Errorf("the Job's container differs from the Deployment's in image, env, mounts, security or resources:\n got %+v\nwant %+v", c, d)
			}
			if !reflect.DeepEqual(pod.Volumes, want.Volumes) || !reflect.DeepEqual(pod.SecurityContext, want.SecurityContext) {
				t.Error("the Job's volumes or pod securityContext differ from the Deployment's")
			}
			if c.ReadinessProbe != nil || c.LivenessProbe != nil || c.StartupProbe != nil || c.Lifecycle != nil || len(c.Ports) > 0 {
				t.Error("the Job keeps probes, preStop or ports: store init serves no HTTP")
			}
			podLabels := labels.Set(job.Spec.Template.Labels)
			if labels.SelectorFromSet(r.service.Spec.Selector).Matches(podLabels) {
				t.Errorf("the Service selects the Job's pod (labels %v)", podLabels)
			}
		})
	}
}

// TestStoreInitFails: a Job that fails (an initialised store) fails the
// script with its logs.
func TestStoreInitFails(t *testing.T) {
	_, _, out, err := runStoreInit(t, "base", "/1")
	if err == nil {
		t.Fatalf("store-init.sh succeeded on a failed Job; output:\n%s", out)
	}
	if !strings.Contains(out, "store init failed") || !strings.Contains(out, "YQ-7") {
		t.Errorf("got output %q, want the Job's logs and that store init failed", out)
	}
}
