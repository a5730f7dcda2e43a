package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

// K8s is the k8s module:
//
//	k8s.get(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, default=<raise>, context=None)
//	k8s.list(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None)
//	k8s.iter(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None)
//	k8s.exists(kind, name, *, namespace=None, context=None)
//	k8s.resources(*, context=None)
//	k8s.events(obj_or_kind, name=None, *, namespace=None, context=None)
//	k8s.print(x, output="table")
//	k8s.watch(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, initial=True, timeout=None, until=None, context=None)
//	k8s.wait(kind, name=None, *, namespace=None, selector=None, condition=None, until=None, delete=False, timeout="60s", context=None)
//	k8s.status(obj)
//	k8s.logs(pod_or_obj=None, *, container=None, namespace=None, tail=None, since=None, previous=False, follow=False, selector=None, timestamps=False, timeout=None, context=None)
var K8s = &starlarkstruct.Module{
	Name: "k8s",
	Members: starlark.StringDict{
		"get":       doc.Builtin("k8s.get", getDoc, get),
		"list":      doc.Builtin("k8s.list", listDoc, list),
		"iter":      doc.Builtin("k8s.iter", iterDoc, iter),
		"exists":    doc.Builtin("k8s.exists", existsDoc, exists),
		"resources": doc.Builtin("k8s.resources", resourcesDoc, resources),
		"events":    doc.Builtin("k8s.events", eventsDoc, events),
		"print":     doc.Builtin("k8s.print", printDoc, printBuiltin),
	},
}

const selectionDoc = `kind is what kubectl takes: "pods", "pod", "po", "Pod", "deployments.apps",
"deployment.v1.apps", or a CRD's plural, singular, kind or short name.

namespace defaults to the session's namespace (kubeconfig context or -n);
it is ignored for cluster-scoped kinds. all_namespaces=True lists across all.
selector is a label selector, as a string ("app=web,tier!=db") or a dict
({"app": "web"}); fields a field selector in the same forms
("status.phase=Running").

context names another kubeconfig context for this one call, without
switching the session's: k8s.list("pods", context="prod"). Its namespace
is that context's default.`

const getDoc = `k8s.get(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, default=<raise>, context=None)

Reads from the cluster: with a name, that one object (a k8s.object); without
one, the list of every object that matches, read page by page.
"kind/name" gives both at once: k8s.get("pod/web").

` + selectionDoc + `

default: when given, a missing named object returns this value instead of
failing: k8s.get("pod", "web", default=None).`

const listDoc = `k8s.list(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None)

Returns the list of objects of kind that match, always a list, read page by
page (500 a request).

` + selectionDoc + `

where is a Starlark predicate applied to each object on the client:
k8s.list("pods", where=lambda p: p.status.phase != "Running").
limit caps how many objects are read from the server (before where).`

const iterDoc = `k8s.iter(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None)

Like k8s.list, but an iterable that reads one page (500 objects) at a time
as the loop goes on, so that "for p in k8s.iter("pods", all_namespaces=True)"
over 100,000 objects holds about one page in memory. The first page is read
when k8s.iter is called, so a bad kind or a Forbidden fails there; a failure
on a later page stops the loop with an error.

` + selectionDoc

const existsDoc = `k8s.exists(kind, name, *, namespace=None, context=None)

Returns True if the object exists, False if it does not. Other failures
(an unknown kind, Forbidden) are errors.`

const resourcesDoc = `k8s.resources(*, context=None)

Returns what kubectl api-resources shows, as a list of structs with fields
name, shortnames, kind, group, version, namespaced and verbs, at each
resource's preferred version, sorted by group and name.`

const eventsDoc = `k8s.events(obj_or_kind, name=None, *, namespace=None, context=None)

Returns the Events about one object, oldest first: k8s.events(pod) or
k8s.events("deploy", "web").`

// selection is the arguments that choose objects: kind and where to look.
type selection struct {
	kind, name, namespace string
	context               string
	allNamespaces         bool
	selector, fields      selectorArg
}

func (s *selection) options() kube.ListOptions {
	return kube.ListOptions{
		Namespace: s.namespace, AllNamespaces: s.allNamespaces,
		LabelSelector: s.selector.s, FieldSelector: s.fields.s,
	}
}

// splitKindName accepts "kind/name" for the kind argument.
func (s *selection) splitKindName(b *starlark.Builtin) error {
	if k, n, ok := strings.Cut(s.kind, "/"); ok {
		if s.name != "" {
			return fmt.Errorf("%s: got %q and name=%q: give the name once", b.Name(), s.kind, s.name)
		}
		s.kind, s.name = k, n
	}
	return nil
}

