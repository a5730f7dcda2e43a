package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["events"] = doc.Builtin("k8s.events", eventsDoc, events)
}

const eventsDoc = `k8s.events(obj_or_kind, name=None, *, namespace=None, context=None, contexts=None, parallel=16, timeout=None)

Returns the Events about one object, oldest first: k8s.events(pod),
k8s.events("deploy/web") or k8s.events("deploy", "web"). ` + refDoc + `

With contexts=, the Events of the object in every context, each knowing
its context (k8s.context_of), in the order of the contexts.

` + fanoutDoc

func events(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target starlark.Value
		s      selection
	)
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{"obj_or_kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace), "context?", starconv.OrNone(&s.context)}, f.args(true)...)...); err != nil {
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
		results := fanRun(thread, b, &f, names, func(ctx context.Context, _ string, c Cluster) ([]unstructured.Unstructured, error) {
			return c.Events(ctx, s.kind, s.name, s.namespace)
		})
		if err := fanFinish(thread, b, results); err != nil {
			return nil, err
		}
		var out []starlark.Value
		for _, r := range results {
			n := len(out)
			for i := range r.value {
				out = append(out, NewObject(r.value[i].Object))
			}
			tagged(out[n:], r.context)
		}
		return starlark.NewList(out), nil
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
