package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["exists"] = doc.Builtin("k8s.exists", existsDoc, exists)
}

const existsDoc = `k8s.exists(kind, name=None, *, namespace=None, context=None)

Returns True if the object exists, False if it does not. Other failures
(an unknown kind, Forbidden) are errors. ` + refDoc

func exists(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		s      selection
		target starlark.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace), "context?", starconv.OrNone(&s.context)); err != nil {
		return nil, err
	}
	if err := s.ref(b, target); err != nil {
		return nil, err
	}
	if s.name == "" {
		return nil, fmt.Errorf("%s: which %s? give a name", b.Name(), s.kind)
	}
	c, err := clusterFor(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	ok, err := c.Exists(sys.Context(thread), s.kind, s.name, s.namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(ok), nil
}