func get(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		s    selection
		dflt starlark.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &s.kind, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace),
		"all_namespaces?", &s.allNamespaces, "selector?", &s.selector, "fields?", &s.fields,
		"default?", &dflt, "context?", starconv.OrNone(&s.context)); err != nil {
		return nil, err
	}
	if err := s.splitKindName(b); err != nil {
		return nil, err
	}
	c, err := clusterFor(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	if s.name == "" {
		list, err := c.List(ctx, s.kind, s.options())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return objectList(list.Items, nil, thread)
	}
	if s.allNamespaces || s.selector.s != "" || s.fields.s != "" {
		return nil, fmt.Errorf("%s: all_namespaces, selector and fields select a list; they cannot be used with a name", b.Name())
	}
	obj, err := c.Get(ctx, s.kind, s.name, s.namespace)
	if err != nil {
		if dflt != nil && apierrors.IsNotFound(err) {
			return dflt, nil
		}
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return NewObject(obj.Object), nil
}

// listArgs unpacks the arguments shared by k8s.list and k8s.iter, and
// returns the cluster they name.
func listArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (c Cluster, s selection, where starlark.Callable, limit int, err error) {
	err = starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &s.kind, "namespace?", starconv.OrNone(&s.namespace),
		"all_namespaces?", &s.allNamespaces, "selector?", &s.selector, "fields?", &s.fields,
		"where?", &where, "limit?", &limit, "context?", starconv.OrNone(&s.context))
	if err == nil && limit < 0 {
		err = fmt.Errorf("%s: limit must be positive, got %d", b.Name(), limit)
	}
	if err == nil {
		c, err = clusterFor(thread, b, s.context)
	}
	return c, s, where, limit, err
}

func list(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c, s, where, limit, err := listArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	opts := s.options()
	opts.Limit = int64(limit)
	l, err := c.List(sys.Context(thread), s.kind, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v, err := objectList(l.Items, where, thread)
	if err != nil {
		return nil, fmt.Errorf("%s: where: %w", b.Name(), err)
	}
	return v, nil
}

// objectList wraps items as k8s.objects, keeping those where accepts.
func objectList(items []unstructured.Unstructured, where starlark.Callable, thread *starlark.Thread) (*starlark.List, error) {
	out := make([]starlark.Value, 0, len(items))
	for i := range items {
		o := NewObject(items[i].Object)
		if where != nil {
			ok, err := accepts(thread, where, o)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, o)
	}
	return starlark.NewList(out), nil
}

func accepts(thread *starlark.Thread, where starlark.Callable, o *Object) (bool, error) {
	v, err := starlark.Call(thread, where, starlark.Tuple{o}, nil)
	if err != nil {
		return false, err
	}
	return bool(v.Truth()), nil
}

func exists(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var s selection
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &s.kind, "name", &s.name, "namespace?", starconv.OrNone(&s.namespace), "context?", starconv.OrNone(&s.context)); err != nil {
		return nil, err
	}
	c, err := clusterFor(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	ok, err := c.Exists(sys.Context(thread), s.kind, s.name, s.namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(ok), nil
}

func resources(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var context string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "context?", starconv.OrNone(&context)); err != nil {
		return nil, err
	}
	c, err := clusterFor(thread, b, context)
	if err != nil {
		return nil, err
	}
	rs, err := c.Resources()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := make([]starlark.Value, len(rs))
	for i, r := range rs {
		out[i] = starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"name":       starlark.String(r.Name),
			"shortnames": stringList(r.ShortNames),
			"kind":       starlark.String(r.Kind),
			"group":      starlark.String(r.Group),
			"version":    starlark.String(r.Version),
			"namespaced": starlark.Bool(r.Namespaced),
			"verbs":      stringList(r.Verbs),
		})
	}
	return starlark.NewList(out), nil
}

func stringList(ss []string) *starlark.List {
	out := make([]starlark.Value, len(ss))
	for i, s := range ss {
		out[i] = starlark.String(s)
	}
	return starlark.NewList(out)
}

func events(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target starlark.Value
		s      selection
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj_or_kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace), "context?", starconv.OrNone(&s.context)); err != nil {
		return nil, err
	}
	switch t := target.(type) {
	case starlark.String:
		s.kind = string(t)
		if err := s.splitKindName(b); err != nil {
			return nil, err
		}
		if s.name == "" {
			return nil, fmt.Errorf("%s: which %s? give a name", b.Name(), s.kind)
		}
	case *Object:
		s.kind, s.name = str(t.m, "kind"), str(t.m, "metadata", "name")
		if s.namespace == "" {
			s.namespace = str(t.m, "metadata", "namespace")
		}
		if s.kind == "" || s.name == "" {
			return nil, fmt.Errorf("%s: the object has no kind or metadata.name", b.Name())
		}
	default:
		return nil, fmt.Errorf("%s: got %s, want k8s.object or str", b.Name(), target.Type())
	}
	c, err := clusterFor(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	items, err := c.Events(sys.Context(thread), s.kind, s.name, s.namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return objectList(items, nil, thread)
}
