package builtins

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// patchLog records the bodies of the PATCH requests a client sends.
type patchLog struct {
	mu     sync.Mutex
	bodies []string
}

func (l *patchLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.bodies
	l.bodies = nil
	return out
}

type recordingRT struct {
	rt  http.RoundTripper
	log *patchLog
}

func (r recordingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && req.Body != nil {
		data, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(data))
		r.log.mu.Lock()
		r.log.bodies = append(r.log.bodies, string(data))
		r.log.mu.Unlock()
	}
	return r.rt.RoundTrip(req)
}

// recordingClient is e2eClient in namespace ns, recording its patches.
func recordingClient(t *testing.T, env *kubetest.Env, ns string) (*kube.Client, *patchLog) {
	log := &patchLog{}
	flags := kube.NewConfigFlags()
	kc, dir, kctx := env.Kubeconfig, t.TempDir(), "sandbox"
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &kctx, &dir
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return recordingRT{rt: rt, log: log} })
		return c
	}
	return kube.NewClient(flags), log
}

var setObjectPrefix = regexp.MustCompile(`^error: [a-z.]+/[a-z0-9-]+ `)

var serverError = regexp.MustCompile(`(?m)^error: Error from server \((\w+)\): (.*)$`)

var requestBody = regexp.MustCompile(`"Request Body" body=("(?:[^"\\]|\\.)*")`)

// kubectlPatches are the non-empty request bodies kubectl -v=8 logged.
func kubectlPatches(t *testing.T, stderr string) []string {
	var out []string
	for _, m := range requestBody.FindAllStringSubmatch(stderr, -1) {
		s, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatalf("kubectl's log: %v: %s", err, m[1])
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// opStep is one change made both ways: kubectl (its args, in the kubectl
// namespace) and k8sh (star, in the k8sh namespace), on identical objects.
type opStep struct {
	kubectl string // split on spaces
	star    string
}

// runOpSteps runs each step both ways and compares what they print (kubectl's
// stdout with the lines k8sh announces, kubectl's error with the error k8sh
// raises, after "error: " and the builtin's name) and the patches they send.
func runOpSteps(t *testing.T, env *kubetest.Env, nsK, nsS string, steps []opStep) {
	t.Helper()
	ek := *env
	ek.Namespace = nsK
	k := ek.Kubectl(t)
	c, log := recordingClient(t, env, nsS)
	s := &Session{Cluster: c}
	for _, st := range steps {
		args := append(strings.Fields(st.kubectl), "-v=8")
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "_", " ")
		}
		out, errOut, code := k.Run("", args...)
		wantPatches := kubectlPatches(t, errOut)
		want := out
		if code != 0 {
			var lines []string
			for _, l := range strings.Split(errOut, "\n") {
				if strings.HasPrefix(l, "error: ") || strings.HasPrefix(l, "Error from server") {
					lines = append(lines, l)
				}
			}
			want = "error: " + strings.TrimPrefix(strings.Join(lines, "\n"), "error: ") + "\n"
			// kubectl set names the object first ("error: deployments/web
			// 'A' already has..."), k8sh in front of the message.
			want = setObjectPrefix.ReplaceAllString(want, "error: ")
			// kubectl puts the server's reason first, k8sh last.
			want = serverError.ReplaceAllString(want, "error: $2 ($1)")
		}
		log.take()
		printed, announced := runSession(t, s, `
r = catch(lambda: `+st.star+`)
if r.error:
    msg = r.error.split(": ", 1)[1]
    obj = msg.split(": ", 1)[0]
    if "/" in obj and " " not in obj:
        msg = msg.split(": ", 1)[1]  # k8sh names the object kubectl is about
    print("error: " + msg)
`, nil)
		got := announced + printed
		if code != 0 && strings.Contains(want, "(Conflict)") {
			// kubectl says the server's words, k8sh says what they mean.
			if !strings.Contains(got, "(Conflict)") {
				t.Errorf("kubectl %s: got %q, want a conflict", st.kubectl, got)
			}
		} else if got != want {
			t.Errorf("kubectl %s / %s:\n--- kubectl\n%s--- k8sh\n%s", st.kubectl, st.star, want, got)
		}
		gotPatches := log.take()
		// Sent in parallel by k8sh: in any order.
		sort.Strings(gotPatches)
		sort.Strings(wantPatches)
		if strings.Join(gotPatches, "\n") != strings.Join(wantPatches, "\n") {
			t.Errorf("kubectl %s / %s: patches:\n--- kubectl\n%s\n--- k8sh\n%s", st.kubectl, st.star, strings.Join(wantPatches, "\n"), strings.Join(gotPatches, "\n"))
		}
	}
}

