package main

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// jobScript reads, changes (in the trial run, as dry runs), scales, runs a
// command in a pod and lists nodes; a module it loads loads another.
var jobScript = map[string]string{
	"check_web.star": `load("lib/util.star", "names")
pods = k8s.list("pods", selector="app=web")
print("pods:", names(pods))
k8s.get("configmap", "settings")
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "report"}, "data": {"n": str(len(pods))}})
k8s.scale("deploy", "web", 2)
k8s.exec(pods[0], ["true"])
print("nodes:", len(k8s.list("nodes")) > 0)
print("args:", sys.argv[1:])
`,
	"lib/util.star": "load('more.star', 'sep')\ndef names(objs):\n    return sep.join([o.metadata.name for o in objs])\n",
	"lib/more.star": "sep = ','\n",
}

// TestJobE2E: k8sh job derives the rules of a script from a trial run that
// changes nothing; --dry-run prints the objects as kubectl prints them
// (kubectl create --dry-run=client -o yaml reads them back to the same
// bytes) and the server accepts them (kubectl apply --dry-run=server); the
// real run applies them and names them as kubectl apply --server-side does;
// the Job's pod runs k8sh /scripts/NAME.star args with the script mounted;
// and the ServiceAccount may do exactly what the script did (kubectl auth
// can-i as the ServiceAccount), nothing else.
func TestJobE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	ns := env.Namespace
	k := env.Kubectl(t)
	pod := kubetest.CreateWeb(t, env, ns)
	k.Must(t, "", "create", "configmap", "settings", "--from-literal=a=1")
	clusterName := "k8sh:" + ns + ":check-web"
	t.Cleanup(func() {
		k.Run("", "delete", "clusterrole,clusterrolebinding", clusterName, "--ignore-not-found")
	})
	dir := t.TempDir()
	writeFiles(t, dir, jobScript)
	cfg := []string{"XDG_CONFIG_HOME=" + t.TempDir(), "K8SH_PATH="}
	base := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "job", filepath.Join(dir, "check_web.star"), "one", "-n", ns, "--image", "k8sh:test"}

	dry := k8sh(t, "", cfg, append(base, "--dry-run", "--", "--two")...)
	if dry.Code != 0 {
		t.Fatalf("k8sh job --dry-run: %+v", dry)
	}
	// The trial run printed its output on stderr, then the rules.
	for _, want := range []string{"pods: " + pod + "\n", "nodes: True\n", `args: ["one", "--two"]` + "\n", "exec in sandbox/" + ns + " pod/" + pod + ": true (dry run: not run)\n"} {
		if !strings.Contains(dry.Stderr, want) {
			t.Errorf("the trial run's output lacks %q:\n%s", want, dry.Stderr)
		}
	}
	// Nothing changed: the trial was a dry run.
	if out, _, code := k.Run("", "get", "configmap", "report"); code == 0 {
		t.Errorf("the trial run made configmap report: %s", out)
	}
	if out := k.Must(t, "", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); out != "1" {
		t.Errorf("the trial run scaled web to %s", out)
	}

	// kubectl reads the YAML back to the same bytes, and the server takes it.
	if out, errOut, code := k.Run(dry.Stdout, "create", "-f", "-", "--dry-run=client", "-o", "yaml"); code != 0 || out != dry.Stdout {
		t.Errorf("kubectl create --dry-run=client -o yaml of k8sh's YAML: status %d %s\n%s", code, errOut, cmp.Diff(dry.Stdout, out))
	}
	if _, errOut, code := k.Run(dry.Stdout, "apply", "--server-side", "--dry-run=server", "-f", "-"); code != 0 {
		t.Errorf("kubectl apply --dry-run=server: status %d: %s", code, errOut)
	}
	objs := decodeAll(t, dry.Stdout)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind+"/"+o.Name)
	}
	wantKinds := []string{"ServiceAccount/check-web", "Role/check-web", "RoleBinding/check-web",
		"ClusterRole/" + clusterName, "ClusterRoleBinding/" + clusterName, "ConfigMap/check-web", "Job/check-web"}
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("the objects (-want +got):\n%s", diff)
	}

	// The rules: exactly what the script did.
	var role rbacv1.Role
	var clusterRole rbacv1.ClusterRole
	var job batchv1.Job
	var cm corev1.ConfigMap
	for _, o := range objs {
		switch o.Kind {
		case "Role":
			unmarshal(t, o.data, &role)
		case "ClusterRole":
			unmarshal(t, o.data, &clusterRole)
		case "Job":
			unmarshal(t, o.data, &job)
		case "ConfigMap":
			unmarshal(t, o.data, &cm)
		}
	}
	rule := func(group string, resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
	}
	wantRole := []rbacv1.PolicyRule{
		rule("", []string{"configmaps"}, "get", "create", "patch"),
		rule("", []string{"pods"}, "get", "list"),
		rule("", []string{"pods/exec"}, "get", "create"),
		rule("apps", []string{"deployments/scale"}, "patch"),
	}
	if diff := cmp.Diff(wantRole, role.Rules); diff != "" {
		t.Errorf("the Role's rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]rbacv1.PolicyRule{rule("", []string{"nodes"}, "list")}, clusterRole.Rules); diff != "" {
		t.Errorf("the ClusterRole's rules (-want +got):\n%s", diff)
	}

	// The pod: k8sh /scripts/check-web.star args, the script mounted there.
	spec := job.Spec.Template.Spec
	c := spec.Containers[0]
	if want := []string{"k8sh", "/scripts/check-web.star", "one", "--two"}; !cmp.Equal(c.Command, want) || c.Image != "k8sh:test" {
		t.Errorf("the container runs %q in %s; want %q in k8sh:test", c.Command, c.Image, want)
	}
	if spec.ServiceAccountName != "check-web" || spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("serviceAccountName %q, restartPolicy %q", spec.ServiceAccountName, spec.RestartPolicy)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || spec.SecurityContext.RunAsNonRoot == nil || !*spec.SecurityContext.RunAsNonRoot {
		t.Errorf("not non-root with a read-only root filesystem: %+v %+v", spec.SecurityContext, sc)
	}
	if len(c.VolumeMounts) == 0 || c.VolumeMounts[0].MountPath != "/scripts" || spec.Volumes[0].ConfigMap == nil || spec.Volumes[0].ConfigMap.Name != "check-web" {
		t.Errorf("the script is not mounted at /scripts: %+v %+v", c.VolumeMounts, spec.Volumes)
	}
	paths := map[string]string{}
	for _, it := range spec.Volumes[0].ConfigMap.Items {
		paths[it.Path] = cm.Data[it.Key]
	}
	for local, inPod := range map[string]string{"check_web.star": "check-web.star", "lib/util.star": "lib/util.star", "lib/more.star": "lib/more.star"} {
		if paths[inPod] != jobScript[local] {
			t.Errorf("/scripts/%s holds %q; want %s's text", inPod, paths[inPod], local)
		}
	}

	// The real run: applied, each object named as kubectl apply
	// --server-side names it (kubectl's own apply of the same YAML, after).
	got := k8sh(t, "", cfg, append(base, "--", "--two")...)
	if got.Code != 0 {
		t.Fatalf("k8sh job: %+v", got)
	}
	kout, kerr, kcode := k.Run(dry.Stdout, "apply", "--server-side", "-f", "-")
	if kcode != 0 || got.Stdout != kout {
		t.Errorf("k8sh job printed %q; kubectl apply --server-side of the same objects %q (status %d %s)", got.Stdout, kout, kcode, kerr)
	}
	// Again: the Job exists, and nothing is changed.
	again := k8sh(t, "", cfg, append(base, "--", "--three")...)
	if want := "k8sh job: job.batch/check-web exists in namespace " + ns + ", and a Job runs once: delete it first"; again.Code != 1 || !strings.HasPrefix(again.Stderr, want) || again.Stdout != "" {
		t.Errorf("k8sh job of a Job that exists: %+v; want status 1 and %q", again, want)
	}
	live, err := env.Clientset.BatchV1().Jobs(ns).Get(context.Background(), "check-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lc := live.Spec.Template.Spec.Containers[0]; !cmp.Equal(lc.Command, c.Command) || live.Spec.Template.Spec.ServiceAccountName != "check-web" {
		t.Errorf("the Job in the cluster runs %q as %q", lc.Command, live.Spec.Template.Spec.ServiceAccountName)
	}

	// The Job's pod, with no pod: the ConfigMap's files where the pod has
	// them, k8sh run as the Job runs it, as the ServiceAccount with the
	// in-cluster config. The rules are enough: the script runs for real.
	scripts := t.TempDir()
	for _, it := range spec.Volumes[0].ConfigMap.Items {
		writeFiles(t, scripts, map[string]string{it.Path: cm.Data[it.Key]})
	}
	run := k8sh(t, "", podEnv(t, env, ns, "check-web"), append([]string{filepath.Join(scripts, "check-web.star")}, c.Command[2:]...)...)
	if want := "pods: " + pod + "\nnodes: True\nargs: [\"one\", \"--two\"]\n"; run.Code != 0 || !strings.HasSuffix(run.Stdout, want) {
		t.Errorf("the Job's command as its ServiceAccount: %+v; want status 0 and stdout ending %q", run, want)
	}
	if out := k.Must(t, "", "get", "configmap", "report", "-o", "jsonpath={.data.n}"); out != "1" {
		t.Errorf("configmap report holds n=%q; want 1", out)
	}
	if out := k.Must(t, "", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); out != "2" {
		t.Errorf("the run scaled web to %s; want 2", out)
	}

	// The ServiceAccount may do what the script did, and nothing else.
	as := "--as=system:serviceaccount:" + ns + ":check-web"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "pods"}, "yes"},
		{[]string{"get", "pods/" + pod}, "yes"},
		{[]string{"get", "configmaps/settings"}, "yes"},
		{[]string{"patch", "configmaps"}, "yes"},
		{[]string{"create", "configmaps"}, "yes"}, // k8s.apply creates what is not there
		{[]string{"patch", "deployments.apps/web", "--subresource=scale"}, "yes"},
		{[]string{"create", "pods/" + pod, "--subresource=exec"}, "yes"},
		{[]string{"list", "nodes"}, "yes"},
		// what it did not do
		{[]string{"delete", "pods"}, "no"},
		{[]string{"delete", "configmaps"}, "no"},
		{[]string{"list", "configmaps"}, "no"},
		{[]string{"get", "secrets"}, "no"},
		{[]string{"patch", "deployments.apps/web"}, "no"},
		{[]string{"get", "pods", "-n", "default"}, "no"},
		{[]string{"list", "pods", "-A"}, "no"},
		{[]string{"get", "nodes"}, "no"},
	} {
		out, _, _ := k.Run("", append([]string{"auth", "can-i", as}, tc.args...)...)
		if strings.TrimSpace(out) != tc.want {
			t.Errorf("kubectl auth can-i %s as the ServiceAccount: %q; want %s", strings.Join(tc.args, " "), strings.TrimSpace(out), tc.want)
		}
	}
}

