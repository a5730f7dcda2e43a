package builtins

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/starconv"
)

// What the mutating members of the k8s module share, each in the file of
// its name (apply.go, delete.go, ...):
//
//	k8s.apply(objs, *, namespace=None, dry_run=False, force=False, field_manager="k8sh", parallel=8, context=None, contexts=None)
//	k8s.create(obj, *, namespace=None, dry_run=False, context=None)
//	k8s.update(obj, *, dry_run=False, context=None)
//	k8s.patch(kind, name, patch, *, type="merge", namespace=None, subresource=None, dry_run=False, context=None)
//	k8s.delete(kind_or_obj, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, wait=False, timeout="60s", propagation="background", missing_ok=False, dry_run=False, parallel=8, context=None, contexts=None)
//	k8s.diff(objs, *, namespace=None, parallel=8, context=None)
//	k8s.scale(kind, name, replicas, *, namespace=None, dry_run=False, context=None)
//	k8s.restart(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None) (rollout.go)

// Writer is what the mutating builtins need of a cluster, beside Cluster;
// kube.Client implements it.
type Writer interface {
	Apply(ctx context.Context, objs []*unstructured.Unstructured, opts kube.ApplyOptions) ([]*unstructured.Unstructured, error)
	Diff(ctx context.Context, objs []*unstructured.Unstructured, opts kube.ApplyOptions) (string, error)
	Create(ctx context.Context, obj *unstructured.Unstructured, namespace string, dryRun bool) (*unstructured.Unstructured, error)
	Update(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error)
	Patch(ctx context.Context, kind, name, namespace, typ string, data []byte, subresource string, dryRun bool) (*unstructured.Unstructured, error)
	Delete(ctx context.Context, kind, name string, opts kube.DeleteOptions) ([]string, error)
	DeleteObject(ctx context.Context, obj *unstructured.Unstructured, opts kube.DeleteOptions) ([]string, error)
	DeleteObjects(ctx context.Context, objs []*unstructured.Unstructured, opts kube.DeleteOptions) ([]*unstructured.Unstructured, error)
	Scale(ctx context.Context, kind, name, namespace string, replicas int64, dryRun bool) (*unstructured.Unstructured, error)
	// Resolve names the resource that kind (as a user types it) is.
	Resolve(kind string) (kube.Resource, error)
	// NamespaceOf is the namespace a request for kind in namespace goes to
	// ("" for the default): "" for a cluster-scoped kind.
	NamespaceOf(kind, namespace string) (string, error)
}

var _ Writer = (*kube.Client)(nil)

// change is one call of a mutating builtin: the cluster it goes to and
// whether it is a dry run (dry_run=True or the session's --dry-run).
type change struct {
	thread *starlark.Thread
	b      *starlark.Builtin
	c      Cluster
	w      Writer
	dryRun bool
}

// begin finds the cluster of kubeconfig context kctx ("" for the session's)
// and asks the session's safety policy (Mutating) whether what may be done
// there. A diff passes what == "": it changes nothing.
func begin(thread *starlark.Thread, b *starlark.Builtin, kctx string, dryRun bool, what string) (*change, error) {
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	w, c, err := clusterAs[Writer](thread, b, kctx, "this cluster cannot be changed")
	if err != nil {
		return nil, err
	}
	ch := &change{thread: thread, b: b, c: c, w: w, dryRun: dryRun || s.DryRun}
	if what != "" {
		// A planned change is a dry run too: nothing to confirm.
		if err := Mutating(thread, b, c, what, ch.dryRun || s.Planner.Planning()); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// done tells the REPL user what the change did to each of objs, one line
// each in the words kubectl prints ("deployment.apps/web scaled", with
// " (server dry run)" for a dry run), and gives Announce the builtin's
// value, result, so that the REPL's echo does not print it again.
func (ch *change) done(verb string, result starlark.Value, objs ...*unstructured.Unstructured) {
	verbs := make([]string, len(objs))
	for i := range verbs {
		verbs[i] = verb
	}
	ch.doneEach(result, objs, verbs)
}

// doneEach is done with a verb for each object (verbs[i] of objs[i]):
// "labeled", "not labeled". A nil object or an empty verb says nothing.
func (ch *change) doneEach(result starlark.Value, objs []*unstructured.Unstructured, verbs []string) {
	ch.doneNotes(result, objs, verbs, nil)
}

// doneNotes is doneEach with lines said before each object's (notes[i]
// before objs[i]'s), as kubectl prints `label "x" not found.`.
func (ch *change) doneNotes(result starlark.Value, objs []*unstructured.Unstructured, verbs []string, notes [][]string) {
	dry := ""
	if ch.dryRun {
		dry = " (server dry run)"
	} else if Planning(ch.thread) {
		dry = " (planned)"
	}
	lines := make([]string, 0, len(objs))
	for i, o := range objs {
		if o == nil || verbs[i] == "" {
			continue
		}
		if i < len(notes) {
			lines = append(lines, notes[i]...)
		}
		if verbs[i] == "deleted" {
			lines = append(lines, deletedLine(o, dry))
			continue
		}
		var b strings.Builder
		p := &printers.NamePrinter{Operation: verbs[i] + dry}
		if p.PrintObj(o, &b) == nil {
			lines = append(lines, strings.TrimSuffix(b.String(), "\n"))
		}
	}
	Announce(ch.thread, ch.c, lines, result)
}

// deletedLine is what kubectl delete prints of o (its PrintObj, in
// k8s.io/kubectl/pkg/cmd/delete): `deployment.apps "web" deleted from
// default namespace`.
func deletedLine(o *unstructured.Unstructured, dry string) string {
	gk := o.GroupVersionKind().GroupKind()
	kind := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		kind += "." + gk.Group
	}
	op := "deleted"
	if ns := o.GetNamespace(); ns != "" {
		op += " from " + ns + " namespace"
	}
	return fmt.Sprintf("%s \"%s\" %s%s", kind, o.GetName(), op, dry)
}

// named is an object of kind called name in namespace, as the change
// lines name it (kind is a Kind, "Deployment"; group its API group).
func named(group, kind, name, namespace string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Kind: kind})
	u.SetName(name)
	u.SetNamespace(namespace)
	return u
}