// sameObjects fails t when the objects of kind named in nsK and nsS differ
// in what fields select (a JSON path of map keys, "" for the whole object).
func sameObjects(t *testing.T, env *kubetest.Env, nsK, nsS, kind string, names []string, fields ...[]string) {
	t.Helper()
	c := e2eClient(t, env, "sandbox")
	for _, n := range names {
		a, err := c.Get(context.Background(), kind, n, nsK)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Get(context.Background(), kind, n, nsS)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			va, _, _ := unstructuredField(a.Object, f)
			vb, _, _ := unstructuredField(b.Object, f)
			ja, _ := json.Marshal(va)
			jb, _ := json.Marshal(vb)
			if string(ja) != string(jb) {
				t.Errorf("%s %s %v: kubectl's %s, k8sh's %s", kind, n, f, ja, jb)
			}
		}
	}
}

func unstructuredField(m map[string]any, path []string) (any, bool, error) {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		v = mm[p]
	}
	return v, true, nil
}

// createDeploys makes Deployments named names in ns, labelled grp=g and
// app=NAME, with containers app (env A, B) and sidecar and init container
// init.
func createDeploys(t *testing.T, env *kubetest.Env, ns string, names ...string) {
	t.Helper()
	for _, n := range names {
		labels := map[string]string{"app": n}
		zero := int32(0)
		_, err := env.Clientset.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"app": n, "grp": "g"}},
			Spec: appsv1.DeploymentSpec{
				Replicas: &zero,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{
						InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
						Containers: []corev1.Container{
							{Name: "app", Image: "nginx", Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
								Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {ContainerPort: 53}}},
							{Name: "sidecar", Image: "envoy"},
						},
					},
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLabelAnnotateLikeKubectlE2E: k8s.label and k8s.annotate on objects
// identical to the ones kubectl label / annotate change in another
// namespace: the same lines ("deployment.apps/web labeled", "not
// labeled", ...), the same errors (overwrite refused, a stale
// resourceVersion), the same merge patches sent, the same objects after.
func TestLabelAnnotateLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	nsK, nsS := kubetest.PrefixNamespace(t, env, "lk-"), kubetest.PrefixNamespace(t, env, "ls-")
	createDeploys(t, env, nsK, "api", "web")
	createDeploys(t, env, nsS, "api", "web")
	runOpSteps(t, env, nsK, nsS, []opStep{
		{"label deploy/web tier=front", `k8s.label("deploy/web", {"tier": "front"})`},
		{"label deploy/web tier=front", `k8s.label("deploy/web", {"tier": "front"})`},
		{"label deploy/web tier=back", `k8s.label("deploy/web", {"tier": "back"})`},
		{"label deploy/web tier=back --overwrite", `k8s.label(k8s.get("deploy", "web"), {"tier": "back"}, overwrite=True)`},
		{"label deploy/web tier-", `k8s.label("deploy/web", {"tier": None})`},
		{"label deploy/web tier=x app-", `k8s.label("deployments.apps/web", {"tier": "x", "app": None})`},
		{"label deploy/web nosuch-", `k8s.label("deploy/web", {"nosuch": None})`},
		{"label deploy/web nosuch- tier=y --overwrite", `k8s.label("deploy/web", {"nosuch": None, "tier": "y"}, overwrite=True)`},
		{"label deploy -l grp=g team=a", `k8s.label("deploy", {"team": "a"}, selector="grp=g")`},
		{"label deploy -l grp=g,team=a role=web", `k8s.label("deploy", {"role": "web"}, selector={"grp": "g", "team": "a"})`},
		{"label deploy/web deploy/api team=b --overwrite", `k8s.label(["deploy/web", "deploy/api"], {"team": "b"}, overwrite=True)`},
		{"label deploy/web stale=1 --resource-version=1", `k8s.label("deploy/web", {"stale": "1"}, resource_version="1")`},
		{"label deploy/web bad=-x-", `k8s.label("deploy/web", {"bad": "-x-"})`},
		{"annotate deploy/web note=hello", `k8s.annotate("deploy/web", {"note": "hello"})`},
		{"annotate deploy/web note=other", `k8s.annotate("deploy/web", {"note": "other"})`},
		{"annotate deploy/web note=other --overwrite", `k8s.annotate("deploy/web", {"note": "other"}, overwrite=True)`},
		{"annotate deploy/web note- extra=1", `k8s.annotate("deploy/web", {"note": None, "extra": "1"})`},
		{"annotate deploy -l grp=g owner=me", `k8s.annotate("deploy", {"owner": "me"}, selector="grp=g")`},
		{"label deploy/web dry=1 --dry-run=server", `k8s.label("deploy/web", {"dry": "1"}, dry_run=True)`},
	})
	sameObjects(t, env, nsK, nsS, "deployments", []string{"web", "api"},
		[]string{"metadata", "labels"}, []string{"metadata", "annotations"})
}

