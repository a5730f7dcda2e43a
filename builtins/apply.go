package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["apply"] = doc.Builtin("k8s.apply", applyDoc, fanWrites(applyBuiltin))
}

const applyDoc = `k8s.apply(objs, *, namespace=None, dry_run=False, force=False, field_manager="k8sh", parallel=8, context=None, contexts=None)

Server-side apply, as kubectl apply --server-side does it: the server
merges the fields given into the live object (creating it if needed) and
records field_manager as their owner. Returns the applied object, or the
list of them in input order when objs is a list or YAML text with several
documents.

` + objsDoc + ` Objects without a namespace go to namespace, else to the
session's; cluster-scoped objects have none. CustomResourceDefinitions are
applied first and waited for until established, so a CRD and its resources
can be applied in one call.

A k8s.object read from the cluster (k8s.get, k8s.list, ...) and changed is
written back as k8s.update does: only what the script changed is sent,
checked against the resourceVersion read, and k8sh takes no other field.

A field another manager owns fails with each conflicting field and its
manager; force=True takes ownership of them. Two kinds of owners are no
conflict: objects kubectl applied client-side (kubectl apply without
--server-side) have their fields migrated to field_manager first, as kubectl
does on its first server-side apply, and fields of k8sh's own k8s.update,
k8s.patch and k8s.modify are taken over. parallel bounds how many objects
are sent at once. One object failing does not stop the others: the error
lists every object that failed and why (deployment/web: ...), and the
others stay applied. A server that cannot be reached is said once, with the
number of objects it failed ("19 objects: the connection to the server
127.0.0.1:1 was refused - did you specify the right host or port?"). See
docs/writing.md for which of k8s.apply, k8s.update, k8s.patch and
k8s.modify to use when.` + changeDoc + fanWritesDoc

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
		Originals: originals(objsV, len(objs.objs)),
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

// originals is, for each of the n objects objsV holds, the object as read
// when it is a k8s.object read from the cluster (written back as k8s.update
// does), else nil; nil when there is none.
func originals(objsV starlark.Value, n int) []*unstructured.Unstructured {
	var vals []starlark.Value
	switch v := objsV.(type) {
	case *Object:
		vals = []starlark.Value{v}
	case *starlark.List:
		for i := 0; i < v.Len(); i++ {
			vals = append(vals, v.Index(i))
		}
	case starlark.Tuple:
		vals = v
	}
	if len(vals) != n {
		return nil // not one object per item (a List expanded): apply them all
	}
	var out []*unstructured.Unstructured
	for i, v := range vals {
		if orig := originalOf(v); orig != nil {
			if out == nil {
				out = make([]*unstructured.Unstructured, n)
			}
			out[i] = orig
		}
	}
	return out
}
