package builtins

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/yaml"
)

// star fills NS in src with the test's namespace and runs it.
func star(t *testing.T, env *kubetest.Env, src string) string {
	t.Helper()
	c := e2eClient(t, env, "sandbox")
	return runStar(t, c, strings.ReplaceAll(src, "NS", env.Namespace))
}

func TestApplyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	star(t, env, `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}, "data": {"k": "v"}}
got = k8s.apply(cm)
assert.eq(type(got), "k8s.object")
assert.eq(got.metadata.namespace, "NS")
assert.eq(got.data.k, "v")
assert.eq(got.metadata.managedFields[0].manager, "k8sh")

# again, changed, from a k8s.object
o = k8s.get("configmap", "one")
o.data.k = "w"
assert.eq(k8s.apply(o).data.k, "w")

# YAML text with several documents: a list, in input order
text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
data: {x: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {x: "2"}
"""
l = k8s.apply(text)
assert.eq([o.metadata.name for o in l], ["b", "a"])

# a list of many, bounded concurrency, input order
many = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m%d" % i, "labels": {"set": "m"}}} for i in range(20)]
l = k8s.apply(many, parallel=3)
assert.eq([o.metadata.name for o in l], ["m%d" % i for i in range(20)])
assert.eq(len(k8s.list("cm", selector="set=m")), 20)

# dry run: validated, not persisted
d = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}, dry_run=True)
assert.eq(d.metadata.name, "dry")
assert.true(not k8s.exists("cm", "dry"))

# explicit namespace for objects that name none; cluster-scoped have none
assert.eq(k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n"}}, namespace="NS").metadata.namespace, "NS")
`)
}

func TestApplyConflictE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	star(t, env, `
def cm(v):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"k": v, "only-a": "x"}}
k8s.apply(cm("1"), field_manager="alice")
assert.fails(lambda: k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"k": "2"}}, field_manager="bob"),
    '^k8s.apply: configmap/shared: apply conflict: 1 field\\(s\\) owned by another manager: .data.k \\(conflict with "alice".*\\); apply with force=True to take ownership \\(Conflict\\)$')
assert.eq(k8s.get("cm", "shared").data.k, "1")
got = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"k": "2"}}, field_manager="bob", force=True)
assert.eq(got.data.k, "2")
assert.eq(got.data["only-a"], "x")
`)
}

func TestApplyBadInputE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	star(t, env, `
good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "good"}}
assert.fails(lambda: k8s.apply({"apiVersion": "v1", "metadata": {"name": "x"}}),
    "^k8s.apply: object/x: the object has no kind$")
assert.fails(lambda: k8s.apply({"apiVersion": "v1", "kind": "Frobnicator", "metadata": {"name": "x"}}),
    '^k8s.apply: frobnicator/x: the server doesn.t have a resource type "Frobnicator"')
assert.fails(lambda: k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Web_1"}}),
    "^k8s.apply: configmap/Web_1: .*RFC 1123")
assert.fails(lambda: k8s.apply("kind: [unclosed"), "^k8s.apply: invalid YAML: document 1: yaml: line 1: did not find expected")
assert.fails(lambda: k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": "many"}}),
    "^k8s.apply: deployment/web: .*replicas")
assert.fails(lambda: k8s.apply(42), "^k8s.apply: got int, want k8s.object, dict, list or YAML text")

# one call with good and bad objects: every failure listed, the good applied
r = catch(k8s.apply, [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_1"}},
    good,
    {"apiVersion": "v1", "kind": "Nope", "metadata": {"name": "n"}},
])
assert.true(r.error.startswith("k8s.apply: 2 of 3 objects failed: NS/configmap/Bad_1: "), r.error)
assert.true("; nope/n: the server doesn't have a resource type" in r.error, r.error)
assert.eq(len(r.error.split("\n")), 1)
assert.true(k8s.exists("cm", "good"))
`)
}

func TestCreateUpdateE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	star(t, env, `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "1"}}
got = k8s.create(cm)
assert.eq(got.metadata.namespace, "NS")
assert.fails(lambda: k8s.create(cm), 'k8s.create: configmap/c: configmaps "c" already exists')
g = k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
assert.true(g.metadata.name.startswith("gen-"))
assert.true(not k8s.exists("cm", "dry")) 
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}, dry_run=True)
assert.true(not k8s.exists("cm", "dry"))

# update honours resourceVersion: the second writer of a stale copy fails
a = k8s.get("cm", "c")
b = k8s.get("cm", "c")
a.data.k = "2"
assert.eq(k8s.update(a).data.k, "2")
b.data.k = "3"
assert.fails(lambda: k8s.update(b), "k8s.update: configmap/c: conflict: the object changed since it was read")
assert.eq(k8s.get("cm", "c").data.k, "2")
fresh = k8s.get("cm", "c")
fresh.data.k = "4"
assert.eq(k8s.update(fresh).data.k, "4")
assert.fails(lambda: k8s.update({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent"}}), 'k8s.update: configmap/absent: configmaps "absent" not found')
assert.fails(lambda: k8s.create("a: [1"), "k8s.create: invalid YAML")
`)
}

