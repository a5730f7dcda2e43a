package builtins

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["delete"] = doc.Builtin("k8s.delete", deleteDoc, deleteBuiltin)
}

const deleteDoc = `k8s.delete(kind_or_obj, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, wait=False, timeout="60s", propagation="background", missing_ok=False, dry_run=False, parallel=8, context=None)

Deletes one object by kind and name ("pod", "web" or "pod/web"), the object
given (a k8s.object or dict), or every object of kind that selector and
fields match, in the namespace or, with all_namespaces=True, in all.
Returns the sorted list of names it deleted ("namespace/name" across
namespaces). A selector that matches nothing deletes nothing and is no
error; a named object that does not exist is, unless missing_ok=True.

propagation is "background", "foreground" or "orphan" (what happens to
dependents). wait=True returns only once every deleted object is gone,
finalizers included, and fails after timeout ("60s", "2m", or seconds)
naming the finalizers that still hold it.` + changeDoc

func deleteBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target          starlark.Value
		name, ns        string
		sel, fields     selectorArg
		allNamespaces   bool
		wait, missingOK bool
		timeout         = waitTimeout{d: time.Minute}
		propagation     = "background"
		dryRun          bool
		parallel        = kube.DefaultParallel
		kctx            string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind_or_obj", &target, "name?", starconv.OrNone(&name),
		"namespace?", starconv.OrNone(&ns), "all_namespaces?", &allNamespaces, "selector?", &sel, "fields?", &fields,
		"wait?", &wait, "timeout?", &timeout, "propagation?", &propagation, "missing_ok?", &missingOK,
		"dry_run?", &dryRun, "parallel?", &parallel, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	opts := kube.DeleteOptions{
		Namespace: ns, AllNamespaces: allNamespaces, LabelSelector: sel.s, FieldSelector: fields.s,
		Propagation: propagation, MissingOK: missingOK, Wait: wait, Timeout: timeout.d, Parallel: parallel,
	}
	if k, ok := target.(starlark.String); ok && name == "" && !strings.Contains(string(k), "/") && sel.s == "" && fields.s == "" {
		return nil, fmt.Errorf("%s: which %s? give a name, or a selector or fields to delete every match", b.Name(), string(k))
	}
	what := func(kind, name string) string {
		if name != "" {
			return kind + "/" + name
		}
		var sels []string
		for _, s := range []string{sel.s, fields.s} {
			if s != "" {
				sels = append(sels, s)
			}
		}
		w := "every " + kind + " matching " + strings.Join(sels, ",")
		if allNamespaces {
			w += " in all namespaces"
		}
		return w
	}
	ctx := sys.Context(thread)
	var (
		names []string
		desc  string
		ch    *change
		err   error
		where = ns // the namespace to announce
		gk    schema.GroupKind
	)
	switch t := target.(type) {
	case starlark.String:
		kind := string(t)
		if k, n, ok := strings.Cut(kind, "/"); ok {
			if name != "" {
				return nil, fmt.Errorf("%s: got %q and name=%q: give the name once", b.Name(), kind, name)
			}
			kind, name = k, n
		}
		desc = what(kind, name)
		if ch, err = begin(thread, b, kctx, dryRun, "delete "+desc); err != nil {
			return nil, err
		}
		opts.DryRun = ch.dryRun
		names, err = ch.w.Delete(ctx, kind, name, opts)
		if r, rerr := ch.w.Resolve(kind); rerr == nil {
			gk = r.GVK.GroupKind()
		}
		if !allNamespaces {
			where, _ = ch.w.NamespaceOf(kind, ns)
		}
	case *Object, starlark.IterableMapping:
		if name != "" {
			return nil, fmt.Errorf("%s: the object names itself; name= is for a kind", b.Name())
		}
		u, uerr := toUnstructured(t)
		if uerr != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), uerr)
		}
		desc = kube.ObjectName(u)
		if ch, err = begin(thread, b, kctx, dryRun, "delete "+desc); err != nil {
			return nil, err
		}
		opts.DryRun = ch.dryRun
		names, err = ch.w.DeleteObject(ctx, u, opts)
		gk = u.GroupVersionKind().GroupKind()
		where = u.GetNamespace()
		if where == "" {
			where, _ = ch.w.NamespaceOf(u.GetKind(), ns)
		}
		var be *kube.BulkError
		if err != nil && !errors.As(err, &be) {
			err = &kube.ObjectError{Object: kube.ObjectName(u), Err: err}
		}
	default:
		return nil, fmt.Errorf("%s: got %s, want a kind (str), k8s.object or dict", b.Name(), target.Type())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := make([]starlark.Value, len(names))
	gone := make([]*unstructured.Unstructured, len(names))
	for i, n := range names {
		out[i] = starlark.String(n)
		ns, name := where, n
		if allNamespaces {
			ns, name, _ = strings.Cut(n, "/")
			if name == "" { // cluster-scoped: no namespace/ in front
				ns, name = "", n
			}
		}
		gone[i] = named(gk.Group, gk.Kind, name, ns)
	}
	v := starlark.NewList(out)
	ch.done("deleted", v, gone...)
	return v, nil
}
