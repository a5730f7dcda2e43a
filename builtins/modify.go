package builtins

import (
	"errors"
	"fmt"
	"reflect"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["modify"] = doc.Builtin("k8s.modify", modifyDoc, modifyBuiltin)
}

const modifyDoc = `k8s.modify(obj_or_kind, [name,] fn, *, namespace=None, retries=5, dry_run=False, context=None)

Reads one object, calls fn(obj) to change it, and writes back what fn
changed, as k8s.update does; when the object changed in between (another
writer, a controller), reads it again and calls fn again, up to retries
more times, as client-go's retry.RetryOnConflict does. Returns the object
written:

    def scale_up(d):
        d.spec.replicas += 1
    k8s.modify("deploy/web", scale_up)

The object is named as for k8s.patch: a k8s.object or dict, "kind/name",
or "kind", "name". fn changes obj in place and returns None, or returns
the object to write (obj itself, or a dict of the whole object). Since fn
may run more than once, it should derive its change from the object it is
given, and do nothing else that it must not repeat. When fn changes
nothing, nothing is written and the object read is returned. A conflict
still there after retries, and any error of fn, fail the call.` + changeDoc

func modifyBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		fn      starlark.Callable
		ns      string
		retries = 5
		dryRun  bool
		kctx    string
	)
	ref, rest, err := refArgs(b, args)
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), rest, kwargs, "fn", &fn, "namespace?", starconv.OrNone(&ns),
		"retries?", &retries, "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if retries < 0 {
		return nil, fmt.Errorf("%s: retries must not be negative, got %d", b.Name(), retries)
	}
	if ref.namespace != "" {
		if ns != "" && ns != ref.namespace {
			return nil, fmt.Errorf("%s: the object's namespace %q does not match namespace=%q", b.Name(), ref.namespace, ns)
		}
		ns = ref.namespace
	}
	ch, err := begin(thread, b, kctx, dryRun, "modify "+ref.what())
	if err != nil {
		return nil, err
	}
	e, err := ch.editor()
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	for try := 0; ; try++ {
		live, err := ch.c.Get(ctx, ref.kind, ref.name, ns)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		obj := NewObject(live.Object)
		orig := &unstructured.Unstructured{Object: obj.Original()}
		v, err := starlark.Call(thread, fn, starlark.Tuple{obj}, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: fn: %w", b.Name(), err)
		}
		var modified *unstructured.Unstructured
		switch v := v.(type) {
		case starlark.NoneType:
			modified = &unstructured.Unstructured{Object: obj.Map()}
		case *Object, starlark.IterableMapping:
			if modified, err = toUnstructured(v); err != nil {
				return nil, fmt.Errorf("%s: fn returned %w", b.Name(), err)
			}
		default:
			return nil, fmt.Errorf("%s: fn returned %s, want None (obj changed in place), k8s.object or dict", b.Name(), v.Type())
		}
		if reflect.DeepEqual(orig.Object, modified.Object) {
			return obj, nil
		}
		out, err := e.Edit(ctx, orig, modified, kube.EditOptions{DryRun: ch.dryRun})
		var stale *kube.StaleError
		if errors.As(err, &stale) && try < retries {
			continue
		}
		if errors.As(err, &stale) {
			return nil, fmt.Errorf("%s: %w (gave up after %d tries; retries=%d)", b.Name(), err, try+1, retries)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		written := NewObject(out.Object)
		ch.done("edited", written, out)
		return written, nil
	}
}
