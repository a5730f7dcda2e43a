package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["create"] = doc.Builtin("k8s.create", createDoc, createBuiltin)
}

const createDoc = `k8s.create(obj, *, namespace=None, dry_run=False, context=None)

Creates obj (a k8s.object, a dict or one YAML document) and returns it as
the server made it. Fails if it already exists. metadata.generateName works.
Objects without a namespace go to namespace, else to the session's.` + changeDoc

func createBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		obj      starlark.Value
		ns, kctx string
		dryRun   bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &obj, "namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	u, err := oneObject(b, obj)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, "create "+kube.ObjectName(u))
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Create(sys.Context(thread), u, ns, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	ch.done("created", v, out)
	return v, nil
}
