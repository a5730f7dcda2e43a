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
	K8s.Members["delete"] = doc.Builtin("k8s.delete", deleteDoc, fanWrites(deleteBuiltin))
}

const deleteDoc = `k8s.delete(kind_or_obj, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, wait=False, timeout="60s", propagation="background", missing_ok=False, dry_run=False, parallel=8, context=None, contexts=None)

Deletes one object by kind and name ("pod", "web" or "pod/web"), every
object of kind that selector and fields match (in the namespace or, with
all_namespaces=True, in all), or the objects given: a k8s.object, a dict,
a list of them, YAML text or a path, read as k8s.apply reads its objs (a
string of one line that ends in "/", ".yaml", ".yml" or ".json" is a path,
a string with a line break YAML text; any other string is a kind), as
kubectl delete -f does:
  k8s.delete("install.yaml", wait=True)
  k8s.delete(k8s.apply(objs))
Objects given are deleted in the reverse of their order, Namespaces and
CustomResourceDefinitions after the others, parallel at a time; one not
found because its namespace is gone or going counts as deleted.

Returns the list of what it deleted: names sorted ("namespace/name" across
namespaces) for a kind; for objects given, in their order, "kind/name"
("namespace/kind/name" when they span namespaces), or just the name for one
object. A selector that matches nothing deletes nothing and is no error; a
named object that does not exist is, unless missing_ok=True.

propagation is "background", "foreground" or "orphan" (what happens to
dependents). wait=True returns only once every deleted object is gone,
finalizers included, waiting for all of them at once (the object deleted,
as kubectl: one a controller makes again under the same name, with another
UID, does not hold it), and fails after timeout ("60s", "2m", or seconds)
naming the finalizers that still hold it and what its conditions say
blocks it (a CRD whose instances cannot be listed, a Namespace with
content left).` + changeDoc + fanWritesDoc

// deletedNames are the names k8s.delete returns for objects given:
// "kind/name", "namespace/kind/name" when they span namespaces.
func deletedNames(objs []*unstructured.Unstructured) []string {
	nss := map[string]bool{}
	for _, o := range objs {
		if o.GetNamespace() != "" {
			nss[o.GetNamespace()] = true
		}
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = kube.ObjectName(o)
		if len(nss) > 1 && o.GetNamespace() != "" {
			names[i] = o.GetNamespace() + "/" + names[i]
		}
	}
	return names
}

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
	if k, ok := target.(starlark.String); ok && name == "" && !strings.Contains(string(k), "/") && !isManifestPath(string(k)) && !strings.Contains(string(k), "\n") && sel.s == "" && fields.s == "" {
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
		gone  []*unstructured.Unstructured // what was deleted, for the REPL's lines
		given bool                         // gone is set (objects were given)
	)
	kindArg, isKind := target.(starlark.String)
	if isKind && (isManifestPath(string(kindArg)) || strings.Contains(string(kindArg), "\n")) {
		isKind = false // a path or YAML text
	}
	switch target.(type) {
	case starlark.String, *Object, starlark.IterableMapping, *starlark.List, starlark.Tuple:
	default:
		return nil, fmt.Errorf("%s: got %s, want a kind (str), k8s.object, dict, list, YAML text or a path", b.Name(), target.Type())
	}
	if isKind {
		r, rerr := unpackRef(b, kindArg, name)
		if rerr != nil {
			return nil, rerr
		}
		kind := r.kind
		name = r.name
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
	} else {
		if name != "" {
			return nil, fmt.Errorf("%s: the objects name themselves; name= is for a kind", b.Name())
		}
		var objs objectsArg
		if err := objs.unpack(thread, b, target); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		if len(objs.objs) == 0 {
			return nil, fmt.Errorf("%s: no objects to delete", b.Name())
		}
		desc = objectsWhat(objs.objs)
		if ch, err = begin(thread, b, kctx, dryRun, "delete "+desc); err != nil {
			return nil, err
		}
		opts.DryRun = ch.dryRun
		if objs.single {
			u := objs.objs[0]
			names, err = ch.w.DeleteObject(ctx, u, opts)
			var be *kube.BulkError
			if err != nil && !errors.As(err, &be) {
				err = &kube.ObjectError{Object: kube.ObjectName(u), Err: err}
			}
			gk = u.GroupVersionKind().GroupKind()
			where = u.GetNamespace()
			if where == "" {
				where, _ = ch.w.NamespaceOf(u.GetKind(), ns)
			}
		} else {
			var deleted []*unstructured.Unstructured
			deleted, err = ch.w.DeleteObjects(ctx, objs.objs, opts)
			names = deletedNames(deleted)
			gone, given = deleted, true
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := make([]starlark.Value, len(names))
	for i, n := range names {
		out[i] = starlark.String(n)
		if given {
			continue // gone is what DeleteObjects returned
		}
		ns, name := where, n
		if allNamespaces {
			ns, name, _ = strings.Cut(n, "/")
			if name == "" { // cluster-scoped: no namespace/ in front
				ns, name = "", n
			}
		}
		gone = append(gone, named(gk.Group, gk.Kind, name, ns))
	}
	v := starlark.NewList(out)
	ch.done("deleted", v, gone...)
	return v, nil
}
