package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["scale"] = doc.Builtin("k8s.scale", scaleDoc, scaleBuiltin)
}

const scaleDoc = `k8s.scale(kind, name=None, replicas=None, *, namespace=None, dry_run=False, context=None)

Sets the replicas of a deployment, statefulset, replicaset or any kind with
a scale subresource, through that subresource, and returns the Scale:
k8s.scale("deploy", "web", 3), k8s.scale("deploy/web", 3) or
k8s.scale(obj, 3). ` + refDoc + changeDoc

func scaleBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target, nameV starlark.Value
		replicasV     starlark.Value = starlark.None
		ns, kctx      string
		dryRun        bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &target, "name?", &nameV, "replicas?", &replicasV,
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if _, isInt := nameV.(starlark.Int); isInt && replicasV == starlark.None {
		nameV, replicasV = nil, nameV // k8s.scale("deploy/web", 3)
	}
	name, err := optionalName(b, nameV)
	if err != nil {
		return nil, err
	}
	r, err := unpackNamed(b, target, name, ns)
	if err != nil {
		return nil, err
	}
	kind, name, ns := r.kind, r.name, r.namespace
	if replicasV == starlark.None {
		return nil, fmt.Errorf("%s: missing argument replicas", b.Name())
	}
	replicas, err := starlark.AsInt32(replicasV)
	if err != nil {
		return nil, fmt.Errorf("%s: for parameter replicas: %w", b.Name(), err)
	}
	what := fmt.Sprintf("scale %s/%s to %d", kind, name, replicas)
	ch, err := begin(thread, b, kctx, dryRun, what)
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Scale(sys.Context(thread), kind, name, ns, int64(replicas), ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	if r, err := ch.w.Resolve(kind); err == nil { // resolved already, to scale it
		ch.done("scaled", v, named(r.GVK.Group, r.GVK.Kind, name, out.GetNamespace()))
	}
	return v, nil
}
