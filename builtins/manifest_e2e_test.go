package builtins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/lib/yaml"
)

// kubectl runs the sandbox's kubectl on env's cluster and namespace; it
// returns stdout, stderr and the exit code.
func kubectl(t testing.TB, env *kubetest.Env, args ...string) (string, string, int) {
	t.Helper()
	return kubectlIn(t, env, env.Namespace, args...)
}

// kubectlIn is kubectl in namespace ns; "" for the context's.
func kubectlIn(t testing.TB, env *kubetest.Env, ns string, args ...string) (string, string, int) {
	t.Helper()
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no sandbox kubectl: %v", err)
	}
	all := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox"}
	if ns != "" {
		all = append(all, "-n", ns)
	}
	all = append(all, args...)
	cmd := exec.Command(bin, all...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// starFiles runs src (NS replaced by env's namespace) with relative paths
// read from dir; it returns what it printed to stderr.
func starFiles(t *testing.T, env *kubetest.Env, dir, src string) string {
	t.Helper()
	var stderr strings.Builder
	thread := &starlark.Thread{Name: t.Name(), Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
		return starlarktest.LoadAssertModule()
	}}
	starlarktest.SetReporter(thread, t)
	SetSession(thread, &Session{Cluster: e2eClient(t, env, "sandbox"), File: file.Options{Dir: dir}, Sys: sys.Options{Stderr: &stderr}})
	sys.SetContext(thread, context.Background())
	src = "load('assert.star', 'assert')\n" + strings.ReplaceAll(src, "NS", env.Namespace)
	if _, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, Globals(nil)); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return stderr.String()
}

const manifestsDir = "testdata/manifests"

// TestManifestDirListE2E: a directory is read as kubectl apply -f DIR reads
// it (its .yaml, .yml and .json files, not subdirectories), kind: List
// documents (nested too) stand for their items, in apply, diff, create and
// delete; kubectl get -f DIR finds the same objects.
func TestManifestDirListE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	starFiles(t, env, manifestsDir, `
def kind_name(o):
    return o.kind + "/" + o.metadata.name

l = k8s.apply("dir/")
assert.eq([kind_name(o) for o in l], ["ConfigMap/plain-a", "Secret/plain-s", "ConfigMap/list-one", "ConfigMap/list-two", "ConfigMap/json-c"])
assert.eq(k8s.diff("dir/"), "")
assert.true(not k8s.exists("cm", "in-subdir"))
# one file of one document is one object; a directory is a list
assert.eq(type(k8s.apply("dir/c.json")), "k8s.object")

# a List given as a dict or text, in apply, diff and create; nested Lists
# too (kubectl refuses those: "*unstructured.Unstructured is not a list")
lst = {"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-dict"}, "data": {"k": "d"}},
    {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nested"}}]}]}
assert.eq([o.metadata.name for o in k8s.apply(lst)], ["from-dict", "nested"])
assert.eq(k8s.diff(yaml.encode(lst)), "")
created = k8s.create({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "created"}}]})
assert.eq(created.metadata.name, "created")
assert.eq(k8s.delete(lst), ["configmap/from-dict", "configmap/nested"])
assert.eq(k8s.delete({"apiVersion": "v1", "kind": "List", "items": [created]}), ["configmap/created"])
`)
	out, stderr, code := kubectl(t, env, "get", "-f", filepath.Join(manifestsDir, "dir"), "-o", "name")
	if code != 0 {
		t.Fatalf("kubectl get -f dir: exit %d: %s", code, stderr)
	}
	if want := "configmap/plain-a\nsecret/plain-s\nconfigmap/list-one\nconfigmap/list-two\nconfigmap/json-c\n"; out != want {
		t.Errorf("kubectl get -f dir:\n%s\nwant\n%s", out, want)
	}
	starFiles(t, env, manifestsDir, `
assert.eq(k8s.delete("dir/", wait=True), ["configmap/plain-a", "secret/plain-s", "configmap/list-one", "configmap/list-two", "configmap/json-c"])
`)
	if out, stderr, code := kubectl(t, env, "get", "-f", filepath.Join(manifestsDir, "dir"), "-o", "name", "--ignore-not-found"); code != 0 || out != "" {
		t.Errorf("after k8s.delete: kubectl get -f dir: exit %d, %q %s", code, out, stderr)
	}
}

