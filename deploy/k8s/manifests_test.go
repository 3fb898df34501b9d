package k8s

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// kustomizations are the folders an operator points `kubectl apply -k` at,
// each with the Redis mode it runs Firebreak in.
var kustomizations = []struct {
	name, dir, redisMode string
}{
	{"base", "base", "single"},
	{"sentinel", "overlays/sentinel", "sentinel"},
	{"cluster", "overlays/cluster", "cluster"},
}

const (
	// secretName is the Secret every key reference names; the operator
	// creates it (secret.example.yaml, README.md).
	secretName = "firebreak-secrets"
	// containerName is Firebreak's container in the pod.
	containerName = "firebreak"
	// replicas is how many run side by side (issue 15).
	replicas = 3
)

// rendered is what one kustomization renders: one object of each kind.
type rendered struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	roster     *corev1.ConfigMap
}

// mustRendered renders dir and sorts its objects by kind, failing on a kind
// twice, a kind missing, or a Secret (whose values are never committed).
func mustRendered(tb testing.TB, dir string) rendered {
	tb.Helper()
	var r rendered
	for _, obj := range mustRender(tb, dir) {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			once(tb, r.deployment == nil, o.Kind)
			r.deployment = o
		case *corev1.Service:
			once(tb, r.service == nil, o.Kind)
			r.service = o
		case *policyv1.PodDisruptionBudget:
			once(tb, r.pdb == nil, o.Kind)
			r.pdb = o
		case *corev1.ConfigMap:
			once(tb, r.roster == nil, o.Kind)
			r.roster = o
		case *corev1.Secret:
			tb.Fatalf("%s renders Secret %q: secrets are created by the operator, never committed", dir, o.Name)
		default:
			tb.Fatalf("%s renders a %T, which no check here covers", dir, obj)
		}
	}
	if r.deployment == nil || r.service == nil || r.pdb == nil || r.roster == nil {
		tb.Fatalf("%s: got Deployment %v, Service %v, PodDisruptionBudget %v, ConfigMap %v; want one of each",
			dir, r.deployment != nil, r.service != nil, r.pdb != nil, r.roster != nil)
	}
	return r
}

