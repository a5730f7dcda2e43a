package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// refArgs reads an objectRef from the head of the positional args of b (a
// k8s.object or dict, "kind/name", or "kind", "name", as unpackRef takes
// them) and returns the args after it.
func refArgs(b *starlark.Builtin, args starlark.Tuple) (objectRef, starlark.Tuple, error) {
	if len(args) == 0 {
		return objectRef{}, nil, fmt.Errorf("%s: missing the object: give a k8s.object, \"kind/name\" or \"kind\", \"name\"", b.Name())
	}
	target, rest, name := args[0], args[1:], ""
	if k, ok := target.(starlark.String); ok && !strings.Contains(string(k), "/") {
		if len(rest) == 0 {
			return objectRef{}, nil, fmt.Errorf("%s: which %s? give a name", b.Name(), string(k))
		}
		n, ok := rest[0].(starlark.String)
		if !ok {
			return objectRef{}, nil, fmt.Errorf("%s: the name of %s is a %s, want str (or give \"%s/NAME\")", b.Name(), string(k), rest[0].Type(), string(k))
		}
		name, rest = string(n), rest[1:]
	}
	r, err := unpackRef(b, target, name)
	return r, rest, err
}

// what names the reference in messages: "deploy/web".
func (r objectRef) what() string {
	k := r.kind
	if i := strings.IndexByte(k, '.'); i > 0 {
		k = k[:i]
	}
	return k + "/" + r.name
}
