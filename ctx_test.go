package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

func TestCtxModuleE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	// A kubeconfig of the test's own, to check that nothing writes it.
	kc := filepath.Join(t.TempDir(), "config")
	orig, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(kc, orig, 0o600)
	code := `
start = ctx.current()
print(start.name, start.namespace, start.user, start.server.startswith("https://127.0.0.1:"))
print(ctx.list(), [c.user for c in ctx.contexts()])
ctx.use("sandbox-viewer", namespace="` + env.Namespace + `")
print(ctx.current().name, ctx.namespace())
print(catch(k8s.list, "secrets").error)
print(ctx.namespace("kube-system"), ctx.current().name)
ctx.use("sandbox")
print(ctx.current().name, ctx.namespace(), len(k8s.list("secrets", namespace="` + env.Namespace + `")) >= 0)
print(catch(ctx.use, "nope").error)
`
	r := k8sh(t, "", nil, "--kubeconfig", kc, "-c", code)
	want := `sandbox default sandbox-admin True
["sandbox", "sandbox-viewer"] ["sandbox-admin", "sandbox-viewer"]
sandbox-viewer ` + env.Namespace + `
k8s.list: secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "` + env.Namespace + `" (Forbidden)
kube-system sandbox-viewer
sandbox default True
ctx.use: no context "nope" in the kubeconfig; the contexts are: sandbox, sandbox-viewer
`
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("got code %d stdout:\n%s\nstderr: %s\nwant:\n%s", r.Code, r.Stdout, r.Stderr, want)
	}
	after, err := os.ReadFile(kc)
	if err != nil || !bytes.Equal(after, orig) {
		t.Errorf("the kubeconfig changed during a session of ctx.use calls")
	}
}