// deref prints what p points to, or "unset".
func deref[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func once(tb testing.TB, first bool, kind string) {
	tb.Helper()
	if !first {
		tb.Fatalf("two objects of kind %s, want one", kind)
	}
}

// container returns Firebreak's container of the Deployment.
func (r rendered) container(tb testing.TB) *corev1.Container {
	tb.Helper()
	cs := r.deployment.Spec.Template.Spec.Containers
	for i := range cs {
		if cs[i].Name == containerName {
			return &cs[i]
		}
	}
	tb.Fatalf("no container named %q in the Deployment", containerName)
	return nil
}

// httpPort returns the container's port named http.
func (r rendered) httpPort(tb testing.TB) corev1.ContainerPort {
	tb.Helper()
	for _, p := range r.container(tb).Ports {
		if p.Name == "http" {
			return p
		}
	}
	tb.Fatal("the container has no port named http")
	return corev1.ContainerPort{}
}

// resolve returns the container port number p names, by number or name.
func (r rendered) resolve(tb testing.TB, p intstr.IntOrString) int32 {
	tb.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range r.container(tb).Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	tb.Fatalf("port %q is no port of the container", p.StrVal)
	return 0
}

// env returns the container's variable name, or nil.
func (r rendered) env(tb testing.TB, name string) *corev1.EnvVar {
	tb.Helper()
	for i, e := range r.container(tb).Env {
		if e.Name == name {
			return &r.container(tb).Env[i]
		}
	}
	return nil
}

func TestKustomizations(t *testing.T) {
	known := knownEnv(t)
	keys := secretKeys(t)
	for _, k := range kustomizations {
		t.Run(k.name, func(t *testing.T) {
			r := mustRendered(t, k.dir)
			t.Run("replicas", func(t *testing.T) { checkReplicas(t, r) })
			t.Run("selectors", func(t *testing.T) { checkSelectors(t, r) })
			t.Run("port and probes", func(t *testing.T) { checkPortAndProbes(t, r, known) })
			t.Run("env", func(t *testing.T) { checkEnv(t, r, known, keys) })
			t.Run("redis", func(t *testing.T) { checkRedis(t, r, k.redisMode) })
			t.Run("roster", func(t *testing.T) { checkRoster(t, r) })
			t.Run("resources", func(t *testing.T) { checkResources(t, r) })
			t.Run("security", func(t *testing.T) { checkSecurity(t, r) })
			t.Run("termination", func(t *testing.T) { checkTermination(t, r) })
		})
	}
}

func checkReplicas(t *testing.T, r rendered) {
	d := r.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas {
		t.Errorf("got replicas %s, want %d", deref(d.Spec.Replicas), replicas)
	}
	// A rollout adds a pod before it takes one away.
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil ||
		ru.MaxUnavailable.String() != "0" || ru.MaxSurge == nil || ru.MaxSurge.String() == "0" {
		t.Errorf("got strategy %+v, want RollingUpdate with maxUnavailable 0 and a surge", d.Spec.Strategy)
	}
	// A drain takes one replica at a time and leaves two.
	pdb := r.pdb.Spec
	if pdb.MinAvailable != nil || pdb.MaxUnavailable == nil || pdb.MaxUnavailable.Type != intstr.Int || pdb.MaxUnavailable.IntVal != 1 {
		t.Errorf("got PodDisruptionBudget minAvailable %v, maxUnavailable %v; want maxUnavailable 1",
			pdb.MinAvailable, pdb.MaxUnavailable)
	}
}

// checkSelectors: the Deployment, Service, PodDisruptionBudget and spread
// constraints all select the pods, and by their name label.
func checkSelectors(t *testing.T, r rendered) {
	pod := labels.Set(r.deployment.Spec.Template.Labels)
	selects := func(what string, sel *metav1.LabelSelector) {
		t.Helper()
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if s.Empty() || !s.Matches(pod) {
			t.Errorf("%s selects %q, which does not match the pods' labels %v", what, s, pod)
		}
	}
	selects("the Deployment", r.deployment.Spec.Selector)
	selects("the PodDisruptionBudget", r.pdb.Spec.Selector)
	selects("the Service", &metav1.LabelSelector{MatchLabels: r.service.Spec.Selector})
	for _, c := range r.deployment.Spec.Template.Spec.TopologySpreadConstraints {
		selects("the spread over "+c.TopologyKey, c.LabelSelector)
	}
	if pod["app.kubernetes.io/name"] != "firebreak" {
		t.Errorf("the pods' labels %v have no app.kubernetes.io/name: firebreak", pod)
	}
}

// checkPortAndProbes: the Service, the probes and Prometheus all reach the
// port the binary listens on (FIREBREAK_HTTP_ADDR), at its paths (DESIGN.md
// §4, adapters/web/health.go).
func checkPortAndProbes(t *testing.T, r rendered, known map[string]bool) {
	c := r.container(t)
	port := r.httpPort(t).ContainerPort

	addr := r.env(t, "FIREBREAK_HTTP_ADDR")
	if addr == nil {
		t.Fatal("FIREBREAK_HTTP_ADDR is not set: with no platform configured serve listens on 127.0.0.1, out of the probes' reach")
	}
	host, p, err := net.SplitHostPort(addr.Value)
	if err != nil || host != "" || p != strconv.Itoa(int(port)) {
		t.Errorf("got FIREBREAK_HTTP_ADDR %q, want %q: all interfaces, the container port", addr.Value, ":"+strconv.Itoa(int(port)))
	}

	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
		{"startup", c.StartupProbe, "/healthz"},
	}
	for _, pr := range probes {
		if pr.probe == nil || pr.probe.HTTPGet == nil {
			t.Errorf("no %s probe over HTTP", pr.name)
			continue
		}
		if got := pr.probe.HTTPGet.Path; got != pr.path {
			t.Errorf("%s probe: got path %q, want %q", pr.name, got, pr.path)
		}
		if got := r.resolve(t, pr.probe.HTTPGet.Port); got != port {
			t.Errorf("%s probe: got port %d, want the container's %d", pr.name, got, port)
		}
	}
	// /readyz waits up to 2 s for Redis (adapters/web readyTimeout): a
	// shorter probe timeout would turn a slow Redis into a failed probe.
	if rp := c.ReadinessProbe; rp != nil && rp.TimeoutSeconds <= 2 {
		t.Errorf("readiness probe: got timeoutSeconds %d, want more than /readyz's 2 s", rp.TimeoutSeconds)
	}

	if len(r.service.Spec.Ports) != 1 {
		t.Fatalf("got %d Service ports, want 1", len(r.service.Spec.Ports))
	}
	if got := r.resolve(t, r.service.Spec.Ports[0].TargetPort); got != port {
		t.Errorf("the Service's targetPort is %d, want the container's %d", got, port)
	}

	ann := r.deployment.Spec.Template.Annotations
	want := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": strconv.Itoa(int(port)), "prometheus.io/path": "/metrics"}
	for k, v := range want {
		if ann[k] != v {
			t.Errorf("pod annotation %s: got %q, want %q", k, ann[k], v)
		}
	}
}

