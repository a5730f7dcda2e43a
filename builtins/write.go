package builtins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/lib/yaml"
)

// The mutating members of the k8s module:
//
//	k8s.apply(objs, *, namespace=None, dry_run=False, force=False, field_manager="k8sh", parallel=8, context=None)
//	k8s.create(obj, *, namespace=None, dry_run=False, context=None)
//	k8s.update(obj, *, dry_run=False, context=None)
//	k8s.patch(kind, name, patch, *, type="merge", namespace=None, subresource=None, dry_run=False, context=None)
//	k8s.delete(kind_or_obj, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, wait=False, timeout="60s", propagation="background", missing_ok=False, dry_run=False, parallel=8, context=None)
//	k8s.diff(objs, *, namespace=None, parallel=8, context=None)
//	k8s.scale(kind, name, replicas, *, namespace=None, dry_run=False, context=None)
//	k8s.restart(kind, name, *, namespace=None, dry_run=False, context=None)
func init() {
	for name, b := range map[string]*starlark.Builtin{
		"apply":   doc.Builtin("k8s.apply", applyDoc, applyBuiltin),
		"create":  doc.Builtin("k8s.create", createDoc, createBuiltin),
		"update":  doc.Builtin("k8s.update", updateDoc, updateBuiltin),
		"patch":   doc.Builtin("k8s.patch", patchDoc, patchBuiltin),
		"delete":  doc.Builtin("k8s.delete", deleteDoc, deleteBuiltin),
		"diff":    doc.Builtin("k8s.diff", diffDoc, diffBuiltin),
		"scale":   doc.Builtin("k8s.scale", scaleDoc, scaleBuiltin),
		"restart": doc.Builtin("k8s.restart", restartDoc, restartBuiltin),
	} {
		K8s.Members[name] = b
	}
}

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
	Scale(ctx context.Context, kind, name, namespace string, replicas int64, dryRun bool) (*unstructured.Unstructured, error)
	Restart(ctx context.Context, kind, name, namespace string, dryRun bool) (*unstructured.Unstructured, error)
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
		if err := Mutating(thread, b, c, what, ch.dryRun); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// done announces (in the REPL) what was changed in namespace.
func (ch *change) done(msg, namespace string) {
	if ch.dryRun {
		msg += " (server dry run)"
	}
	Announce(ch.thread, ch.c, msg, namespace)
}

// sharedNamespace is the namespace of objs when they all have the same
// one, "" otherwise (several, or cluster-scoped).
func sharedNamespace(objs []*unstructured.Unstructured) string {
	ns := ""
	for i, o := range objs {
		if i > 0 && o.GetNamespace() != ns {
			return ""
		}
		ns = o.GetNamespace()
	}
	return ns
}

// objectsWhat describes objs for Mutating and Announce: "deployment/web" or
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

const objsDoc = `objs is a k8s.object, a dict, a list of them, or YAML (or JSON) text with
one or many documents separated by "---".`

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
others stay applied.` + changeDoc

const createDoc = `k8s.create(obj, *, namespace=None, dry_run=False, context=None)

Creates obj (a k8s.object, a dict or one YAML document) and returns it as
the server made it. Fails if it already exists. metadata.generateName works.
Objects without a namespace go to namespace, else to the session's.` + changeDoc

const updateDoc = `k8s.update(obj, *, dry_run=False, context=None)

Replaces the object with obj, typically one read with k8s.get and changed:
d = k8s.get("deploy", "web"); d.spec.replicas = 3; k8s.update(d).
When obj has a metadata.resourceVersion and the object changed since it was
read, it fails with a conflict that says so (optimistic concurrency): get it
again and redo the change.` + changeDoc

const patchDoc = `k8s.patch(kind, name, patch, *, type="merge", namespace=None, subresource=None, dry_run=False, context=None)

Patches one object and returns it. patch is a dict or list, or JSON or YAML
text. type is "merge" (RFC 7386), "strategic" (Kubernetes strategic merge
patch, for built-in kinds) or "json" (RFC 6902, a list of operations).
subresource="status" patches the status; subresource="scale" the Scale:
k8s.patch("deploy", "web", {"spec": {"replicas": 2}}, subresource="scale").` + changeDoc

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

const diffDoc = `k8s.diff(objs, *, namespace=None, parallel=8, context=None)

What k8s.apply(objs) would change, as a unified diff text of the live
objects against the result of a server-side dry-run apply, in YAML, leaving
out managedFields, resourceVersion, generation, uid and timestamps. The
text is empty when nothing would change; an object that does not exist yet
diffs against /dev/null. ` + objsDoc + `
context names another kubeconfig context to compare with.`

const scaleDoc = `k8s.scale(kind, name, replicas, *, namespace=None, dry_run=False, context=None)

Sets the replicas of a deployment, statefulset, replicaset or any kind with
a scale subresource, through that subresource, and returns the Scale.` + changeDoc

const restartDoc = `k8s.restart(kind, name, *, namespace=None, dry_run=False, context=None)

Restarts the pods of a deployment, statefulset or daemonset the way kubectl
rollout restart does: it sets the pod template annotation
kubectl.kubernetes.io/restartedAt to now, so the controller rolls them.
Returns the object.` + changeDoc

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

// objectsArg is what objs accepts: a k8s.object, a dict, a list of them, or
// YAML text. single tells whether it was one object (so one is returned).
type objectsArg struct {
	objs   []*unstructured.Unstructured
	single bool
}

