package builtins

import (
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestPathSegmentsRefusedE2E: a namespace or name that is not one URL path
// segment is refused before any request, by every builtin, instead of
// reading or changing what the cleaned path names ("x/../kube-system" is
// kube-system).
func TestPathSegmentsRefusedE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	starFiles(t, env, "", `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seg"}}
k8s.apply(cm)
for call, want in [
    (lambda: k8s.list("cm", namespace="x/../NS"), 'k8s.list: invalid namespace "x/../NS": may not contain \'/\''),
    (lambda: k8s.iter("cm", namespace="x/../NS"), 'k8s.iter: invalid namespace "x/../NS": may not contain \'/\''),
    (lambda: k8s.get("cm", "seg", namespace="x/../NS"), 'k8s.get: invalid namespace "x/../NS": may not contain \'/\''),
    (lambda: k8s.get("cm", "x/../seg"), 'k8s.get: invalid name "x/../seg": may not contain \'/\''),
    (lambda: k8s.get("cm/.."), 'k8s.get: invalid name "..": may not be \'..\''),
    (lambda: k8s.exists("cm", "a%2Fb"), 'k8s.exists: invalid name "a%2Fb": may not contain \'%\''),
    (lambda: k8s.watch("cm", namespace="..", timeout=1), 'k8s.watch: invalid namespace "..": may not be \'..\''),
    (lambda: k8s.delete("cm", "../seg"), 'k8s.delete: configmap/../seg: invalid name "../seg": may not contain \'/\''),
    (lambda: k8s.delete("cm", selector="a=b", namespace="x/../NS"), 'k8s.delete: invalid namespace "x/../NS": may not contain \'/\''),
    (lambda: k8s.apply(dict(cm, metadata={"name": "seg", "namespace": "x/../NS"})), 'k8s.apply: configmap/seg: invalid namespace "x/../NS": may not contain \'/\''),
    (lambda: k8s.patch("cm", "x/../seg", {"data": {"a": "b"}}), 'k8s.patch: configmap/x/../seg: invalid name "x/../seg": may not contain \'/\''),
]:
    r = catch(call)
    assert.eq(r.error, want)
assert.true("data" not in k8s.get("cm", "seg"))
assert.true(k8s.exists("cm", "seg"))
`)
}