// interpolation is a reference $(NAME) in an env value, which Kubernetes
// replaces with the value of a variable defined before it.
var interpolation = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkEnv: every variable is one the binary reads, or a value from the
// Secret spliced into one that is (the Redis password into the URL); every
// $(NAME) is defined earlier, or Kubernetes passes the text through; every
// key reference names the Secret and a key of its example.
func checkEnv(t *testing.T, r rendered, known map[string]bool, exampleKeys []string) {
	c := r.container(t)
	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom %v: its names cannot be checked here; name each variable", c.EnvFrom)
	}
	defined := map[string]bool{}
	spliced := map[string]bool{}
	var helpers, usedKeys []string
	for _, e := range c.Env {
		if defined[e.Name] {
			t.Errorf("%s is set twice", e.Name)
		}
		for _, m := range interpolation.FindAllStringSubmatch(e.Value, -1) {
			if !defined[m[1]] {
				t.Errorf("%s uses $(%s), which is not defined before it: the pod would get the text $(%s)", e.Name, m[1], m[1])
			}
			spliced[m[1]] = true
		}
		defined[e.Name] = true

		if strings.HasPrefix(e.Name, "FIREBREAK_") {
			if !known[e.Name] {
				t.Errorf("%s is not a variable Firebreak reads (firebreak config lists them)", e.Name)
			}
		} else {
			helpers = append(helpers, e.Name)
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				t.Errorf("%s: only a value from the Secret, spliced into a FIREBREAK_ variable, may go by another name", e.Name)
			} else if ref := e.ValueFrom.SecretKeyRef; ref.Optional != nil && *ref.Optional {
				t.Errorf("%s is spliced into another value, so its key must be there: optional would leave $(%s) as text", e.Name, e.Name)
			}
		}
		if e.ValueFrom != nil {
			ref := e.ValueFrom.SecretKeyRef
			if ref == nil || e.ValueFrom.ConfigMapKeyRef != nil || e.ValueFrom.FieldRef != nil || e.ValueFrom.ResourceFieldRef != nil {
				t.Errorf("%s: got valueFrom %+v, want a secretKeyRef", e.Name, e.ValueFrom)
				continue
			}
			if ref.Name != secretName {
				t.Errorf("%s refers to Secret %q, want %q", e.Name, ref.Name, secretName)
			}
			usedKeys = append(usedKeys, ref.Key)
		}
	}
	for _, h := range helpers {
		if !spliced[h] {
			t.Errorf("%s is neither read by Firebreak nor spliced into a variable that is", h)
		}
	}
	slices.Sort(usedKeys)
	usedKeys = slices.Compact(usedKeys)
	if !slices.Equal(usedKeys, exampleKeys) {
		t.Errorf("the Secret keys used are %v, secret.example.yaml has %v: keep them the same", usedKeys, exampleKeys)
	}
	// Each platform's keys are optional (a platform not used has none);
	// an operator sees the others in the example.
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "FIREBREAK_") && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			if o := e.ValueFrom.SecretKeyRef.Optional; o == nil || !*o {
				t.Errorf("%s: the Secret's key %q should be optional: a platform not used has none", e.Name, e.ValueFrom.SecretKeyRef.Key)
			}
		}
	}
}