// TestKustomizeE2E: k8s.kustomize builds the objects kubectl kustomize
// prints (name prefix, common labels, a generated ConfigMap with its hash
// suffix), and k8s.apply("overlay/") applies what kubectl apply -k would.
func TestKustomizeE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	dir := filepath.Join(manifestsDir, "kustomize", "overlay")
	out, stderr, code := kubectl(t, env, "kustomize", dir)
	if code != 0 {
		t.Fatalf("kubectl kustomize: exit %d: %s", code, stderr)
	}
	want, err := yaml.DecodeDocuments(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("kubectl kustomize built %d objects, want 3", len(want))
	}
	thread := &starlark.Thread{Name: t.Name()}
	SetSession(thread, &Session{File: file.Options{Dir: manifestsDir}})
	got, err := starlark.Call(thread, K8s.Members["kustomize"], starlark.Tuple{starlark.String("kustomize/overlay")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotList []any
	for v := range got.(*starlark.List).Elements() {
		gotList = append(gotList, v.(*Object).Map())
	}
	if d := cmp.Diff(want, gotList); d != "" {
		t.Errorf("k8s.kustomize vs kubectl kustomize (-kubectl +k8sh):\n%s", d)
	}
	if !strings.HasPrefix(gotList[0].(map[string]any)["metadata"].(map[string]any)["name"].(string), "prod-settings-") {
		t.Errorf("no generated ConfigMap first: %v", gotList[0])
	}

	starFiles(t, env, manifestsDir, `
l = k8s.apply("kustomize/overlay/")
assert.eq([o.kind for o in l], ["ConfigMap", "Service", "Deployment"])
assert.eq(l[2].metadata.name, "prod-web")
assert.eq(l[2].metadata.labels.env, "prod")
assert.true(l[0].metadata.name.startswith("prod-settings-"))
assert.eq(l[2].spec.template.spec.containers[0].envFrom[0].configMapRef.name, l[0].metadata.name)
# (a Deployment's status moves on meanwhile: the diff of the others)
assert.eq(k8s.diff([o for o in k8s.kustomize("kustomize/overlay") if o.kind != "Deployment"]), "")
assert.fails(lambda: k8s.kustomize("dir"), "k8s.kustomize: dir: no kustomization.yaml, kustomization.yml or Kustomization in the directory")
assert.fails(lambda: k8s.kustomize("nowhere"), "k8s.kustomize: the path \"nowhere\" does not exist")
`)
	if out, stderr, code := kubectl(t, env, "diff", "-k", dir); code != 0 {
		t.Errorf("kubectl diff -k after k8s.apply: exit %d\n%s%s", code, out, stderr)
	}
}

// sharedManifest is the path of a file of ../shared/manifests (relative to
// the repository's root); the test skips when it is absent.
func sharedManifest(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "shared", "manifests", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no shared manifest: %v", err)
	}
	return p
}