// createWorkloads makes, in ns, StatefulSet db and CronJob cron (container
// app, init container init) beside the Deployments web and api.
func createWorkloads(t *testing.T, env *kubetest.Env, ns string) {
	t.Helper()
	createDeploys(t, env, ns, "api", "web")
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		Containers:     []corev1.Container{{Name: "app", Image: "postgres", Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}},
		RestartPolicy:  corev1.RestartPolicyOnFailure,
	}
	labels := map[string]string{"app": "db"}
	zero := int32(0)
	ctx := context.Background()
	sts := spec.DeepCopy()
	sts.RestartPolicy = corev1.RestartPolicyAlways
	if _, err := env.Clientset.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: map[string]string{"grp": "g"}},
		Spec: appsv1.StatefulSetSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: *sts}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cron"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: ptrTo(true),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: spec}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestSetLikeKubectlE2E: k8s.set_image, k8s.set_env and k8s.set_resources
// on objects identical to the ones kubectl set changes in another
// namespace (deployments, a statefulset, a cronjob; containers, init
// containers, "*" and wildcards, selectors): the same lines, errors and
// strategic merge patches, the same objects after.
func TestSetLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	nsK, nsS := kubetest.PrefixNamespace(t, env, "sk-"), kubetest.PrefixNamespace(t, env, "ss-")
	createWorkloads(t, env, nsK)
	createWorkloads(t, env, nsS)
	runOpSteps(t, env, nsK, nsS, []opStep{
		{"set image deploy/web app=nginx:1.27", `k8s.set_image("deploy/web", {"app": "nginx:1.27"})`},
		{"set image deploy/web app=nginx:1.27", `k8s.set_image("deploy/web", {"app": "nginx:1.27"})`},
		{"set image deploy/web app=nginx:1.28 init=busybox:1.36", `k8s.set_image(k8s.get("deploy", "web"), {"app": "nginx:1.28", "init": "busybox:1.36"})`},
		{"set image deploy/api *=alpine:3", `k8s.set_image("deploy/api", "alpine:3")`},
		{"set image sts/db cronjob/cron app=postgres:17", `k8s.set_image(["sts/db", "cronjob/cron"], {"app": "postgres:17"})`},
		{"set image deploy/web nosuch=x", `k8s.set_image("deploy/web", {"nosuch": "x"})`},
		{"set resources deploy/web -c nosuch --limits=cpu=1", `k8s.set_resources("deploy/web", limits={"cpu": "1"}, container="nosuch")`},
		{"set image deploy -l grp=g sidecar=envoy:1.30", `k8s.set_image("deploy", {"sidecar": "envoy:1.30"}, selector="grp=g")`},
		{"set env deploy/web A=9 C=3 B-", `k8s.set_env("deploy/web", {"A": "9", "C": "3", "B": None})`},
		{"set env deploy/web -c sidecar X=1 Y=2", `k8s.set_env("deploy/web", {"X": "1", "Y": 2}, container="sidecar")`},
		{"set env deploy/api -c side* X=1", `k8s.set_env("deploy/api", {"X": "1"}, container="side*")`},
		{"set env sts/db cronjob/cron A=2 B=3", `k8s.set_env(["sts/db", "cronjob/cron"], {"A": "2", "B": "3"})`},
		{"set env deploy/web A=10 --overwrite=false", `k8s.set_env("deploy/web", {"A": "10"}, overwrite=False)`},
		{"set resources deploy/web --limits=cpu=200m,memory=512Mi --requests=cpu=100m", `k8s.set_resources("deploy/web", limits={"cpu": "200m", "memory": "512Mi"}, requests={"cpu": "100m"})`},
		{"set resources deploy/web -c app --requests=memory=64Mi", `k8s.set_resources("deploy/web", requests={"memory": "64Mi"}, container="app")`},
		{"set resources sts/db cronjob/cron --limits=cpu=1", `k8s.set_resources(["sts/db", "cronjob/cron"], limits={"cpu": 1})`},
		{"set resources deploy -l grp=g --requests=cpu=50m", `k8s.set_resources("deploy", requests={"cpu": "50m"}, selector="grp=g")`},
		{"set image deploy/web app=nginx:dry --dry-run=server", `k8s.set_image("deploy/web", {"app": "nginx:dry"}, dry_run=True)`},
	})
	tmpl := []string{"spec", "template"}
	sameObjects(t, env, nsK, nsS, "deployments", []string{"web", "api"}, tmpl)
	sameObjects(t, env, nsK, nsS, "statefulsets", []string{"db"}, tmpl)
	sameObjects(t, env, nsK, nsS, "cronjobs", []string{"cron"}, []string{"spec", "jobTemplate"})
}

