package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["exists"] = doc.Builtin("k8s.exists", existsDoc, exists)
}

const existsDoc = `k8s.exists(kind, name=None, *, namespace=None, context=None, contexts=None, parallel=16, timeout=None)

Returns True if the object exists, False if it does not. Other failures
(an unknown kind, Forbidden) are errors. ` + refDoc + `

With contexts=, a dict of context name to True or False:
k8s.exists("ns", "payments", contexts=["prod-*"]).

` + fanoutDoc

func exists(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		s      selection
		target starlark.Value
	)
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{"kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace), "context?", starconv.OrNone(&s.context)}, f.args(true)...)...); err != nil {
		return nil, err
	}
	if err := s.ref(b, target); err != nil {
		return nil, err
	}
	if s.name == "" {
		return nil, fmt.Errorf("%s: which %s? give a name", b.Name(), s.kind)
	}
	if f.on() {
		names, err := f.names(thread, b, s.context)
		if err != nil {
			return nil, err
		}
		results := fanRun(thread, b, &f, names, func(ctx context.Context, _ string, c Cluster) (bool, error) {
			return c.Exists(ctx, s.kind, s.name, s.namespace)
		})
		if err := fanFinish(thread, b, results); err != nil {
			return nil, err
		}
		return byContext(results, func(ok bool) starlark.Value { return starlark.Bool(ok) }), nil
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
