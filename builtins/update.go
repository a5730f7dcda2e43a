package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["update"] = doc.Builtin("k8s.update", updateDoc, updateBuiltin)
}

const updateDoc = `k8s.update(obj, *, dry_run=False, context=None)

Writes back obj, typically one read with k8s.get and changed:
d = k8s.get("deploy", "web"); d.spec.replicas = 3; k8s.update(d).
For an object read from the cluster (k8s.get, k8s.list, ...) it sends
only what the script changed since, as kubectl edit does: a patch of the
difference, so the fields left alone keep their owners and k8sh owns only
what it changed. The patch carries the resourceVersion read: when the
object changed since, it fails with a conflict that says so (optimistic
concurrency): get it again and redo the change, or let k8s.modify do it.
A dict replaces the object as a whole (a PUT), checked against its
metadata.resourceVersion when it has one. See docs/writing.md for which of
k8s.apply, k8s.update, k8s.patch and k8s.modify to use when.` + changeDoc

// Editor is what writing back an object read from the cluster needs
// (k8s.update, k8s.apply and k8s.modify); kube.Client implements it.
type Editor interface {
	Edit(ctx context.Context, original, obj *unstructured.Unstructured, opts kube.EditOptions) (*unstructured.Unstructured, error)
}

var _ Editor = (*kube.Client)(nil)

// originalOf is the object as read of v, a k8s.object k8sh read from the
// cluster, or nil. An object the cluster has not stored has no
// resourceVersion: one that k8s.new made, a manifest read by k8s.kustomize,
// the answer of a dry-run create. Such an object is sent whole (applied,
// replaced), not written back as a change of what was read.
func originalOf(v starlark.Value) *unstructured.Unstructured {
	o, ok := v.(*Object)
	if !ok {
		return nil
	}
	if m := o.Original(); m != nil {
		u := &unstructured.Unstructured{Object: m}
		if u.GetResourceVersion() == "" {
			return nil
		}
		return u
	}
	return nil
}

// editor is the Editor of ch's cluster.
func (ch *change) editor() (Editor, error) {
	e, ok := ch.w.(Editor)
	if !ok {
		return nil, fmt.Errorf("%s: this cluster cannot write back objects", ch.b.Name())
	}
	return e, nil
}

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
	var out *unstructured.Unstructured
	if orig := originalOf(obj); orig != nil {
		e, err := ch.editor()
		if err != nil {
			return nil, err
		}
		out, err = e.Edit(sys.Context(thread), orig, u, kube.EditOptions{DryRun: ch.dryRun})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	} else if out, err = ch.w.Update(sys.Context(thread), u, ch.dryRun); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	ch.done("replaced", v, out)
	return v, nil
}
