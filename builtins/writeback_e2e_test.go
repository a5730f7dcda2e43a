package builtins

import (
	"context"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// ownersStar defines owns(obj, manager, operation, path...): whether that
// entry of obj's managedFields owns the field at path.
const ownersStar = `
def owns(obj, manager, operation, *path):
    for e in obj.metadata.managedFields:
        if e.manager != manager or e.operation != operation or e.get("subresource"):
            continue
        f = e.fieldsV1
        for p in path:
            f = f.get(p if p.startswith("k:") else "f:" + p)
            if f == None:
                break
        if f != None:
            return True
    return False

def managers(obj):
    return sorted(["%s/%s" % (e.manager, e.operation) for e in obj.metadata.managedFields if not e.get("subresource")])
`

// runStarWith is runStar with more globals, NS replaced by env's namespace
// and owns() defined.
func runStarWith(t *testing.T, env *kubetest.Env, extra starlark.StringDict, src string) string {
	t.Helper()
	var out strings.Builder
	thread := &starlark.Thread{
		Name:  t.Name(),
		Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") },
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return starlarktest.LoadAssertModule()
		},
	}
	starlarktest.SetReporter(thread, t)
	SetSession(thread, &Session{Cluster: e2eClient(t, env, "sandbox")})
	sys.SetContext(thread, context.Background())
	globals := Globals(nil)
	for k, v := range extra {
		globals[k] = v
	}
	src = "load('assert.star', 'assert')\n" + ownersStar + strings.ReplaceAll(src, "NS", env.Namespace)
	if _, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, globals); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return out.String()
}

// kubectlIn is the sandbox's kubectl in namespace ns ("" for the
// context's), for files whose objects name their own.
func kubectlAt(t *testing.T, env *kubetest.Env, ns string) *kubetest.Kubectl {
	e := *env
	e.Namespace = ns
	return e.Kubectl(t)
}

// TestWriteBackE2E: read, mutate, write back with k8s.update, k8s.apply
// and k8s.patch changes exactly what the script changed: the fields another
// manager owns stay its own, and k8sh never conflicts with itself after.
func TestWriteBackE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	runStarWith(t, env, nil, `
def cm(a, b="1"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "labels": {"app": "web"}}, "data": {"a": a, "b": b}}
k8s.apply(cm("1"), field_manager="ci")

# update: only data.a changes hands; ci keeps data.b and the labels
o = k8s.get("cm", "web")
o.data.a = "2"
got = k8s.update(o)
assert.eq(dict(got.data), {"a": "2", "b": "1"})
assert.true(owns(got, "ci", "Apply", "data", "b"))
assert.true(owns(got, "ci", "Apply", "metadata", "labels", "app"))
assert.true(owns(got, "k8sh", "Update", "data", "a"))
assert.true(not owns(got, "k8sh", "Update", "data", "b"))
assert.true(not owns(got, "ci", "Apply", "data", "a"))

# a later apply by k8sh of a changed data.a: no conflict with k8sh's update
a = k8s.apply(cm("3"))
assert.eq(a.data.a, "3")
assert.true(owns(a, "k8sh", "Apply", "data", "a"))
# ...but one that changes ci's data.b still conflicts with ci
assert.fails(lambda: k8s.apply(cm("3", b="4")), 'apply conflict: 1 field\\(s\\) owned by another manager: .data.b \\(conflict with "ci"\\)')

# patch, then apply: no conflict either
k8s.patch("cm/web", {"metadata": {"labels": {"tier": "front"}}})
c = cm("3")
c["metadata"]["labels"]["tier"] = "back"
assert.eq(k8s.apply(c).metadata.labels.tier, "back")
# create, then apply: neither
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made"}, "data": {"a": "1"}})
assert.eq(k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made"}, "data": {"a": "2"}}).data.a, "2")

# apply of an object read and mutated: a write-back as update does
r = k8s.get("cm", "web")
r.metadata.annotations = {"note": "hi"}
got = k8s.apply(r)
assert.eq(got.metadata.annotations.note, "hi")
assert.true(owns(got, "ci", "Apply", "data", "b"))
assert.true(owns(got, "k8sh", "Update", "metadata", "annotations", "note"))
assert.eq(managers(got), ["ci/Apply", "k8sh/Apply", "k8sh/Update"])

# a Deployment's pod template, a list element changed in place: modify,
# since its controller writes the status meanwhile
k8s.apply(`+deployment+`, field_manager="ci")
def image(d):
    d.spec.template.spec.containers[0].image = "nginx:2"
got = k8s.modify("deploy/web", image)
assert.eq(got.spec.template.spec.containers[0].image, "nginx:2")
assert.true(owns(got, "k8sh", "Update", "spec", "template", "spec", "containers", 'k:{"name":"c"}', "image"))
assert.true(owns(got, "ci", "Apply", "spec", "replicas"))
assert.true(owns(got, "ci", "Apply", "spec", "template", "spec", "containers", 'k:{"name":"c"}', "name"))

# what was read is the precondition: a stale copy fails, nothing changes
s1 = k8s.get("cm", "web")
s2 = k8s.get("cm", "web")
s1.data.a = "4"
k8s.update(s1)
s2.metadata.labels["x"] = "y"
assert.fails(lambda: k8s.update(s2), "k8s.update: configmap/web: conflict: the object changed since it was read")
assert.fails(lambda: k8s.apply(s2), "k8s.apply: configmap/web: conflict: the object changed since it was read")
assert.true("x" not in k8s.get("cm", "web").metadata.labels)

# a list appended to, then emptied
p = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p", "finalizers": ["a.k8sh/x"]}, "data": {"k": "v"}}, field_manager="ci")
p.metadata.finalizers.append("b.k8sh/y")
p = k8s.update(p)
assert.eq(list(p.metadata.finalizers), ["a.k8sh/x", "b.k8sh/y"])
assert.eq(p.data.k, "v")
p.metadata.finalizers.clear()
p = k8s.update(p)
assert.eq(p.metadata.get("finalizers"), None)

# renaming is not a write-back
n = k8s.get("cm", "p")
n.metadata.name = "q"
assert.fails(lambda: k8s.update(n), "k8s.update: configmap/q: apiVersion, kind, metadata.name and metadata.namespace cannot change")

# a dict still replaces the whole object
whole = dict(k8s.get("cm", "p"))
whole["data"] = {"only": "this"}
assert.eq(dict(k8s.update(whole).data), {"only": "this"})

# dry run: answered, not persisted
dr = k8s.get("cm", "p")
dr.data["dry"] = "1"
assert.eq(k8s.update(dr, dry_run=True).data.dry, "1")
assert.true("dry" not in k8s.get("cm", "p").data)
`)
}

