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
	K8s.Members["apply"] = doc.Builtin("k8s.apply", applyDoc, applyBuiltin)
}

const applyDoc = `k8s.apply(objs, *, namespace=None, dry_run=False, force=False, field_manager="k8sh", parallel=8, context=None)

Server-side apply, as kubectl apply --server-side does it: the server
merges the fields given into the live object (creating it if needed) and
records field_manager as their owner. Returns the applied object, or the
list of them in input order when objs is a list or YAML text with several
documents.

` + objsDoc + ` Objects without a namespace go to namespace, else to the
session's; cluster-scoped objects have none. CustomResourceDefinitions are
applied first and waited for until established, so a CRD and its resources
can be applied in one call.

A field another manager owns fails with each conflicting field and its
manager; force=True takes ownership of them. parallel bounds how many
objects are sent at once. One object failing does not stop the others: the
error lists every object that failed and why (deployment/web: ...), and the
others stay applied. A server that cannot be reached is said once, with the
number of objects it failed ("19 objects: the connection to the server
127.0.0.1:1 was refused - did you specify the right host or port?").` + changeDoc

func applyBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		objsV    starlark.Value
		ns       string
		dryRun   bool
		force    bool
		manager  = kube.DefaultFieldManager
		parallel = kube.DefaultParallel
		kctx     string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "objs", &objsV, "namespace?", starconv.OrNone(&ns),
		"dry_run?", &dryRun, "force?", &force, "field_manager?", &manager, "parallel?", &parallel,
		"context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if parallel < 1 {
		return nil, fmt.Errorf("%s: parallel must be at least 1, got %d", b.Name(), parallel)
	}
	var objs objectsArg
	if err := objs.unpack(thread, b, objsV); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch, err := begin(thread, b, kctx, dryRun, "apply "+objectsWhat(objs.objs))
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Apply(sys.Context(thread), objs.objs, kube.ApplyOptions{
		Namespace: ns, FieldManager: manager, Force: force, DryRun: ch.dryRun, Parallel: parallel,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var v starlark.Value = objectValues(out)
	if objs.single {
		v = NewObject(out[0].Object)
	}
	ch.done("serverside-applied", v, out...)
	return v, nil
}