func (a *objectsArg) Unpack(v starlark.Value) error {
	a.objs, a.single = nil, false
	switch v := v.(type) {
	case starlark.String:
		docs, err := yaml.DecodeDocuments(string(v))
		if err != nil {
			return fmt.Errorf("invalid YAML: %w", err)
		}
		if len(docs) == 0 {
			return fmt.Errorf("the YAML text holds no object")
		}
		for i, d := range docs {
			m, ok := d.(map[string]any)
			if !ok {
				return fmt.Errorf("YAML document %d is a %s, want a mapping", i+1, goTypeName(d))
			}
			a.objs = append(a.objs, &unstructured.Unstructured{Object: m})
		}
		a.single = len(docs) == 1
		return nil
	case *Object, starlark.IterableMapping:
		u, err := toUnstructured(v)
		if err != nil {
			return err
		}
		a.objs, a.single = []*unstructured.Unstructured{u}, true
		return nil
	case *starlark.List, starlark.Tuple:
		it := v.(starlark.Iterable).Iterate()
		defer it.Done()
		var x starlark.Value
		for i := 0; it.Next(&x); i++ {
			u, err := toUnstructured(x)
			if err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
			a.objs = append(a.objs, u)
		}
		return nil
	}
	return fmt.Errorf("got %s, want k8s.object, dict, list or YAML text", v.Type())
}

func goTypeName(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case string:
		return "string"
	case nil:
		return "null"
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
func oneObject(b *starlark.Builtin, v starlark.Value) (*unstructured.Unstructured, error) {
	var a objectsArg
	if err := a.Unpack(v); err != nil {
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
	if err := objs.Unpack(objsV); err != nil {
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
	ch.done("applied "+objectsWhat(objs.objs), sharedNamespace(out))
	if objs.single {
		return NewObject(out[0].Object), nil
	}
	return objectValues(out), nil
}

func createBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		obj      starlark.Value
		ns, kctx string
		dryRun   bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &obj, "namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	u, err := oneObject(b, obj)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, "create "+kube.ObjectName(u))
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Create(sys.Context(thread), u, ns, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch.done("created "+kube.ObjectName(out), out.GetNamespace())
	return NewObject(out.Object), nil
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
	u, err := oneObject(b, obj)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, "update "+kube.ObjectName(u))
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Update(sys.Context(thread), u, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch.done("updated "+kube.ObjectName(out), out.GetNamespace())
	return NewObject(out.Object), nil
}

func patchBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind, name string
		patch      starlark.Value
		typ        = "merge"
		ns, sub    string
		dryRun     bool
		kctx       string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kind, "name", &name, "patch", &patch,
		"type?", &typ, "namespace?", starconv.OrNone(&ns), "subresource?", starconv.OrNone(&sub), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if _, ok := kube.PatchTypes[typ]; !ok {
		return nil, fmt.Errorf("%s: unknown patch type %q (want \"merge\", \"strategic\" or \"json\")", b.Name(), typ)
	}
	var data any
	switch p := patch.(type) {
	case starlark.String:
		docs, err := yaml.DecodeDocuments(string(p))
		if err != nil {
			return nil, fmt.Errorf("%s: invalid patch: %w", b.Name(), err)
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%s: the patch text holds %d documents, want one", b.Name(), len(docs))
		}
		data = docs[0]
	default:
		g, err := starconv.FromStarlark(patch)
		if err != nil {
			return nil, fmt.Errorf("%s: patch: %w", b.Name(), err)
		}
		data = g
	}
	js, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: patch: %w", b.Name(), err)
	}
	ch, err := begin(thread, b, kctx, dryRun, "patch "+kind+"/"+name)
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Patch(sys.Context(thread), kind, name, ns, typ, js, sub, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch.done("patched "+kind+"/"+name, out.GetNamespace())
	return NewObject(out.Object), nil
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
	if len(names) > 0 {
		ch.done(fmt.Sprintf("deleted %d (%s)", len(names), desc), where)
	}
	out := make([]starlark.Value, len(names))
	for i, n := range names {
		out[i] = starlark.String(n)
	}
	return starlark.NewList(out), nil
}

func diffBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		objsV    starlark.Value
		ns, kctx string
		parallel = kube.DefaultParallel
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "objs", &objsV, "namespace?", starconv.OrNone(&ns), "parallel?", &parallel, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if parallel < 1 {
		return nil, fmt.Errorf("%s: parallel must be at least 1, got %d", b.Name(), parallel)
	}
	var objs objectsArg
	if err := objs.Unpack(objsV); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch, err := begin(thread, b, kctx, true, "")
	if err != nil {
		return nil, err
	}
	text, err := ch.w.Diff(sys.Context(thread), objs.objs, kube.ApplyOptions{Namespace: ns, Parallel: parallel})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

func scaleBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind, name string
		replicas   int
		ns, kctx   string
		dryRun     bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kind, "name", &name, "replicas", &replicas,
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("scale %s/%s to %d", kind, name, replicas)
	ch, err := begin(thread, b, kctx, dryRun, what)
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Scale(sys.Context(thread), kind, name, ns, int64(replicas), ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch.done(fmt.Sprintf("scaled %s/%s to %d", kind, name, replicas), out.GetNamespace())
	return NewObject(out.Object), nil
}

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
	ch.done("restarted "+kind+"/"+name, out.GetNamespace())
	return NewObject(out.Object), nil
}
