package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["restart"] = doc.Builtin("k8s.restart", restartDoc, restartBuiltin)
}

const restartDoc = `k8s.restart(kind, name=None, *, namespace=None, dry_run=False, context=None)

Restarts the pods of a deployment, statefulset or daemonset the way kubectl
rollout restart does: it sets the pod template annotation
kubectl.kubernetes.io/restartedAt to now, so the controller rolls them.
Returns the object. ` + refDoc + changeDoc

func restartBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target   starlark.Value
		name     string
		ns, kctx string
		dryRun   bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &target, "name?", starconv.OrNone(&name),
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	r, err := unpackNamed(b, target, name, ns)
	if err != nil {
		return nil, err
	}
	kind, name, ns := r.kind, r.name, r.namespace
	ch, err := begin(thread, b, kctx, dryRun, "restart "+kind+"/"+name)
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Restart(sys.Context(thread), kind, name, ns, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	ch.done("restarted", v, out)
	return v, nil
}