// TestPatchObjectE2E: k8s.patch takes an object, "kind/name" and "kind",
// "name", as the other builtins do.
func TestPatchObjectE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	runStarWith(t, env, nil, `
o = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}, "data": {"a": "1"}})
assert.eq(k8s.patch(o, {"data": {"b": "2"}}).data.b, "2")
assert.eq(k8s.patch({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "o"}}, {"data": {"c": "3"}}).data.c, "3")
assert.eq(k8s.patch("cm/o", {"data": {"d": "4"}}).data.d, "4")
assert.eq(k8s.patch("cm", "o", {"data": {"e": "5"}}).data.e, "5")
dep = k8s.apply(`+deployment+`)
assert.eq(k8s.patch(dep, {"spec": {"replicas": 2}}, subresource="scale").spec.replicas, 2)
assert.eq(k8s.patch(dep, [{"op": "replace", "path": "/spec/replicas", "value": 3}], type="json").spec.replicas, 3)
assert.eq(dict(k8s.get("cm", "o").data), {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"})
assert.fails(lambda: k8s.patch(o, {}, namespace="elsewhere"), 'k8s.patch: the object.s namespace "NS" does not match namespace="elsewhere"')
assert.fails(lambda: k8s.patch({"kind": "ConfigMap"}, {}), "k8s.patch: the object has no kind or metadata.name")
assert.fails(lambda: k8s.patch("cm", {}), "k8s.patch: the name of cm is a dict, want str")
assert.fails(lambda: k8s.patch("cm"), "k8s.patch: which cm\\? give a name")
assert.fails(lambda: k8s.patch(3, {}), 'k8s.patch: got int, want a kind \\(str\\), "kind/name", k8s.object or dict')
assert.fails(lambda: k8s.patch(o), "k8s.patch: missing argument for patch")
`)
}