// checkRedis: FIREBREAK_REDIS_MODE is the kustomization's mode, and
// FIREBREAK_REDIS_URL, with a password of reserved characters spliced in
// percent-encoded as README.md says, parses with go-redis's parser of that
// mode into that password.
func checkRedis(t *testing.T, r rendered, mode string) {
	if got := r.env(t, "FIREBREAK_REDIS_MODE"); got == nil || got.Value != mode {
		t.Errorf("got FIREBREAK_REDIS_MODE %+v, want %q", got, mode)
	}
	u := r.env(t, "FIREBREAK_REDIS_URL")
	if u == nil || u.Value == "" {
		t.Fatal("FIREBREAK_REDIS_URL is not set: three replicas would run three embedded, empty Redis")
	}
	for _, pw := range []struct{ encoded, plain string }{
		{"p%40ss%2Fw%2Bd%3F%23%3A%26", "p@ss/w+d?#:&"},
		{"", ""},
	} {
		url := strings.ReplaceAll(u.Value, "$(REDIS_PASSWORD)", pw.encoded)
		var password string
		switch mode {
		case "single":
			o, err := redis.ParseURL(url)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", url, err)
			}
			password = o.Password
		case "cluster":
			o, err := redis.ParseClusterURL(url)
			if err != nil {
				t.Fatalf("ParseClusterURL(%q): %v", url, err)
			}
			if len(o.Addrs) < 3 {
				t.Errorf("got cluster nodes %v, want at least 3, so one down leaves a way in", o.Addrs)
			}
			password = o.Password
		case "sentinel":
			o, err := redis.ParseFailoverURL(url)
			if err != nil {
				t.Fatalf("ParseFailoverURL(%q): %v", url, err)
			}
			if o.MasterName == "" {
				t.Error("no master_name")
			}
			if len(o.SentinelAddrs) < 3 {
				t.Errorf("got Sentinels %v, want at least 3 (a quorum of 2 survives one)", o.SentinelAddrs)
			}
			password = o.Password
		default:
			t.Fatalf("mode %q: no check", mode)
		}
		if password != pw.plain {
			t.Errorf("with $(REDIS_PASSWORD) = %q the master's password is %q, want %q", pw.encoded, password, pw.plain)
		}
	}
}

// checkRoster: the roster is the generated ConfigMap (its name carries the
// content's hash, so an edit rolls the pods), mounted where
// FIREBREAK_ROSTER points, and holds base/roster.yaml.
func checkRoster(t *testing.T, r rendered) {
	if !strings.HasPrefix(r.roster.Name, "firebreak-roster-") {
		t.Errorf("got ConfigMap %q, want the generated firebreak-roster-<hash>", r.roster.Name)
	}
	if got, want := r.roster.Data["roster.yaml"], string(mustRead(t, "base/roster.yaml")); got != want {
		t.Errorf("the ConfigMap's roster.yaml (%d bytes) is not base/roster.yaml (%d bytes)", len(got), len(want))
	}
	spec := r.deployment.Spec.Template.Spec
	var volume string
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == r.roster.Name {
			volume = v.Name
		}
	}
	if volume == "" {
		t.Fatalf("no volume of ConfigMap %q", r.roster.Name)
	}
	roster := r.env(t, "FIREBREAK_ROSTER")
	if roster == nil {
		t.Fatal("FIREBREAK_ROSTER is not set: Firebreak would run the demo roster")
	}
	var mounted []string
	for _, m := range r.container(t).VolumeMounts {
		if m.Name == volume {
			mounted = append(mounted, path.Join(m.MountPath, m.SubPath))
			// A subPath mount is a copy, taken once; the whole volume
			// keeps the files the ConfigMap has.
			if m.SubPath == "" && path.Join(m.MountPath, "roster.yaml") == roster.Value && m.ReadOnly {
				return
			}
		}
	}
	t.Errorf("FIREBREAK_ROSTER is %q; the roster volume is mounted at %v: want it read-only, without subPath, at the file's folder", roster.Value, mounted)
}

