package builtins

import (
	"context"
	"path/filepath"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/sys"
)

// TestManifestPathsSandbox: with --sandbox, paths are read only inside the
// script's directory, and kustomizations are not built; reading fails
// before any cluster is asked.
func TestManifestPathsSandbox(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join(manifestsDir, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: t.Name(), Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
		return starlarktest.LoadAssertModule()
	}}
	starlarktest.SetReporter(thread, t)
	SetSession(thread, &Session{File: file.Options{Dir: dir, Sandbox: true}})
	sys.SetContext(thread, context.Background())
	src := `load('assert.star', 'assert')
assert.fails(lambda: k8s.apply("../bad.yaml"), "^k8s.apply: ../bad.yaml: outside the script's directory, not allowed with --sandbox$")
assert.fails(lambda: k8s.apply("/etc/passwd.yaml"), "outside the script's directory")
assert.fails(lambda: k8s.kustomize("../kustomize/overlay"), "^k8s.kustomize: ../kustomize/overlay: building a kustomization is not allowed with --sandbox")
assert.fails(lambda: k8s.apply("nope.yaml"), '^k8s.apply: the path "nope.yaml" does not exist$')
# inside it, reading works: the call goes on to the cluster, which there is none of
assert.fails(lambda: k8s.apply("./"), "^k8s.apply: no cluster configured$")
`
	if _, err := starlark.ExecFileOptions(starOptions, thread, "sandbox.star", src, Globals(nil)); err != nil {
		t.Fatal(err)
	}
}