// TestModifyE2E: k8s.modify retries on a conflict with a real concurrent
// writer: bump() updates the object through another client, the first time
// fn runs, between k8s.modify's read and its write.
func TestModifyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	cms := env.Clientset.CoreV1().ConfigMaps(env.Namespace)
	bumps := 0
	bump := starlark.NewBuiltin("bump", func(_ *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
		bumps++
		patch := `{"data":{"other":"` + itoa(bumps) + `"}}`
		if _, err := cms.Patch(context.Background(), "m", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "other-writer"}); err != nil {
			return nil, err
		}
		return starlark.None, nil
	})
	runStarWith(t, env, starlark.StringDict{"bump": bump}, `
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m"}, "data": {"n": "0"}})
calls = []
def incr(cm):
    calls.append(cm.metadata.resourceVersion)
    if len(calls) == 1:
        bump()  # another writer, between the read and the write
    cm.data.n = str(int(cm.data.n) + 1)
got = k8s.modify("cm", "m", incr)
assert.eq(len(calls), 2)
assert.true(calls[0] != calls[1])
assert.eq(dict(got.data), {"n": "1", "other": "1"})
assert.true(owns(got, "other-writer", "Update", "data", "other"))
assert.true(owns(got, "k8sh", "Update", "data", "n"))

# fn returning the object to write; the object form of the reference
def replace(cm):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "m", "namespace": "NS"}, "data": {"n": "9", "other": cm.data.other}}
assert.eq(k8s.modify(got, replace).data.n, "9")

# no change, no write
rv = k8s.get("cm", "m").metadata.resourceVersion
assert.eq(k8s.modify("cm/m", lambda cm: None).metadata.resourceVersion, rv)

# a writer that always wins: the conflict stays after the retries
def always(cm):
    bump()
    cm.data.n = "never"
r = catch(k8s.modify, "cm/m", always, retries=2)
assert.true(r.error.startswith("k8s.modify: configmap/m: conflict: the object changed since it was read"), r.error)
assert.true(r.error.endswith("(gave up after 3 tries; retries=2)"), r.error)
assert.eq(k8s.get("cm", "m").data.n, "9")

assert.fails(lambda: k8s.modify("cm/m", lambda cm: fail("boom")), "k8s.modify: fn: .*boom")
assert.fails(lambda: k8s.modify("cm/m", lambda cm: 3), "k8s.modify: fn returned int, want None")
assert.fails(lambda: k8s.modify("cm/nope", lambda cm: None), 'k8s.modify: configmaps "nope" not found in namespace "NS"')
assert.fails(lambda: k8s.modify("cm/m", lambda cm: None, retries=-1), "k8s.modify: retries must not be negative")
d = k8s.modify("cm/m", incr, dry_run=True)
assert.eq(d.data.n, "10")
assert.eq(k8s.get("cm", "m").data.n, "9")
`)
}

// TestDiffE2E2 is in TestDiffPinnedE2E and TestDiffConflictsE2E below.

// TestDiffPinnedE2E: k8s.diff right after k8s.apply is empty, though the
// Deployment's controller writes its status in between.
func TestDiffPinnedE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	runStarWith(t, env, nil, `
d = `+deployment+`
k8s.apply(d)
for i in range(3):
    assert.eq(k8s.diff(d), "")
k8s.wait("deploy", "web", condition="Available")
assert.eq(k8s.diff(d), "")
d["spec"]["replicas"] = 2
text = k8s.diff(d)
assert.true("-  replicas: 1\n+  replicas: 2\n" in text, text)
assert.true("status" not in text, text)
`)
}