// checkResources: requests and limits for CPU and memory, requests within
// limits, and room above the 200 MiB the issue sets as the most a replica
// may use under twice its highest load.
func checkResources(t *testing.T, r rendered) {
	res := r.container(t).Resources
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := res.Requests[name]
		lim, okLim := res.Limits[name]
		if !okReq || !okLim {
			t.Errorf("%s: got request %v, limit %v; want both", name, req.String(), lim.String())
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", name, req.String(), lim.String())
		}
	}
	if lim := res.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("200Mi")) <= 0 {
		t.Errorf("memory limit %s: want more than 200Mi", lim.String())
	}
}

// dockerUsers maps the Dockerfile's USER to its numeric user: Kubernetes
// checks runAsNonRoot against a number.
var dockerUsers = map[string]int64{"nonroot:nonroot": 65532, "nonroot": 65532, "65532:65532": 65532}

// checkSecurity: the pod runs as the image's non-root user, on a read-only
// root filesystem, with no privilege to gain and no API token.
func checkSecurity(t *testing.T, r rendered) {
	spec := r.deployment.Spec.Template.Spec
	m := regexp.MustCompile(`(?m)^USER\s+(\S+)\s*$`).FindAllSubmatch(mustRead(t, "../../Dockerfile"), -1)
	if len(m) == 0 {
		t.Fatal("no USER in the Dockerfile")
	}
	user := string(m[len(m)-1][1])
	uid, ok := dockerUsers[user]
	if !ok {
		t.Fatalf("the Dockerfile's USER %q is not in dockerUsers: add its number", user)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != uid {
		t.Errorf("got pod securityContext %+v, want runAsNonRoot and runAsUser %d (the Dockerfile's %s)", psc, uid, user)
	}
	sc := r.container(t).SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("got container securityContext %+v, want readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL", sc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken should be false: Firebreak never calls the Kubernetes API")
	}
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Error("enableServiceLinks should be false: the Service named firebreak would add FIREBREAK_SERVICE_HOST and the like")
	}
}

// shutdownTimeout finds the timeouts serve's shutdown waits for, one after
// another (cmd/firebreak: the HTTP server's drain, then the Slack replies').
var shutdownTimeout = regexp.MustCompile(`context\.WithTimeout\(context\.Background\(\),\s*(\d+)\s*\*\s*time\.Second\)`)

// checkTermination: the grace period covers the preStop pause and every
// timeout of the binary's shutdown, so SIGKILL does not cut a drain short.
func checkTermination(t *testing.T, r rendered) {
	var sum int64
	var found []string
	for _, file := range []string{"../../cmd/firebreak/main.go", "../../cmd/firebreak/platforms.go"} {
		for _, m := range shutdownTimeout.FindAllSubmatch(mustRead(t, file), -1) {
			n, _ := strconv.ParseInt(string(m[1]), 10, 64)
			sum += n
			found = append(found, path.Base(file)+": "+string(bytes.TrimPrefix(m[0], []byte("context."))))
		}
	}
	if len(found) == 0 {
		t.Fatal("found no shutdown timeout (context.WithTimeout(context.Background(), N*time.Second)) in cmd/firebreak: " +
			"see how serve shuts down now and update shutdownTimeout and the grace period")
	}
	c := r.container(t)
	var pause int64
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("no preStop sleep: serve closes its listener on SIGTERM, before the endpoints are gone")
	} else {
		pause = c.Lifecycle.PreStop.Sleep.Seconds
		if c.Lifecycle.PreStop.Exec != nil {
			t.Error("preStop exec: the distroless image has no shell or sleep")
		}
	}
	grace := r.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil || *grace < pause+sum {
		t.Errorf("got terminationGracePeriodSeconds %s, want at least %d: preStop %d s and the shutdown's %v",
			deref(grace), pause+sum, pause, found)
	}
}

