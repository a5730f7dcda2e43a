package builtins

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/lib/yaml"
)

// kubectl runs the sandbox's kubectl on env's cluster and namespace; it
// returns stdout, stderr and the exit code.
func kubectl(t testing.TB, env *kubetest.Env, args ...string) (string, string, int) {
	t.Helper()
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no sandbox kubectl: %v", err)
	}
	all := append([]string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "-n", env.Namespace}, args...)
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
