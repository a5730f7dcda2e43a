package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

func init() {
	K8s.Members["resources"] = doc.Builtin("k8s.resources", resourcesDoc, resources)
}

const resourcesDoc = `k8s.resources(*, context=None)

Returns what kubectl api-resources shows, as a list of structs with fields
name, shortnames, kind, group, version, namespaced and verbs, at each
resource's preferred version, sorted by group and name.`

func resources(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var context string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "context?", starconv.OrNone(&context)); err != nil {
		return nil, err
	}
	c, err := clusterFor(thread, b, context)
	if err != nil {
		return nil, err
	}
	rs, err := c.Resources()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := make([]starlark.Value, len(rs))
	for i, r := range rs {
		out[i] = starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"name":       starlark.String(r.Name),
			"shortnames": stringList(r.ShortNames),
			"kind":       starlark.String(r.Kind),
			"group":      starlark.String(r.Group),
			"version":    starlark.String(r.Version),
			"namespaced": starlark.Bool(r.Namespaced),
			"verbs":      stringList(r.Verbs),
		})
	}
	return starlark.NewList(out), nil
}

func stringList(ss []string) *starlark.List {
	out := make([]starlark.Value, len(ss))
	for i, s := range ss {
		out[i] = starlark.String(s)
	}
	return starlark.NewList(out)
}
