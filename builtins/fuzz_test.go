package builtins

import (
	"testing"

	"go.starlark.net/starlark"
)

// FuzzReferences: what users type as a kind, "kind/name" or a selector is
// parsed or refused with an error naming the builtin: no panic. `go test`
// runs the seeds; `make fuzz` runs it for a few seconds.
func FuzzReferences(f *testing.F) {
	for _, seed := range []string{"deploy/web", "pods", "/", "a/b/c", "deployment.v1.apps/web", "", "x/", "/x",
		"app=web,tier!=db", "a in (b, c)", "!a", "a=b=c", "status.phase=Running"} {
		f.Add(seed)
	}
	b := starlark.NewBuiltin("k8s.get", nil)
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := unpackRef(b, starlark.String(s), ""); err == nil {
			_ = r.what()
		}
		unpackRef(b, starlark.String(s), "name")
		var sel selectorArg
		sel.Unpack(starlark.String(s))
		d := starlark.NewDict(1)
		d.SetKey(starlark.String(s), starlark.String(s))
		sel.Unpack(d)
	})
}
