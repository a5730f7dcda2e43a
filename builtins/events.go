package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["events"] = doc.Builtin("k8s.events", eventsDoc, events)
}

const eventsDoc = `k8s.events(obj_or_kind, name=None, *, namespace=None, context=None)

Returns the Events about one object, oldest first: k8s.events(pod),
k8s.events("deploy/web") or k8s.events("deploy", "web"). ` + refDoc

func events(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target starlark.Value
		s      selection
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj_or_kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace), "context?", starconv.OrNone(&s.context)); err != nil {
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
	items, err := c.Events(sys.Context(thread), s.kind, s.name, s.namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return objectList(items), nil
}
