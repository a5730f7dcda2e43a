package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/starconv"
)

// objectRef is one object named the ways kubectl takes: a k8s.object or a
// dict (its kind, name and namespace), "kind/name", or "kind", "name".
type objectRef struct {
	kind, name, namespace string
}

// refArgs reads an objectRef from the head of the positional args of b
// and returns the args after it.
func refArgs(b *starlark.Builtin, args starlark.Tuple) (objectRef, starlark.Tuple, error) {
	if len(args) == 0 {
		return objectRef{}, nil, fmt.Errorf("%s: missing the object: give a k8s.object, \"kind/name\" or \"kind\", \"name\"", b.Name())
	}
	switch v := args[0].(type) {
	case starlark.String:
		if k, n, ok := strings.Cut(string(v), "/"); ok {
			if k == "" || n == "" {
				return objectRef{}, nil, fmt.Errorf("%s: %q: want \"kind/name\"", b.Name(), string(v))
			}
			return objectRef{kind: k, name: n}, args[1:], nil
		}
		if len(args) < 2 {
			return objectRef{}, nil, fmt.Errorf("%s: which %s? give a name", b.Name(), string(v))
		}
		n, ok := args[1].(starlark.String)
		if !ok {
			return objectRef{}, nil, fmt.Errorf("%s: the name of %s is a %s, want str (or give \"%s/NAME\")", b.Name(), string(v), args[1].Type(), string(v))
		}
		return objectRef{kind: string(v), name: string(n)}, args[2:], nil
	case *Object, starlark.IterableMapping:
		g, err := starconv.FromStarlark(v)
		if err != nil {
			return objectRef{}, nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		m, _ := g.(map[string]any)
		r := objectRef{kind: str(m, "kind"), name: str(m, "metadata", "name"), namespace: str(m, "metadata", "namespace")}
		if r.kind == "" || r.name == "" {
			return objectRef{}, nil, fmt.Errorf("%s: the object has no kind or metadata.name", b.Name())
		}
		// "deployment.v1.apps": the object's own group and version, as
		// kubectl resolves it.
		if gv := str(m, "apiVersion"); strings.Contains(gv, "/") {
			group, version, _ := strings.Cut(gv, "/")
			r.kind = strings.ToLower(r.kind) + "." + version + "." + group
		}
		return r, args[1:], nil
	}
	return objectRef{}, nil, fmt.Errorf("%s: got %s, want a k8s.object, dict or kind (str)", b.Name(), args[0].Type())
}

// what names the reference in messages: "deploy/web".
func (r objectRef) what() string {
	k := r.kind
	if i := strings.IndexByte(k, '.'); i > 0 {
		k = k[:i]
	}
	return k + "/" + r.name
}
