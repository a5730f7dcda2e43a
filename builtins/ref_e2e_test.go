package builtins

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestReferencesE2E: every builtin that names one object takes it the ways
// kubectl does: "kind", "name"; "kind/name"; a k8s.object; a dict.
func TestReferencesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	starFiles(t, env, "", `
d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "NS"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}}
obj = k8s.apply(d)
for ref in [("deploy", "web"), ("deploy/web",), (obj,), (d,), ("deployments.apps", "web"), ("Deployment", "web")]:
    assert.eq(k8s.get(*ref).metadata.uid, obj.metadata.uid)
    assert.true(k8s.exists(*ref))
    assert.eq(k8s.wait(*ref).metadata.uid, obj.metadata.uid)
    assert.eq(type(k8s.events(*ref)), "list")
assert.eq(k8s.scale("deploy/web", 2).spec.replicas, 2)
assert.eq(k8s.scale(obj, 3).spec.replicas, 3)
assert.eq(k8s.scale(d, replicas=1).spec.replicas, 1)
assert.eq(k8s.scale("deploy", "web", 2).spec.replicas, 2)
assert.true("kubectl.kubernetes.io/restartedAt" in k8s.restart(obj, dry_run=True).spec.template.metadata.annotations)
assert.true("kubectl.kubernetes.io/restartedAt" in k8s.restart("deploy/web").spec.template.metadata.annotations)
assert.true(not k8s.exists({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope"}}))
assert.eq(k8s.get(d, default=None).metadata.name, "web")

# the same mistakes, the same messages, in every builtin
for f in [k8s.get, k8s.exists, k8s.events, k8s.restart, k8s.wait]:
    assert.fails(lambda: f("deploy/web", "web"), '^k8s.[a-z]+: got "deploy/web" and name="web": give the name once$')
    assert.fails(lambda: f(obj, "other"), '^k8s.[a-z]+: got an object and name="other": the object names itself$')
    assert.fails(lambda: f(obj, namespace="elsewhere"), '^k8s.[a-z]+: the object.s namespace "NS" does not match namespace="elsewhere"$')
    assert.fails(lambda: f({"kind": "Deployment"}), "^k8s.[a-z]+: the object has no kind or metadata.name$")
    assert.fails(lambda: f(3), '^k8s.[a-z]+: got int, want a kind \\(str\\), "kind/name", k8s.object or dict$')
    assert.fails(lambda: f("deploy/"), '^k8s.[a-z]+: "deploy/": want "kind/name"$')
assert.fails(lambda: k8s.scale("deploy/web"), "^k8s.scale: missing argument replicas$")
assert.fails(lambda: k8s.scale("deploy", 3), "^k8s.scale: which deploy\\? give a name$")
assert.fails(lambda: k8s.exists("deploy"), "^k8s.exists: which deploy\\? give a name$")
assert.eq(k8s.delete("deploy/web"), ["web"])
`)
}

// TestLogsWorkloadE2E: k8s.logs("deploy/web") reads the pod kubectl logs
// deploy/web reads, and prints the same; a kind without pods fails.
func TestLogsWorkloadE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	starFiles(t, env, "", `
k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}})
k8s.wait("deploy/web", condition="Available", timeout="60s")
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nopods"}})
`)
	rs, _, _ := kubectl(t, env, "get", "rs", "-o", "name")
	for _, ref := range []string{"deploy/web", "deployment.apps/web", strings.TrimSpace(rs)} {
		want, stderr, code := kubectl(t, env, "logs", ref, "--tail", "3")
		if code != 0 || want == "" {
			t.Fatalf("kubectl logs %s: exit %d: %q %s", ref, code, want, stderr)
		}
		starFiles(t, env, "", "assert.eq(k8s.logs("+starlark.String(ref).String()+", tail=3), "+starlark.String(want).String()+")\n")
	}
	starFiles(t, env, "", `
assert.fails(lambda: k8s.logs("cm/nopods"), "^k8s.logs: cannot pick a pod of configmap/nopods: ")
assert.fails(lambda: k8s.logs("deploy/nope"), '^k8s.logs: deployments.apps "nope" not found')
assert.eq(k8s.logs("pod/" + k8s.list("pods")[0].metadata.name, tail=1), k8s.logs("deploy/web", tail=1))
`)
	if _, stderr, code := kubectl(t, env, "logs", "cm/nopods"); code == 0 || !strings.Contains(stderr, "ConfigMap") {
		t.Errorf("kubectl logs cm/nopods: exit %d: %s", code, stderr)
	}
}