// deleteIngressNginx: k8s.delete(FILE, wait=True) of what kubectl
// applied (ingress-nginx: its own Namespace, cluster-scoped RBAC, an
// IngressClass, a webhook configuration) leaves none of the file's objects:
// kubectl get -f FILE finds nothing.
//
// It runs in the sandbox of TestDeleteSharedManifestsE2E: its webhook
// configuration would refuse every Ingress of the shared sandbox meanwhile.
func deleteIngressNginx(t *testing.T, env *kubetest.Env) {
	path := sharedManifest(t, "ingress-nginx-cloud-deploy.yaml")
	if _, stderr, code := kubectlIn(t, env, "", "apply", "--server-side", "--force-conflicts", "-f", path); code != 0 {
		t.Fatalf("kubectl apply: exit %d: %s", code, stderr)
	}
	t.Cleanup(func() { kubectlIn(t, env, "", "delete", "--ignore-not-found", "--wait=false", "-f", path) })
	starFiles(t, env, "", `
path = "`+path+`"
def k8s_name(o):
    return o["kind"].lower() + "/" + o["metadata"]["name"]
# Its two Jobs have ttlSecondsAfterFinished: 0: they may be gone already.
names = k8s.delete(path, wait=True, missing_ok=True)
assert.eq([n for n in names if not n.startswith("job/")], [n for n in [k8s_name(o) for o in yaml.decode_all(file.read(path))] if not n.startswith("job/")])
assert.eq(names[0], "namespace/ingress-nginx")
assert.true("deployment/ingress-nginx-controller" in names, names)  # one namespace: no prefix
# again: the namespaced objects went with their namespace, the rest are missing
assert.eq(k8s.delete(path, missing_ok=True), [])
`)
	out, stderr, code := kubectlIn(t, env, "", "get", "-f", path, "-o", "name", "--ignore-not-found")
	if code != 0 || out != "" {
		t.Errorf("after k8s.delete(wait=True): kubectl get -f: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := kubectlIn(t, env, "", "get", "-f", path, "-o", "name"); code == 0 || strings.Count(stderr, "NotFound") != 19 {
		t.Errorf("kubectl get -f: exit %d, want 19 NotFound:\n%s", code, stderr)
	}
}

// TestDeleteGoneNamespaceE2E: objects whose namespace is gone are deleted,
// not missing; an object missing from a namespace that exists is an error,
// and the others are still deleted.
func TestDeleteGoneNamespaceE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := "m16-" + env.Namespace
	starFiles(t, env, "", `
ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "`+ns+`"}}
cms = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c%d" % i, "namespace": "`+ns+`"}} for i in range(3)]
k8s.apply(ns)
k8s.apply(cms)
assert.eq(k8s.delete(ns, wait=True), ["`+ns+`"])
assert.eq(k8s.delete(cms, wait=True), ["configmap/c0", "configmap/c1", "configmap/c2"])

k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "here"}})
r = catch(k8s.delete, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "here"}},
                       {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent"}}])
assert.eq(r.error, 'k8s.delete: 1 of 2 objects failed: NS/configmap/absent: configmaps "absent" not found in namespace "NS" (NotFound)')
assert.true(not k8s.exists("cm", "here"))
`)
}