// objectsWhat describes objs for Mutating: "deployment/web" or
// "59 objects".
func objectsWhat(objs []*unstructured.Unstructured) string {
	if len(objs) == 1 {
		return kube.ObjectName(objs[0])
	}
	return fmt.Sprintf("%d objects", len(objs))
}

// changeDoc ends the doc of every mutating builtin.
const changeDoc = `

context names another kubeconfig context to make the change in. A change
in a read-only context (--read-only, or read_only in the k8sh config) is
refused; in a protected one it must be confirmed (--yes, or typing the
context's name in the REPL). dry_run=True (or --dry-run) makes it a
server-side dry run: the server validates and answers, nothing is
persisted.`

const objsDoc = `objs is a k8s.object, a dict, YAML (or JSON) text with one or many
documents separated by "---", a path, or a list of any of them. A string
of one line that ends in "/", ".yaml", ".yml" or ".json" is a path
(relative to the script's directory, as file.read reads it): a file, or a
directory whose .yaml, .yml and .json files are read in name order (not
its subdirectories), as kubectl apply -f DIR reads them; a directory with
a kustomization.yaml (or .yml, or Kustomization) is built with kustomize
as kubectl apply -k DIR builds it (see k8s.kustomize). Any other string is
YAML text. A kind: List (or any *List with items) stands for its items,
nested Lists too. An object given twice (same group, kind, namespace and
name) is sent once, as the last one given, at its place (so it is listed
once in what is returned), and a "Warning:" line on stderr names both
places when they differ. A YAML error names the file,
the document (from 1), its kind and name, and the line in the file.`

// waitTimeout is a duration given as "30s", "2m" or a number of seconds.
type waitTimeout struct{ d time.Duration }

func (a *waitTimeout) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.String:
		d, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. \"30s\" or \"2m\")", string(v))
		}
		a.d = d
	case starlark.Int, starlark.Float:
		f, _ := starlark.AsFloat(v)
		a.d = time.Duration(f * float64(time.Second))
	default:
		return fmt.Errorf("got %s, want a duration such as \"30s\"", v.Type())
	}
	if a.d <= 0 {
		return fmt.Errorf("duration must be positive")
	}
	return nil
}

// objectsArg is what objs accepts: a k8s.object, a dict, YAML text, a path,
// or a list of them; Lists expanded, duplicates dropped (see manifest.go).
// single tells whether it was one object (so one is returned).
type objectsArg struct {
	objs   []*unstructured.Unstructured
	single bool
}

// unpack reads v for builtin b.
func (a *objectsArg) unpack(thread *starlark.Thread, b *starlark.Builtin, v starlark.Value) error {
	a.objs, a.single = nil, false
	r := &manifestReader{thread: thread, b: b}
	switch v := v.(type) {
	case *starlark.List, starlark.Tuple:
		it := v.(starlark.Iterable).Iterate()
		defer it.Done()
		var x starlark.Value
		for i := 0; it.Next(&x); i++ {
			if err := r.value(x, fmt.Sprintf("item %d", i)); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
	case starlark.String:
		if err := r.value(v, ""); err != nil {
			return err
		}
		a.single = len(r.out) == 1 && !r.dir
	default:
		if err := r.value(v, "the object"); err != nil {
			return err
		}
		a.single = len(r.out) == 1 && r.out[0].source == "the object"
	}
	a.objs = r.dedupe()
	return nil
}

func goTypeName(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case nil:
		return "null"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	}
	return fmt.Sprintf("%T", v)
}

func toUnstructured(v starlark.Value) (*unstructured.Unstructured, error) {
	switch v := v.(type) {
	case *Object:
		return &unstructured.Unstructured{Object: v.Map()}, nil
	case starlark.IterableMapping:
		g, err := starconv.FromStarlark(v)
		if err != nil {
			return nil, err
		}
		return &unstructured.Unstructured{Object: g.(map[string]any)}, nil
	}
	return nil, fmt.Errorf("got %s, want k8s.object or dict", v.Type())
}

// oneObject unpacks obj for builtins that take exactly one.
func oneObject(thread *starlark.Thread, b *starlark.Builtin, v starlark.Value) (*unstructured.Unstructured, error) {
	var a objectsArg
	if err := a.unpack(thread, b, v); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if len(a.objs) != 1 {
		return nil, fmt.Errorf("%s: got %d objects, want one (k8s.apply takes many)", b.Name(), len(a.objs))
	}
	return a.objs[0], nil
}

func objectValues(us []*unstructured.Unstructured) *starlark.List {
	out := make([]starlark.Value, len(us))
	for i, u := range us {
		if u == nil {
			out[i] = starlark.None
		} else {
			out[i] = NewObject(u.Object)
		}
	}
	return starlark.NewList(out)
}