const deployment = `{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}`

func TestPatchScaleRestartE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	star(t, env, `
k8s.apply(`+deployment+`)
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}, "data": {"a": "1"}})

assert.eq(dict(k8s.patch("cm", "p", {"data": {"b": "2"}}).data), {"a": "1", "b": "2"})
assert.eq(dict(k8s.patch("cm", "p", '{"data": {"a": null}}').data), {"b": "2"})
assert.eq(dict(k8s.patch("cm", "p", [{"op": "add", "path": "/data/c", "value": "3"}], type="json").data), {"b": "2", "c": "3"})
assert.eq(k8s.patch("cm", "p", "data:\n  d: '4'\n", namespace="NS").data.d, "4")
got = k8s.patch("deploy", "web", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}, type="strategic")
assert.eq(got.spec.template.spec.containers[0].image, "nginx:2")
s = k8s.patch("deploy", "web", {"spec": {"replicas": 2}}, subresource="scale")
assert.eq(s.kind, "Scale")
assert.eq(k8s.get("deploy", "web").spec.replicas, 2)
st = k8s.patch("deploy", "web", {"status": {"conditions": [{"type": "K8shTest", "status": "True"}]}}, subresource="status")
assert.true("K8shTest" in [c.type for c in st.status.conditions])
assert.eq(k8s.patch("cm", "p", {"data": {"e": "5"}}, dry_run=True).data.e, "5")
assert.true("e" not in k8s.get("cm", "p").data)
assert.fails(lambda: k8s.patch("cm", "p", {}, type="xml"), 'k8s.patch: unknown patch type "xml"')
assert.fails(lambda: k8s.patch("cm", "nope", {"data": {}}), 'k8s.patch: configmap/nope: configmaps "nope" not found in namespace "NS"')
assert.fails(lambda: k8s.patch("cm", "p", [{"op": "frob"}], type="json"), "k8s.patch: configmap/p: ")

assert.eq(k8s.scale("deploy", "web", 3).spec.replicas, 3)
assert.eq(k8s.get("deploy", "web").spec.replicas, 3)
assert.fails(lambda: k8s.scale("cm", "p", 1), "k8s.scale: configmap/p: ")
assert.fails(lambda: k8s.scale("deploy", "web", -1), "k8s.scale: replicas must not be negative")

r = k8s.restart("deploy", "web")
at = r.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]
assert.true(at.startswith("20"), at)
assert.fails(lambda: k8s.restart("cm", "p"), "k8s.restart: cannot restart configmaps: only deployments")
`)
}

func TestDeleteE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	createConfigMaps(t, env, 3, map[string]string{"app": "web"}, "web-")
	createConfigMaps(t, env, 2, map[string]string{"app": "db"}, "db-")
	star(t, env, `
assert.eq(k8s.delete("cm", selector={"app": "web"}, dry_run=True), ["web-0", "web-1", "web-2"])
assert.eq(len(k8s.list("cm", selector="app=web")), 3)
assert.eq(k8s.delete("cm", selector="app=web", wait=True), ["web-0", "web-1", "web-2"])
assert.eq([c.metadata.name for c in k8s.list("cm", selector="app")], ["db-0", "db-1"])
assert.eq(k8s.delete("cm", selector="app=nothing"), [])
assert.eq(k8s.delete("cm/db-0"), ["db-0"])
assert.eq(k8s.delete(k8s.get("cm", "db-1")), ["db-1"])
assert.fails(lambda: k8s.delete("cm", "db-1"), 'k8s.delete: configmap/db-1: configmaps "db-1" not found in namespace "NS"')
assert.eq(k8s.delete("cm", "db-1", missing_ok=True), [])
assert.fails(lambda: k8s.delete("cm"), "k8s.delete: which cm\\? give a name, or a selector")
assert.fails(lambda: k8s.delete("cm", "x", propagation="sideways"), 'k8s.delete: unknown propagation "sideways"')
assert.fails(lambda: k8s.delete("cm", "x", timeout="soon"), 'k8s.delete: for parameter .timeout.: invalid duration "soon"')
assert.fails(lambda: k8s.delete("nosuchkind", "x"), 'k8s.delete: the server doesn.t have a resource type "nosuchkind"')
`)
}

func TestDeleteAllNamespacesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	other := env.CreateNamespace(t)
	sel := "k8sh-del=" + env.Namespace // unique to this test
	star(t, env, `
for ns in ["NS", "`+other+`"]:
    k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": ns, "labels": {"k8sh-del": "NS"}}})
assert.eq(k8s.delete("cm", selector="`+sel+`", all_namespaces=True), sorted(["NS/x", "`+other+`/x"]))
assert.eq(k8s.list("cm", selector="`+sel+`", all_namespaces=True), [])
`)
}

func TestDeleteWaitFinalizerE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	cms := env.Clientset.CoreV1().ConfigMaps(env.Namespace)
	// Remove the finalizer of "held" a moment after the delete starts waiting.
	t.Cleanup(func() {
		cms.Patch(context.Background(), "stuck", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			cm, err := cms.Get(ctx, "held", metav1.GetOptions{})
			if err == nil && cm.DeletionTimestamp != nil {
				time.Sleep(500 * time.Millisecond)
				cms.Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	star(t, env, `
fin = {"finalizers": ["k8sh.test/hold"]}
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["k8sh.test/hold"]}})
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stuck", "finalizers": ["k8sh.test/hold"]}})
assert.eq(k8s.delete("cm", "held", wait=True, timeout="20s"), ["held"])
assert.true(not k8s.exists("cm", "held"))
assert.fails(lambda: k8s.delete("cm", "stuck", wait=True, timeout=1), "k8s.delete: configmap/stuck: still there after 1s, held by finalizers k8sh.test/hold")
# without wait, a delete returns at once and the object lingers
assert.true(k8s.exists("cm", "stuck"))
`)
}

func TestDiffE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	out := star(t, env, `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"k": "v1"}}
before = k8s.diff(cm)
assert.true(before.startswith("--- /dev/null\n+++ applied/configmap/d\n"), before)
assert.true("+  k: v1\n" in before, before)
assert.true("managedFields" not in before and "resourceVersion" not in before and "creationTimestamp" not in before, before)
assert.true(not k8s.exists("cm", "d"))
k8s.apply(cm)
assert.eq(k8s.diff(cm), "")
cm["data"]["k"] = "v2"
after = k8s.diff([cm, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "e"}}])
print(after)
assert.true("--- live/configmap/d\n+++ applied/configmap/d\n" in after, after)
assert.true("-  k: v1\n+  k: v2\n" in after, after)
assert.true("+++ applied/configmap/e" in after, after)
assert.eq(k8s.get("cm", "d").data.k, "v1")
assert.fails(lambda: k8s.diff({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_1"}}), "k8s.diff: configmap/Bad_1: ")
`)
	t.Log(out)
}

// runStarSession runs src (NS replaced by env's namespace) with session s.
func runStarSession(t *testing.T, env *kubetest.Env, s *Session, src string) {
	t.Helper()
	thread := &starlark.Thread{Name: t.Name(), Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
		return starlarktest.LoadAssertModule()
	}}
	starlarktest.SetReporter(thread, t)
	SetSession(thread, s)
	src = "load('assert.star', 'assert')\n" + strings.ReplaceAll(src, "NS", env.Namespace)
	if _, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, Globals(nil)); err != nil {
		t.Fatal(err)
	}
}

func TestDryRunSessionE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	createConfigMaps(t, env, 1, nil, "keep-")
	runStarSession(t, env, &Session{Cluster: e2eClient(t, env, "sandbox"), DryRun: true}, `
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y"}})
k8s.patch("cm", "keep-0", {"data": {"z": "1"}})
assert.eq(k8s.delete("cm", "keep-0"), ["keep-0"])
assert.true(not k8s.exists("cm", "x"))
assert.true(not k8s.exists("cm", "y"))
assert.eq(dict(k8s.get("cm", "keep-0").data), {"i": "0"})
`)
}

// TestWriteSafetyE2E: a read-only session refuses every change before
// sending it (a diff is no change); context= reaches another context, here
// the read-only user, whose Forbidden names the object.
func TestWriteSafetyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	admin, viewer := e2eClient(t, env, "sandbox"), e2eClient(t, env, "sandbox-viewer")
	runStarSession(t, env, &Session{Cluster: admin, ReadOnly: true}, `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
assert.fails(lambda: k8s.apply(cm), 'k8s.apply: context "sandbox" is read-only \\(--read-only\\): refusing to apply configmap/x')
assert.fails(lambda: k8s.delete("cm", selector="a=b"), 'k8s.delete: context "sandbox" is read-only .*refusing to delete every cm matching a=b')
assert.fails(lambda: k8s.scale("deploy", "web", 2), "refusing to scale deploy/web to 2")
assert.true(k8s.diff(cm).startswith("--- /dev/null"))
assert.true(not k8s.exists("cm", "x"))
`)
	runStarSession(t, env, &Session{Cluster: admin, ForContext: func(name string) (Cluster, error) {
		if name != "sandbox-viewer" {
			t.Errorf("context %q asked for", name)
		}
		return viewer, nil
	}}, `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
assert.fails(lambda: k8s.apply(cm, context="sandbox-viewer"), 'k8s.apply: configmap/x: configmaps "x" is forbidden')
assert.fails(lambda: k8s.delete("cm", "x", context="sandbox-viewer"), 'k8s.delete: configmap/x: configmaps "x" is forbidden')
k8s.apply(cm)
assert.true(k8s.exists("cm", "x"))
`)
}