// TestJobCronJobRulesFileE2E: with --schedule, a CronJob; with --rules, the
// rules of the file and no trial run (the script would fail if it ran).
func TestJobCronJobRulesFileE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	ns := env.Namespace
	k := env.Kubectl(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"nightly.star": "fail('not run here')\n",
		"rules.yaml":   "- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [list]\n",
	})
	cfg := []string{"XDG_CONFIG_HOME=" + t.TempDir()}
	got := k8sh(t, "", cfg, "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "job", filepath.Join(dir, "nightly.star"),
		"-n", ns, "--schedule", "*/5 * * * *", "--rules", filepath.Join(dir, "rules.yaml"), "--name", "nightly-check")
	want := "serviceaccount/nightly-check serverside-applied\n" +
		"role.rbac.authorization.k8s.io/nightly-check serverside-applied\n" +
		"rolebinding.rbac.authorization.k8s.io/nightly-check serverside-applied\n" +
		"configmap/nightly-check serverside-applied\n" +
		"cronjob.batch/nightly-check serverside-applied\n"
	if got.Code != 0 || got.Stdout != want || got.Stderr != "" {
		t.Fatalf("k8sh job --schedule --rules: %+v; want stdout %q", got, want)
	}
	cj, err := env.Clientset.BatchV1().CronJobs(ns).Get(context.Background(), "nightly-check", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cj.Spec.Schedule != "*/5 * * * *" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("schedule %q, concurrency %q", cj.Spec.Schedule, cj.Spec.ConcurrencyPolicy)
	}
	if cmd := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Command; !cmp.Equal(cmd, []string{"k8sh", "/scripts/nightly-check.star"}) {
		t.Errorf("the CronJob runs %q", cmd)
	}
	as := "--as=system:serviceaccount:" + ns + ":nightly-check"
	if out, _, _ := k.Run("", "auth", "can-i", as, "list", "pods"); strings.TrimSpace(out) != "yes" {
		t.Errorf("can-i list pods: %q", out)
	}
	if out, _, _ := k.Run("", "auth", "can-i", as, "get", "pods"); strings.TrimSpace(out) != "no" {
		t.Errorf("can-i get pods: %q", out)
	}
	// A trial run that fails ends k8sh job, creating nothing.
	got = k8sh(t, "", cfg, "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "job", filepath.Join(dir, "nightly.star"), "-n", ns, "--name", "other")
	if got.Code != 1 || !strings.Contains(got.Stderr, "fail: not run here\n") || !strings.Contains(got.Stderr, "k8sh job: the trial run of ") || got.Stdout != "" {
		t.Errorf("a failing trial run: %+v", got)
	}
	if _, _, code := k.Run("", "get", "serviceaccount", "other"); code == 0 {
		t.Error("a failing trial run made ServiceAccount other")
	}
}

