package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["get"] = doc.Builtin("k8s.get", getDoc, get)
}

const getDoc = `k8s.get(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, default=<raise>, context=None, contexts=None, parallel=16, timeout=None)

Reads from the cluster: with a name, that one object (a k8s.object); without
one, the list of every object that matches, read page by page.
"kind/name" gives both at once: k8s.get("pod/web"); an object (or dict)
reads it again: k8s.get(obj).

` + selectionDoc + `

default: when given, a missing named object returns this value instead of
failing: k8s.get("pod", "web", default=None).

With contexts=, a list: of every context's objects (CONTEXT is the first
column of its table), or with a name, of the object as each context has
it; with default= a context without it is left out, else it is one of
the contexts that failed.

` + fanoutDoc

func get(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		s      selection
		dflt   starlark.Value
		target starlark.Value
	)
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{
		"kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace),
		"all_namespaces?", &s.allNamespaces, "selector?", &s.selector, "fields?", &s.fields,
		"default?", &dflt, "context?", starconv.OrNone(&s.context)}, f.args(true)...)...); err != nil {
		return nil, err
	}
	if err := s.ref(b, target); err != nil {
		return nil, err
	}
	if f.on() {
		if s.name == "" {
			return fanList(thread, b, &f, s, nil, 0)
		}
		return fanGet(thread, b, &f, s, dflt)
	}
	c, err := clusterFor(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	if s.name == "" {
		v, err := readList(thread, c, s, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return v, nil
	}
	if s.allNamespaces || s.selector.s != "" || s.fields.s != "" {
		return nil, fmt.Errorf("%s: all_namespaces, selector and fields select a list; they cannot be used with a name", b.Name())
	}
	l, err := c.GetRow(ctx, s.kind, s.name, s.namespace)
	if err != nil {
		if dflt != nil && apierrors.IsNotFound(err) {
			return dflt, nil
		}
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if len(l.Raw) != 1 {
		return nil, fmt.Errorf("%s: the server sent %d objects for %s %q", b.Name(), len(l.Raw), s.kind, s.name)
	}
	rd := &read{resource: l.Resource, namespace: l.Namespace, rows: l.Rows, cluster: c}
	return rd.object(l, 0), nil
}