// configVar is a row of the table `firebreak config` prints.
var configVar = regexp.MustCompile(`(?m)^(FIREBREAK_[A-Z0-9_]+)\t`)

// knownEnv returns the variables the binary reads, as `firebreak config`
// lists them (its own settings and every platform adapter's), so a
// manifest setting one that was renamed or misspelt fails here.
func knownEnv(tb testing.TB) map[string]bool {
	tb.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(goCmd, "run", "./cmd/firebreak", "config")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("firebreak config: %v", err)
	}
	known := map[string]bool{}
	for _, m := range configVar.FindAllSubmatch(out, -1) {
		known[string(m[1])] = true
	}
	// HTTP_ADDR, REDIS_URL, ROSTER, the Slack and Telegram settings, ...
	for _, name := range []string{"FIREBREAK_HTTP_ADDR", "FIREBREAK_REDIS_URL", "FIREBREAK_SLACK_BOT_TOKEN", "FIREBREAK_TELEGRAM_TOKEN"} {
		if !known[name] {
			tb.Fatalf("firebreak config lists %d variables, not %s (%v): has its table changed shape?", len(known), name, known)
		}
	}
	return known
}

// TestRosterPassesRosterCheck: the roster the base ships, a copy of
// deploy/roster.example.yaml (kustomize reads no file outside base/), and
// the operator overlay's are rosters the binary of this tree accepts,
// checked by `firebreak roster check`.
func TestRosterPassesRosterCheck(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"base/roster.yaml", "testdata/my-office/roster.yaml"} {
		t.Run(file, func(t *testing.T) {
			cmd := exec.Command(goCmd, "run", "./cmd/firebreak", "roster", "check", "deploy/k8s/"+file)
			cmd.Dir = filepath.Join("..", "..")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("firebreak roster check %s: %v\n%s", file, err, out)
			}
			if !bytes.Contains(out, []byte(": ok")) {
				t.Fatalf("firebreak roster check %s: got %q, want it to say ok", file, out)
			}
		})
	}
}

// TestOperatorOverlay renders the overlay README.md gives an operator
// (testdata/my-office: the Sentinel overlay with their own hosts, roster,
// namespace and image) and checks that each of those took.
func TestOperatorOverlay(t *testing.T) {
	const dir = "testdata/my-office"
	r := mustRendered(t, dir)
	for _, obj := range []metav1.Object{r.deployment, r.service, r.pdb, r.roster} {
		if obj.GetNamespace() != "incidents" {
			t.Errorf("%s is in namespace %q, want incidents", obj.GetName(), obj.GetNamespace())
		}
	}
	if got, want := r.roster.Data["roster.yaml"], string(mustRead(t, dir+"/roster.yaml")); got != want {
		t.Errorf("the ConfigMap holds %d bytes of roster, want the overlay's own roster.yaml (%d bytes)", len(got), len(want))
	}
	volumes := r.deployment.Spec.Template.Spec.Volumes
	if !slices.ContainsFunc(volumes, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == r.roster.Name }) {
		t.Errorf("no volume of the replaced ConfigMap %q", r.roster.Name)
	}
	if got := r.container(t).Image; got != "registry.example/firebreak:1.0" {
		t.Errorf("got image %q, want registry.example/firebreak:1.0", got)
	}
	if got := r.env(t, "FIREBREAK_TELEGRAM_MODE"); got == nil || got.Value != "poll" {
		t.Errorf("got FIREBREAK_TELEGRAM_MODE %+v, want poll", got)
	}
	known, keys := knownEnv(t), secretKeys(t)
	checkEnv(t, r, known, keys)
	checkRedis(t, r, "sentinel")
	if u := r.env(t, "FIREBREAK_REDIS_URL"); u == nil || !strings.Contains(u.Value, "sentinel-a.office") {
		t.Errorf("got FIREBREAK_REDIS_URL %+v, want the overlay's Sentinels", u)
	}
}