// TestDiffConflictsE2E: a diff shows what the forced apply would do and
// lists the fields other managers own under it; one object failing does not
// hide the others' diffs.
func TestDiffConflictsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	// kubectl apply --server-side, then a changed file: k8s.diff changes the
	// lines kubectl diff --server-side --force-conflicts changes, and lists
	// the fields kubectl owns.
	ssa := `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ssa", "labels": {"app": "a"}}, "spec": {"selector": {"app": "a"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}`
	changed := strings.NewReplacer(`"app": "a"}}`, `"app": "b"}}`, `"targetPort": 8080`, `"targetPort": 9090`).Replace(ssa)
	k := env.Kubectl(t)
	k.Must(t, ssa, "apply", "--server-side", "-f", "-")
	kdiff, errOut, code := k.Run(changed, "diff", "--server-side", "--force-conflicts", "--field-manager", "k8sh", "-f", "-")
	if code != 1 {
		t.Fatalf("kubectl diff: no difference\n%s%s", kdiff, errOut)
	}
	out := runStarWith(t, env, starlark.StringDict{"changed": starlark.String(changed)}, `
text = k8s.diff(changed)
print(text)
assert.true(text.endswith("""# service/ssa: k8s.apply without force=True fails: 2 field(s) owned by another manager:
#   .metadata.labels.app (conflict with "kubectl")
#   .spec.ports[port=80,protocol="TCP"].targetPort (conflict with "kubectl")
"""), text)
`)
	if g, w := changedLines(out, false), changedLines(kdiff, false); len(g) != 4 || !slices.Equal(g, w) {
		t.Errorf("k8s.diff and kubectl diff change different lines:\nk8s.diff:\n%s\nkubectl diff:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
	runStarWith(t, env, nil, `
def cm(v):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"k": v, "j": v}}
k8s.apply(cm("1"), field_manager="alice")
text = k8s.diff(cm("2"))
want = """--- live/configmap/shared
+++ applied/configmap/shared
@@ -1,7 +1,7 @@
 apiVersion: v1
 data:
-  j: "1"
-  k: "1"
+  j: "2"
+  k: "2"
 kind: ConfigMap
 metadata:
   name: shared
# configmap/shared: k8s.apply without force=True fails: 2 field(s) owned by another manager:
#   .data.j (conflict with "alice")
#   .data.k (conflict with "alice")
"""
assert.eq(text, want)
assert.eq(k8s.get("cm", "shared").data.k, "1")

r = catch(k8s.diff, [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_1"}}, cm("3")])
assert.true(r.error.startswith("k8s.diff: 1 of 2 objects failed: NS/configmap/Bad_1: "), r.error)
assert.true("what the others would change:\n--- live/configmap/shared\n" in r.error, r.error)
assert.true('+  k: "3"\n' in r.error, r.error)
`)
}

// TestApplyAfterKubectlCSAE2E: an object kubectl applied client-side is
// taken over by k8s.apply of a changed file, without force, as kubectl
// apply --server-side does: kubectl's fields migrate to k8sh, so a field
// the file no longer holds is removed.
func TestApplyAfterKubectlCSAE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	first := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "NAME", "labels": {"a": "1"}}, "data": {"k": "1", "gone": "x"}}`
	changed := `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "NAME", "labels": {"a": "2"}}, "data": {"k": "2"}}`
	k := env.Kubectl(t)
	k.Must(t, strings.ReplaceAll(first, "NAME", "csa"), "apply", "-f", "-")
	// The oracle: kubectl's own takeover, on a twin object.
	k.Must(t, strings.ReplaceAll(first, "NAME", "twin"), "apply", "-f", "-")
	twin := k.Must(t, strings.ReplaceAll(changed, "NAME", "twin"), "apply", "--server-side", "--force-conflicts", "--field-manager", "k8sh", "--show-managed-fields", "-o", "json", "-f", "-")
	runStarWith(t, env, starlark.StringDict{"kubectl_ssa": starlark.String(twin)}, `
live = k8s.get("cm", "csa")
assert.eq(managers(live), ["kubectl-client-side-apply/Update"])
changed = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "csa", "labels": {"a": "2"}}, "data": {"k": "2"}}
text = k8s.diff(changed)
assert.true('-  k: "1"\n+  k: "2"\n' in text, text)
assert.true("# " not in text, text)  # kubectl's client-side fields are no conflict
dry = k8s.apply(changed, dry_run=True)
assert.eq(dry.data.k, "2")
got = k8s.apply(changed)
assert.eq(dict(got.data), {"k": "2"})
assert.eq(got.metadata.labels.a, "2")
assert.eq(managers(got), ["k8sh/Apply"])
assert.eq(k8s.diff(changed), "")
# what kubectl apply --server-side --field-manager=k8sh leaves: the
# last-applied annotation goes with the fields kubectl applied
twin = json.decode(kubectl_ssa)
assert.eq(dict(got.data), dict(twin["data"]))
assert.eq(dict(got.metadata.labels), dict(twin["metadata"]["labels"]))
assert.eq(got.metadata.get("annotations"), twin["metadata"].get("annotations"))
assert.eq(managers(got), sorted(["%s/%s" % (e["manager"], e["operation"]) for e in twin["metadata"]["managedFields"]]))
`)
}