// TestInClusterE2E: k8sh in a pod talks to its cluster as the pod's
// ServiceAccount, with no kubeconfig: KUBERNETES_SERVICE_HOST and _PORT,
// and the token, ca.crt and namespace files (a real token from the
// TokenRequest API) in the directory K8SH_SERVICEACCOUNT_DIR names in
// place of /var/run/secrets/kubernetes.io/serviceaccount. The namespace is
// the file's; the status is the script's.
func TestInClusterE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	ns := env.Namespace
	k := env.Kubectl(t)
	k.Must(t, "", "create", "serviceaccount", "runner")
	k.Must(t, "", "create", "role", "runner", "--verb=list", "--resource=configmaps")
	k.Must(t, "", "create", "rolebinding", "runner", "--role=runner", "--serviceaccount="+ns+":runner")
	k.Must(t, "", "create", "configmap", "hello", "--from-literal=a=1")
	podEnv := podEnv(t, env, ns, "runner")
	script := filepath.Join(t.TempDir(), "s.star")
	writeFiles(t, filepath.Dir(script), map[string]string{"s.star": `
print(k8s.whoami().username)
print([c.metadata.name for c in k8s.list("configmaps") if c.metadata.name == "hello"])
sys.exit(int(sys.argv[1]))
`})
	for _, code := range []int{0, 3} {
		got := k8sh(t, "", podEnv, script, string(rune('0'+code)))
		want := "system:serviceaccount:" + ns + ":runner\n[\"hello\"]\n"
		if got.Code != code || got.Stdout != want || got.Stderr != "" {
			t.Errorf("in the pod, exit %d: %+v; want stdout %q", code, got, want)
		}
	}
	// What the ServiceAccount may not do fails the script: status 1.
	got := k8sh(t, "", podEnv, "-c", `k8s.list("secrets")`)
	if got.Code != 1 || !strings.Contains(got.Stderr, `secrets is forbidden: User "system:serviceaccount:`+ns+`:runner" cannot list resource "secrets"`) {
		t.Errorf("a forbidden call: %+v", got)
	}
	// Without the token there, it is no pod: with no kubeconfig either,
	// client-go's default server, as kubectl.
	got = k8sh(t, "", append(podEnv, "K8SH_SERVICEACCOUNT_DIR="+t.TempDir()), "-c", `k8s.list("configmaps")`)
	if got.Code != 1 || !strings.Contains(got.Stderr, "the connection to the server localhost:8080 was refused") {
		t.Errorf("without a token: %+v", got)
	}
}

