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

const restartDoc = `k8s.restart(kind, name, *, namespace=None, dry_run=False, context=None)

Restarts the pods of a deployment, statefulset or daemonset the way kubectl
rollout restart does: it sets the pod template annotation
kubectl.kubernetes.io/restartedAt to now, so the controller rolls them.
Returns the object.` + changeDoc

func restartBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind, name string
		ns, kctx   string
		dryRun     bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kind, "name", &name,
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
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