// TestExposeLikeKubectlE2E: k8s.expose makes the Service kubectl expose
// makes of identical objects in another namespace: selector, ports (one per
// container port and protocol), target ports, names, labels, type; the
// same "service/web exposed" line.
func TestExposeLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	nsK, nsS := kubetest.PrefixNamespace(t, env, "ek-"), kubetest.PrefixNamespace(t, env, "es-")
	createDeploys(t, env, nsK, "api", "web")
	createDeploys(t, env, nsS, "api", "web")
	runOpSteps(t, env, nsK, nsS, []opStep{
		{"expose deploy/web", `k8s.expose("deploy/web")`},
		{"expose deploy/api --port=8080 --target-port=80 --name=api-np --type=NodePort --labels=x=y", `k8s.expose("deploy/api", 8080, target_port=80, name="api-np", type="NodePort", labels={"x": "y"})`},
		{"expose svc/web --name=web2 --port=90 --target-port=http --session-affinity=ClientIP", `k8s.expose(k8s.get("svc", "web"), port="90", target_port="http", name="web2", session_affinity="ClientIP")`},
		{"expose deploy/web --name=web3 --port=81,82 --protocol=UDP --selector=app=web,x=y", `k8s.expose("deploy/web", [81, 82], name="web3", protocol="UDP", selector={"app": "web", "x": "y"})`},
		{"expose deploy/web --name=headless --cluster-ip=None --port=80", `k8s.expose("deploy/web", 80, name="headless", cluster_ip="None")`},
		{"expose deploy/web", `k8s.expose("deploy/web")`},
		{"expose deploy/web --name=dry --port=80 --dry-run=server", `k8s.expose("deploy/web", 80, name="dry", dry_run=True)`},
	})
	same := [][]string{{"metadata", "labels"}, {"spec", "selector"}, {"spec", "type"}, {"spec", "sessionAffinity"}}
	sameObjects(t, env, nsK, nsS, "services", []string{"web", "web2", "web3", "headless", "api-np"}, same...)
	sameObjects(t, env, nsK, nsS, "services", []string{"web", "web2", "web3", "headless"}, []string{"spec", "ports"})
	c := e2eClient(t, env, "sandbox")
	if _, err := c.Get(context.Background(), "services", "dry", nsS); err == nil {
		t.Error("dry_run=True created the service")
	}
}

// TestOperateSafetyE2E: k8s.label, k8s.annotate, k8s.set_* and k8s.expose go
// through the safety policy: refused in a read-only session (nothing
// changes), server dry runs with --dry-run (announced so, nothing changes).
func TestOperateSafetyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	createDeploys(t, env, env.Namespace, "web")
	c := e2eClient(t, env, "sandbox")
	calls := `[
    lambda: k8s.label("deploy/web", {"x": "1"}),
    lambda: k8s.annotate("deploy", {"x": "1"}, selector="app=web"),
    lambda: k8s.set_image("deploy/web", "nginx:2"),
    lambda: k8s.set_env(["deploy/web"], {"X": "1"}),
    lambda: k8s.set_resources("deploy/web", limits={"cpu": "1"}),
    lambda: k8s.expose("deploy/web", 80),
]`
	runSession(t, &Session{Cluster: c, ReadOnly: true}, `
for f, what in zip(`+calls+`, ["label deploy/web", "annotate every deploy matching app=web", "set the image of deploy/web",
        "set the env of deploy/web", "set the resources of deploy/web", "expose deploy/web"]):
    assert.fails(f, 'context "sandbox" is read-only \\(--read-only\\): refusing to ' + what)
`, nil)
	_, announced := runSession(t, &Session{Cluster: c, DryRun: true}, `
for f in `+calls+`:
    f()
`, nil)
	want := "deployment.apps/web labeled (server dry run)\ndeployment.apps/web annotated (server dry run)\n" +
		"deployment.apps/web image updated (server dry run)\ndeployment.apps/web env updated (server dry run)\n" +
		"deployment.apps/web resource requirements updated (server dry run)\nservice/web exposed (server dry run)\n"
	if announced != want {
		t.Errorf("announced:\n%s\nwant:\n%s", announced, want)
	}
	runStar(t, c, `
d = k8s.get("deploy", "web")
assert.eq("x" in d.metadata.labels, False)
assert.eq(d.metadata.get("annotations", {}).get("x"), None)
assert.eq(d.spec.template.spec.containers[0].image, "nginx")
assert.eq(k8s.get("svc", "web", default=None), None)
`)
}