// TestDuplicateObjectE2E: the same object twice in one call: the last one
// is applied, as kubectl apply leaves it, and a warning names both.
func TestDuplicateObjectE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	dir := t.TempDir()
	text := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\ndata:\n  k: first\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: twice\ndata:\n  k: last\n"
	if err := os.WriteFile(filepath.Join(dir, "twice.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr := starFiles(t, env, dir, `
for i in range(5):
    l = k8s.apply("twice.yaml")
    assert.eq([o.metadata.name for o in l], ["other", "twice"])
    assert.eq(k8s.get("cm", "twice").data.k, "last")
# the same content twice is no warning
k8s.apply([l[0], l[0]])
`)
	want := "Warning: k8s.apply: configmap/twice is given twice (twice.yaml document 1 at line 1 and twice.yaml document 3 at line 13): the last one is used\n"
	if stderr != strings.Repeat(want, 5) {
		t.Errorf("stderr:\n%s\nwant 5 times:\n%s", stderr, want)
	}
	kubectl(t, env, "delete", "cm", "twice")
	if _, stderr, code := kubectl(t, env, "apply", "--server-side", "-f", filepath.Join(dir, "twice.yaml")); code != 0 {
		t.Fatalf("kubectl apply: exit %d: %s", code, stderr)
	}
	if out, _, _ := kubectl(t, env, "get", "cm", "twice", "-o", "jsonpath={.data.k}"); out != "last" {
		t.Errorf("kubectl apply left data.k = %q, want last", out)
	}
}

// TestManifestErrorsE2E: a YAML error names the file, the document, its
// kind and name and the line in the file (kubectl names the line in the
// document), and nothing of the file is applied.
func TestManifestErrorsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	_, stderr, code := kubectl(t, env, "apply", "--dry-run=server", "-f", filepath.Join(manifestsDir, "bad.yaml"))
	if want := "error: error parsing testdata/manifests/bad.yaml: error converting YAML to JSON: yaml: line 6: did not find expected ',' or ']'\n"; code != 1 || !strings.HasSuffix(stderr, want) {
		t.Errorf("kubectl: exit %d, stderr %q, want it to end in %q", code, stderr, want)
	}
	starFiles(t, env, manifestsDir, `
err = "error parsing bad.yaml: document 2 (ConfigMap broken): yaml: line 11: did not find expected ',' or ']'"
for f in [k8s.apply, k8s.diff, k8s.delete, k8s.create]:
    assert.fails(lambda: f("bad.yaml"), "^k8s.[a-z]+: " + err.replace("(", "\\(").replace(")", "\\)").replace("[", "\\[").replace("]", "\\]") + "$")
assert.true(not k8s.exists("cm", "good"))
assert.fails(lambda: k8s.apply("missing.yaml"), '^k8s.apply: the path "missing.yaml" does not exist$')
assert.fails(lambda: k8s.apply("dir/sub"), '^k8s.apply: got "dir/sub": not a path \\(a path must end in "/", ".yaml", ".yml" or ".json"\\) nor YAML text of objects$')
assert.fails(lambda: k8s.apply("dir/sub/../README.md/"), "not a directory")
assert.fails(lambda: k8s.apply("kustomize/"), "no objects in the directory's .yaml, .yml and .json files")
assert.fails(lambda: k8s.apply(["dir/c.json", 3]), "^k8s.apply: item 1: got int")
assert.fails(lambda: k8s.apply({"apiVersion": "v1", "kind": "List", "items": [1]}), "^k8s.apply: the object: List item 0 is a int, want a mapping$")
# a kind ending in List without items is an object, not an empty List
assert.fails(lambda: k8s.apply({"apiVersion": "v1", "kind": "AllowList", "metadata": {"name": "a"}}), 'allowlist/a: the server doesn.t have a resource type "AllowList"')
`)
}

// TestSharedListAndKustomizationE2E: the real manifests: a kind: List file
// (jaeger, one item in a version no server serves) applies its other items
// as kubectl does, and kube-state-metrics' directory with a
// kustomization.yaml builds to the objects kubectl kustomize prints.
func TestSharedListAndKustomizationE2E(t *testing.T) {
	list := sharedManifest(t, "jaeger-all-in-one-list.yaml")
	ksm := sharedManifest(t, "kube-state-metrics-standard")
	env := kubetest.Sandbox(t)
	starFiles(t, env, "", `
r = catch(k8s.apply, "`+list+`")
assert.true(r.error.startswith("k8s.apply: 1 of 5 objects failed: deployment/jaeger: the server doesn't have a resource type \"Deployment\" in extensions/v1beta1"), r.error)
assert.eq(len(k8s.list("svc")), 4)
`)
	// (kubectl get -f of this file fails whole, on the Deployment's version)
	k8shOut, _, _ := kubectl(t, env, "get", "svc", "-o", "name")
	kubectl(t, env, "delete", "svc", "--all")
	_, stderr, code := kubectl(t, env, "apply", "--server-side", "-f", list)
	if code != 1 || !strings.Contains(stderr, `no matches for kind "Deployment" in version "extensions/v1beta1"`) {
		t.Errorf("kubectl apply: exit %d: %s", code, stderr)
	}
	kubectlOut, _, _ := kubectl(t, env, "get", "svc", "-o", "name")
	if k8shOut != kubectlOut || strings.Count(k8shOut, "service/") != 4 {
		t.Errorf("kubectl get -f after k8s.apply:\n%s\nafter kubectl apply:\n%s", k8shOut, kubectlOut)
	}

	out, stderr, code := kubectl(t, env, "kustomize", ksm)
	if code != 0 {
		t.Fatalf("kubectl kustomize: exit %d: %s", code, stderr)
	}
	want, err := yaml.DecodeDocuments(out)
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: t.Name()}
	SetSession(thread, &Session{})
	got, err := starlark.Call(thread, K8s.Members["kustomize"], starlark.Tuple{starlark.String(ksm)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotList []any
	for v := range got.(*starlark.List).Elements() {
		gotList = append(gotList, v.(*Object).Map())
	}
	if len(want) != 5 {
		t.Errorf("kubectl kustomize built %d objects, want 5", len(want))
	}
	if d := cmp.Diff(want, gotList); d != "" {
		t.Errorf("k8s.kustomize vs kubectl kustomize (-kubectl +k8sh):\n%s", d)
	}
}

// TestDeleteSharedManifestsE2E: for real install manifests (CRDs, their
// own Namespaces, cluster-scoped RBAC, objects without a namespace), k8s.delete(FILE, wait=True) of what kubectl
// applied leaves nothing that kubectl get -f FILE finds. It runs in a
// sandbox of its own: the CRDs it makes and deletes would come and go under
// the tests of other packages that read every kind of the shared one.
func TestDeleteSharedManifestsE2E(t *testing.T) {
	sharedManifest(t, "ingress-nginx-cloud-deploy.yaml")
	env := kubetest.PrivateSandbox(t)
	t.Run("ingress-nginx-cloud-deploy.yaml", func(t *testing.T) { deleteIngressNginx(t, env) })
	// ns: the namespace kubectl runs in, "" where the file names its own.
	// On a loaded machine the server's CRD cleanup can take minutes: hence
	// the generous timeout.
	for _, f := range []struct{ name, ns string }{
		{"istio-crd-all.yaml", ""},
		{"argocd-install.yaml", env.Namespace}, {"prometheus-operator-bundle.yaml", ""},
	} {
		t.Run(f.name, func(t *testing.T) {
			path := sharedManifest(t, f.name)
			if _, stderr, code := kubectlIn(t, env, f.ns, "apply", "--server-side", "--force-conflicts", "-f", path); code != 0 {
				t.Fatalf("kubectl apply: exit %d: %s", code, stderr)
			}
			t.Cleanup(func() { kubectlIn(t, env, f.ns, "delete", "--ignore-not-found", "--wait=false", "-f", path) })
			starFiles(t, env, "", `
n = len([d for d in yaml.decode_all(file.read(`+starlark.String(path).String()+`))])
names = k8s.delete(`+starlark.String(path).String()+`, wait=True, timeout="5m")
assert.eq(len(names), n)
`)
			out, stderr, code := kubectlIn(t, env, f.ns, "get", "-f", path, "-o", "name", "--ignore-not-found")
			if code != 0 || out != "" {
				t.Errorf("after k8s.delete(wait=True): kubectl get -f: exit %d\n%s%s", code, out, stderr)
			}
		})
	}
	// metrics-server's objects overlap the sandbox's own metrics-server
	// (kube-system/metrics-server, the APIService): a first kubectl round
	// deletes those, so that kubectl's round and k8sh's start alike.
	t.Run("metrics-server-components.yaml", func(t *testing.T) { deleteLikeKubectl(t, env, "metrics-server-components.yaml", true) })
	// metallb-native.yaml is left out again: its CRDs' cleanup stayed in
	// "storage is (re)initializing" past k8s.delete's 60 s in two CI runs
	// of session 6 (kube-apiserver's, not k8sh's: kubectl's round needs an
	// apiserver restart above to get past it too).
	t.Run("knative-serving-core.yaml", func(t *testing.T) { deleteLikeKubectl(t, env, "knative-serving-core.yaml", false) })
}

// deleteLikeKubectl applies the file name with kubectl (twice, so that
// custom resources placed before their CRD are created where the server
// lets them), deletes it with kubectl delete --wait, applies it again and
// deletes it with k8s.delete(wait=True): k8sh deletes every object that
// exists (all of them, also those kubectl fails on: a custom resource
// after its CRD in the file, which kubectl deletes after the CRD), fails
// naming each that does not (knative's webhooks refuse some of its own,
// as they would where its webhook Pods are not up yet), and leaves
// nothing of what it deleted. An object a controller makes again right
// after (the ClusterRole aggregation controller server-side applies an
// aggregated ClusterRole it was updating) is a successor with another UID:
// k8s.delete, as kubectl, waits for the object it deleted, not its name.
// One thing can stay for both: kube-apiserver's CRD cleanup sometimes
// finds the CRD's storage "(re)initializing" right after the CRD changed
// and then retries only after minutes (seen on 1.37 with metallb and
// knative); the timeout error must then name the CRD, the finalizer and
// that condition, and the test restarts kube-apiserver to let the cleanup
// go on.
func deleteLikeKubectl(t *testing.T, env *kubetest.Env, name string, warmup bool) {
	path := sharedManifest(t, name)
	t.Cleanup(func() { kubectlIn(t, env, "", "delete", "--ignore-not-found", "--wait=false", "-f", path) })
	// live: the file's objects that exist, "kind/name" (kind in lower
	// case, as k8s.delete names them) to UID.
	live := func() map[string]string {
		out, stderr, code := kubectlIn(t, env, "", "get", "-f", path, "--ignore-not-found", "-o",
			`jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.uid}{"\n"}{end}`)
		if code != 0 {
			t.Fatalf("kubectl get -f: exit %d: %s", code, stderr)
		}
		m := map[string]string{}
		for _, l := range strings.Fields(out) {
			o, uid, _ := strings.Cut(l, "=")
			k, n, _ := strings.Cut(o, "/")
			m[strings.ToLower(k)+"/"+n] = uid
		}
		return m
	}
	apply := func() map[string]string {
		for range 2 {
			kubectlIn(t, env, "", "apply", "--server-side", "--force-conflicts", "-f", path)
		}
		return live()
	}
	// left: those of deleted still there as the same objects.
	left := func(deleted map[string]string) []string {
		var out []string
		for o, uid := range live() {
			if deleted[o] == uid {
				out = append(out, o)
			}
		}
		slices.Sort(out)
		return out
	}
	// gone waits until nothing of deleted is left, restarting
	// kube-apiserver when its CRD cleanup is held (see above).
	gone := func(deleted map[string]string) {
		restarted := false
		for start := time.Now(); len(left(deleted)) > 0; time.Sleep(time.Second) {
			switch {
			case time.Since(start) > 3*time.Minute:
				t.Fatalf("still there 3 minutes after the delete: %v", left(deleted))
			case time.Since(start) > 20*time.Second && !restarted:
				kubetest.RestartAPIServer(t, env)
				restarted = true
			}
		}
	}
	if warmup {
		before := apply()
		kubectlIn(t, env, "", "delete", "--ignore-not-found", "--wait=false", "-f", path)
		gone(before)
	}
	byKubectl := apply()
	_, kstderr, kcode := kubectlIn(t, env, "", "delete", "--wait", "--timeout=60s", "-f", path)
	// kubectl does not wait when a delete failed: let what it deleted go
	// before the second round.
	for _, o := range left(byKubectl) {
		t.Logf("left by kubectl delete --wait (exit %d): %s", kcode, o)
	}
	gone(byKubectl)
	byK8sh := apply()
	// kubectl's applies of a file with webhooks that fail closed can make
	// less on a slow server (knative-serving-core once lacked its
	// namespaced objects in CI): apply again before comparing.
	for i := 0; i < 3 && !slices.Equal(slices.Sorted(maps.Keys(byKubectl)), slices.Sorted(maps.Keys(byK8sh))); i++ {
		t.Logf("the second round's apply made %d objects, the first %d: applying again", len(byK8sh), len(byKubectl))
		time.Sleep(2 * time.Second)
		byK8sh = apply()
	}
	if !slices.Equal(slices.Sorted(maps.Keys(byKubectl)), slices.Sorted(maps.Keys(byK8sh))) {
		t.Fatalf("the two applies made different objects:\nkubectl's round: %v\nk8sh's round: %v", slices.Sorted(maps.Keys(byKubectl)), slices.Sorted(maps.Keys(byK8sh)))
	}
	results := filepath.Join(t.TempDir(), "results.json")
	starFiles(t, env, "", `
r = catch(k8s.delete, `+starlark.String(path).String()+`, wait=True, timeout="60s")
file.write(`+starlark.String(results).String()+`, json.encode({"names": r.value or [], "error": r.error or ""}))
`)
	var got struct {
		Names []string
		Error string
	}
	raw, err := os.ReadFile(results)
	if err != nil || json.Unmarshal(raw, &got) != nil {
		t.Fatalf("results: %v %s", err, raw)
	}
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, missing := 0, []string{}
	for _, d := range strings.Split(string(f), "\n---") {
		var m struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if sigsyaml.Unmarshal([]byte(d), &m) != nil || m.Kind == "" {
			continue
		}
		docs++
		if o := strings.ToLower(m.Kind) + "/" + m.Metadata.Name; byK8sh[o] == "" {
			missing = append(missing, o)
		}
	}
	stays := left(byK8sh)
	switch failed := fmt.Sprintf("k8s.delete: %d of %d objects failed: ", len(missing)+len(stays), docs); {
	case len(missing)+len(stays) == 0 && got.Error != "":
		t.Errorf("k8s.delete failed though every object existed and is gone: %s", got.Error)
	case got.Error == "" && len(got.Names) != len(byK8sh):
		t.Errorf("k8s.delete deleted %d objects, %d existed:\n%v", len(got.Names), len(byK8sh), got.Names)
	case len(missing)+len(stays) > 0 && !strings.HasPrefix(got.Error, failed):
		t.Errorf("k8s.delete failed with\n%s\nwant it to start %q (missing before: %v, left after: %v)", got.Error, failed, missing, stays)
	}
	for _, m := range missing {
		if !strings.Contains(got.Error, m+": ") || !strings.Contains(kstderr, "NotFound") {
			t.Errorf("%s did not exist: want it named in k8s.delete's error (%s) and a NotFound from kubectl (exit %d: %s)", m, got.Error, kcode, kstderr)
		}
	}
	if len(missing) > 0 && kcode == 0 {
		t.Errorf("kubectl delete exit 0 with objects missing: %v", missing)
	}
	for _, o := range stays {
		k, n, _ := strings.Cut(o, "/")
		want := "customresourcedefinition/" + n + ": still there after 1m0s, held by finalizers customresourcecleanup.apiextensions.k8s.io (InstanceDeletionFailed: could not list instances: storage is (re)initializing)"
		if k != "customresourcedefinition" || !strings.Contains(got.Error, want) {
			t.Errorf("left after k8s.delete(wait=True): %s; its error: %s", o, got.Error)
			continue
		}
		t.Logf("kube-apiserver's CRD cleanup held %s; k8s.delete said: %s", o, want)
	}
	gone(byK8sh)
}
