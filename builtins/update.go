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
	K8s.Members["update"] = doc.Builtin("k8s.update", updateDoc, updateBuiltin)
}

const updateDoc = `k8s.update(obj, *, dry_run=False, context=None)

Replaces the object with obj, typically one read with k8s.get and changed:
d = k8s.get("deploy", "web"); d.spec.replicas = 3; k8s.update(d).
When obj has a metadata.resourceVersion and the object changed since it was
read, it fails with a conflict that says so (optimistic concurrency): get it
again and redo the change.` + changeDoc

func updateBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		obj    starlark.Value
		dryRun bool
		kctx   string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &obj, "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	u, err := oneObject(thread, b, obj)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, "update "+kube.ObjectName(u))
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Update(sys.Context(thread), u, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	ch.done("replaced", v, out)
	return v, nil
}