// podEnv is the environment of k8sh in a pod of ServiceAccount sa in ns,
// with no pod: the API server's address, and the token (from the
// TokenRequest API), ca.crt and namespace files in the directory
// K8SH_SERVICEACCOUNT_DIR names; no kubeconfig.
func podEnv(t *testing.T, env *kubetest.Env, ns, sa string) []string {
	t.Helper()
	token := strings.TrimSpace(env.Kubectl(t).Must(t, "", "create", "token", sa, "-n", ns, "--duration=10m"))
	dir := t.TempDir()
	ca := env.Config.CAData
	if len(ca) == 0 {
		var err error
		if ca, err = os.ReadFile(env.Config.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, dir, map[string]string{"token": token, "ca.crt": string(ca), "namespace": ns})
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // no ~/.kube/config
	return []string{"KUBERNETES_SERVICE_HOST=" + u.Hostname(), "KUBERNETES_SERVICE_PORT=" + u.Port(),
		"K8SH_SERVICEACCOUNT_DIR=" + dir, "KUBECONFIG=", "HOME=" + home, "XDG_CONFIG_HOME=" + home, "POD_NAMESPACE=", "K8SH_PATH="}
}

type decoded struct {
	metav1.TypeMeta
	Name string
	data []byte
}

// decodeAll splits a YAML stream into its objects.
func decodeAll(t *testing.T, stream string) []decoded {
	t.Helper()
	var out []decoded
	d := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(stream)))
	for {
		doc, err := d.Read()
		if err != nil {
			break
		}
		var o struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatal(err)
		}
		out = append(out, decoded{o.TypeMeta, o.Name, doc})
	}
	return out
}

func unmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatal(err)
	}
}
