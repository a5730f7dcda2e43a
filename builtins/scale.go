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

const scaleDoc = `k8s.scale(kind, name, replicas, *, namespace=None, dry_run=False, context=None)

Sets the replicas of a deployment, statefulset, replicaset or any kind with
a scale subresource, through that subresource, and returns the Scale.` + changeDoc

func scaleBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind, name string
		replicas   int
		ns, kctx   string
		dryRun     bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kind, "name", &name, "replicas", &replicas,
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
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
