package builtins

import (
	"context"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// conformance is a program of reads and writes whose printed lines must be
// the same on the sandbox and on k8s.fake: what it observes leaves out
// what only a real cluster has (server-set fields, defaults, controllers'
// status). NS is the namespace, GROUP a CRD group of the run's own.
const conformance = `
def show(label, v):
    print(label + ": " + json.encode(v))

def err(fn):
    r = catch(fn)
    return r.error

def managers(o):
    return sorted([(m.manager, m.operation, m.get("subresource", "")) for m in o.metadata.managedFields if m.manager != "kube-controller-manager"])

# ConfigMaps: create, no-op and real patches, a stale update, selectors.
a = k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"tier": "web"}}, "data": {"k": "1"}})
show("create", [a.data, a.metadata.labels, "generation" in a.metadata, a.metadata.namespace])
rv1 = a.metadata.resourceVersion
b = k8s.patch("cm/a", {"data": {"k": "2"}})
show("patch", [b.data, b.metadata.resourceVersion != rv1, managers(b)])
rv2 = b.metadata.resourceVersion
c = k8s.patch("cm/a", {"data": {"k": "2"}})
show("no-op patch keeps the resourceVersion", c.metadata.resourceVersion == rv2)
a.data["k"] = "3"
show("stale update", err(lambda: k8s.update(a)))
j = k8s.patch("cm", "a", [{"op": "add", "path": "/data/j", "value": "x"}], type="json")
show("json patch", j.data)
show("json patch test fails", err(lambda: k8s.patch("cm", "a", [{"op": "test", "path": "/data/j", "value": "y"}], type="json")) != None)
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}})
show("list", [o.metadata.name for o in k8s.list("cm") if o.metadata.name != "kube-root-ca.crt"])
show("selector", [o.metadata.name for o in k8s.list("cm", selector="tier=web")])
show("not in", [o.metadata.name for o in k8s.list("cm", selector="tier notin (web)") if o.metadata.name != "kube-root-ca.crt"])
show("fields", [o.metadata.name for o in k8s.list("cm", fields="metadata.name=other")])
show("bad field", err(lambda: k8s.list("cm", fields="data.k=1")))
show("missing", err(lambda: k8s.get("cm", "nope")))
show("exists", [k8s.exists("cm", "a"), k8s.exists("cm", "nope")])
show("twice", err(lambda: k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})))
g = k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
show("generateName", [g.metadata.name.startswith("gen-"), len(g.metadata.name)])
show("dry run", [k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}, dry_run=True).metadata.name, k8s.exists("cm", "dry")])

# Server-side apply: owners, a conflict, force.
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"x": "1", "y": "1"}}, field_manager="one")
show("conflict", err(lambda: k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"x": "2"}}, field_manager="two")))
f = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"x": "2"}}, field_manager="two", force=True)
show("forced", [f.data, managers(f)])
f = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"z": "1"}}, field_manager="one")
show("one gives up y", [f.data, managers(f)])
f = k8s.patch("cm/s", {"data": {"x": "3"}})
show("patch over two", [f.data, managers(f)])

# A delete that a finalizer holds.
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held", "finalizers": ["k8sh.io/hold"]}})
k8s.delete("cm", "held")
h = k8s.get("cm", "held")
show("held", ["deletionTimestamp" in h.metadata, h.metadata.finalizers, k8s.exists("cm", "held")])
show("held: create again", err(lambda: k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "held"}})))
k8s.patch("cm/held", {"metadata": {"finalizers": None}})
show("released", k8s.exists("cm", "held"))
k8s.delete("cm", "other")
show("deleted", [k8s.exists("cm", "other"), err(lambda: k8s.delete("cm", "other"))])
show("missing_ok", k8s.delete("cm", "other", missing_ok=True) == None)

# Deployments: generation, strategic merge of containers by name, scale.
d = k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
    "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "app", "image": "app:1"}, {"name": "side", "image": "side:1"}]}}}})
show("deployment", [d.metadata.generation, d.spec.replicas, [(c.name, c.image) for c in d.spec.template.spec.containers]])
d = k8s.patch("deploy/web", {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "side:2"}]}}}}, type="strategic")
show("strategic", [d.metadata.generation, [(c.name, c.image) for c in d.spec.template.spec.containers]])
d = k8s.patch("deploy/web", {"metadata": {"labels": {"l": "1"}}})
show("metadata only", [d.metadata.generation, d.metadata.labels])
k8s.scale("deploy", "web", 3)
d = k8s.get("deploy", "web")
show("scaled", [d.metadata.generation, d.spec.replicas, managers(d)])
d = k8s.patch("deploy/web", {"spec": {"replicas": 2}}, subresource="scale")
show("scale patch", [d.spec.replicas])
show("status through the resource", k8s.patch("deploy/web", {"status": {"replicas": 7}}).get("status", {}).get("replicas", 0) != 7)

# A CRD and its resources: apply both at once, status, generation.
crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.GROUP"},
    "spec": {"group": "GROUP", "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wdg"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}},
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}}}]}}
w = {"apiVersion": "GROUP/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 1, "color": "red"}}
out = k8s.apply([crd, w])
show("crd", [[o.metadata.name for o in out], sorted([x.type for x in k8s.get("crd", "widgets.GROUP").status.conditions if x.status == "True"])])
w1 = k8s.get("wdg", "w1")
show("widget", [w1.spec, w1.metadata.generation])
w1 = k8s.patch("wdg/w1", {"spec": {"size": 2}})
show("widget patch", [w1.spec, w1.metadata.generation])
w1 = k8s.patch("wdg/w1", {"status": {"ready": True}}, subresource="status")
show("widget status", [w1.status, w1.metadata.generation, managers(w1)])
show("widget strategic", err(lambda: k8s.patch("wdg/w1", {"spec": {"size": 3}}, type="strategic")))
w1.spec["size"] = 4
w1 = k8s.update(w1)
show("widget update", [w1.spec.size, w1.metadata.generation])
show("widgets", [x.metadata.name for x in k8s.list("widgets." + "GROUP")])
k8s.delete("wdg", "w1")
show("widget deleted", k8s.exists("wdg", "w1"))

# A CRD of two versions (v1alpha1 listed first): its objects are served at
# both, whichever they were written at; the highest version is preferred.
open_schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
crd2 = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.GROUP"},
    "spec": {"group": "GROUP", "scope": "Namespaced", "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [{"name": "v1alpha1", "served": True, "storage": False, "schema": open_schema},
                     {"name": "v1", "served": True, "storage": True, "schema": open_schema}]}}
k8s.apply([crd2,
    {"apiVersion": "GROUP/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 1}},
    {"apiVersion": "GROUP/v1alpha1", "kind": "Gadget", "metadata": {"name": "g2"}, "spec": {"size": 2}}])
for v in ("v1alpha1", "v1"):
    show("gadgets at " + v, [(o.apiVersion, o.metadata.name, o.spec.size) for o in k8s.list("gadgets." + v + ".GROUP")])
show("gadget preferred", k8s.get("gadgets", "g2").apiVersion)

# A Secret's stringData goes into data; its type stays; an immutable
# ConfigMap keeps its data.
sec = k8s.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sd"}, "type": "Opaque", "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "z"}})
show("stringData", [sec.data, "stringData" in sec])
show("stringData patch", k8s.patch("secret/sd", {"stringData": {"a": "new"}}).data)
show("secret type", err(lambda: k8s.patch("secret/sd", {"type": "example.com/other"})))
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True})
show("immutable data", err(lambda: k8s.patch("cm/frozen", {"data": {"a": "2"}})))
show("immutable unset", err(lambda: k8s.patch("cm/frozen", {"immutable": False, "binaryData": {"b": "eA=="}})))
show("immutable labels", k8s.patch("cm/frozen", {"metadata": {"labels": {"x": "y"}}}).metadata.labels)
`

// TestFakeConformanceE2E runs the same program on the sandbox and on
// k8s.fake: every line it prints must be the same.
func TestFakeConformanceE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	group := "conf" + strings.ReplaceAll(env.Namespace, "-", "") + ".k8sh.io"
	src := strings.NewReplacer("GROUP", group).Replace(conformance)
	t.Cleanup(func() {
		gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		for _, crd := range []string{"widgets", "gadgets"} {
			dynamic.NewForConfigOrDie(env.Config).Resource(gvr).Delete(context.Background(), crd+"."+group, metav1.DeleteOptions{})
		}
	})
	real := runStar(t, e2eClient(t, env, "sandbox"), src)
	faked := runStar(t, nil, "k8s.fake({'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': '"+env.Namespace+"'}})\nctx.namespace('"+env.Namespace+"')\n"+src)
	if real != faked {
		diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: difflib.SplitLines(real), B: difflib.SplitLines(faked), FromFile: "sandbox", ToFile: "k8s.fake", Context: 2})
		t.Errorf("the fake differs from the sandbox (-sandbox +k8s.fake):\n%s", diff)
	}
	t.Logf("%d lines the same:\n%s", strings.Count(real, "\n"), real)
}