// crdGVR is where CustomResourceDefinitions live.
var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func TestApplyCRDAndResourcesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	group := env.Namespace + ".k8sh.test"
	dyn := dynamic.NewForConfigOrDie(env.Config)
	t.Cleanup(func() {
		dyn.Resource(crdGVR).Delete(context.Background(), "widgets."+group, metav1.DeleteOptions{})
	})
	star(t, env, strings.ReplaceAll(`
text = """
apiVersion: GROUP/v1
kind: Widget
metadata: {name: w1}
spec: {size: 1}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
---
apiVersion: GROUP/v1
kind: Widget
metadata: {name: w2}
spec: {size: 2}
"""
l = k8s.apply(text)
assert.eq([o.kind for o in l], ["Widget", "CustomResourceDefinition", "Widget"])
assert.eq(l[0].metadata.namespace, "NS")
assert.eq(l[1].metadata.get("namespace"), None)
assert.eq(sorted([w.spec.size for w in k8s.list("widgets")]), [1, 2])
assert.fails(lambda: k8s.apply({"apiVersion": "GROUP/v1", "kind": "Widget", "metadata": {"name": "w3"}, "spec": {"size": "big"}}),
    "k8s.apply: widget/w3: .*spec.size")
`, "GROUP", group))
}

func TestApplyArgoCDE2E(t *testing.T) {
	path := filepath.Join("..", "..", "shared", "manifests", "argocd-install.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no Argo CD manifest: %v", err)
	}
	env := kubetest.Sandbox(t)
	docs, err := yaml.DecodeDocuments(string(data))
	if err != nil {
		t.Fatal(err)
	}
	// The manifest's cluster-scoped objects (CRDs, ClusterRoles, ...) outlive
	// the namespace: remove them at the end.
	dyn := dynamic.NewForConfigOrDie(env.Config)
	t.Cleanup(func() {
		for _, d := range docs {
			m := d.(map[string]any)
			md := m["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			var gvr schema.GroupVersionResource
			switch m["kind"] {
			case "CustomResourceDefinition":
				gvr = crdGVR
			case "ClusterRole":
				gvr = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
			case "ClusterRoleBinding":
				gvr = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
			default:
				continue
			}
			dyn.Resource(gvr).Delete(context.Background(), name, metav1.DeleteOptions{})
		}
	})
	c := e2eClient(t, env, "sandbox")
	thread := &starlark.Thread{Name: t.Name(), Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
		return starlarktest.LoadAssertModule()
	}}
	starlarktest.SetReporter(thread, t)
	SetSession(thread, &Session{Cluster: c})
	globals := Globals(nil)
	globals["manifest"] = starlark.String(data)
	start := time.Now()
	_, err = starlark.ExecFileOptions(starOptions, thread, "argocd.star", strings.ReplaceAll(`load('assert.star', 'assert')
l = k8s.apply(manifest)
assert.eq(len(l), 59)
assert.eq(len([o for o in l if o.metadata.get("namespace") == "NS"]), 59 - 3 - 3 - 3)
assert.eq(len(k8s.list("deploy")), 6)
# Controllers change the workloads' status meanwhile: compare the others.
still = [o for o in yaml.decode_all(manifest) if o["kind"] not in ("Deployment", "StatefulSet")]
assert.eq(len(still), 52)
assert.eq(k8s.diff(still), "")
`, "NS", env.Namespace), globals)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("applied and diffed 59 objects in %v", time.Since(start))
}

func TestApplyNamespaceMismatchE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	runStar(t, c, `
ns = "`+env.Namespace+`"
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mm", "namespace": ns}}
assert.fails(lambda: k8s.apply(cm, namespace="other"), 'k8s.apply: configmap/mm: the object\'s namespace "%s" does not match namespace="other"' % ns)
assert.eq(k8s.exists("cm", "mm"), False)
assert.eq(k8s.apply(cm, namespace=ns).metadata.namespace, ns)
`)
}
