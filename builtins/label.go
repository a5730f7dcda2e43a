package builtins

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["label"] = doc.Builtin("k8s.label", labelDoc, labelBuiltin)
	K8s.Members["annotate"] = doc.Builtin("k8s.annotate", annotateDoc, labelBuiltin)
}

const labelDoc = `k8s.label(targets, labels, *, overwrite=False, selector=None, all_namespaces=False, namespace=None, resource_version=None, dry_run=False, parallel=8, context=None)

Sets and removes labels as kubectl label does: {"tier": "front"} sets a
label, {"tier": None} removes it (kubectl's tier-). A label that has
another value is refused unless overwrite=True, with kubectl's message
('tier' already has a value (back), and --overwrite is false); one
already set as asked is left alone ("not labeled"). Each object is read,
then changed by a JSON merge patch of its metadata, as kubectl sends it.
` + targetsDoc + `

resource_version (one object only) makes the change fail with a conflict
when the object is at another version. Each object changed is announced
in kubectl's words: "deployment.apps/web labeled" ("unlabeled",
"modified", "not labeled").` + changeDoc

const annotateDoc = `k8s.annotate(targets, annotations, *, overwrite=False, selector=None, all_namespaces=False, namespace=None, resource_version=None, dry_run=False, parallel=8, context=None)

Sets and removes annotations as kubectl annotate does: {"k": "v"} sets,
{"k": None} removes (kubectl's k-). An annotation that has another value
is refused unless overwrite=True, with kubectl's message (--overwrite is
false but found the following declared annotation(s): 'k' already has a
value (v)). Sent as a JSON merge patch of the metadata, as kubectl sends
it; each object is announced "deployment.apps/web annotated".
` + targetsDoc + changeDoc

const targetsDoc = `
targets is one object (a k8s.object, a dict, or "kind/name"), a list of
them, or a kind with selector= for every object of that kind it matches,
in namespace= or with all_namespaces=True in every namespace, as
kubectl label deploy -l app=web does: k8s.label("deploy", {"tier":
"front"}, selector="app=web"). The objects are changed parallel at a
time; it returns the object (one given) or the list of them in order
(the objects of a selector in the order the API lists them). One object
that fails does not stop the others: the error names each that failed
("2 of 200 objects failed: deployment/web-7: ..."), the others are
changed.`

// Modifier is what a bulk change of objects read first needs (k8s.label,
// k8s.set_image, ...); kube.Client implements it.
type Modifier interface {
	Modify(ctx context.Context, sels []kube.Selection, opts kube.ModifyOptions, fn kube.Mutation) ([]kube.Outcome, error)
}

var _ Modifier = (*kube.Client)(nil)

// targets is the objects a bulk change goes to, as the targets argument
// and selector=, namespace= and all_namespaces= name them.
type targets struct {
	sels   []kube.Selection
	single bool // one object given: one returned
	opts   kube.ModifyOptions
	what   string // for Mutating: "deploy/web", "every deploy matching app=web"
}

// unpackTargets reads targets (see targetsDoc).
func unpackTargets(b *starlark.Builtin, v starlark.Value, sel selectorArg, ns string, allNs bool) (*targets, error) {
	t := &targets{opts: kube.ModifyOptions{LabelSelector: sel.s, AllNamespaces: allNs}}
	one := func(x starlark.Value) error {
		r, err := unpackRef(b, x, "")
		if err != nil {
			return err
		}
		if r.name == "" {
			return fmt.Errorf("%s: %q names a kind: give \"%s/NAME\", or the kind alone with selector= for every match", b.Name(), r.kind, r.kind)
		}
		if r.namespace, err = r.inNamespace(b, ns); err != nil {
			return err
		}
		t.sels = append(t.sels, kube.Selection{Kind: r.kind, Name: r.name, Namespace: r.namespace})
		return nil
	}
	switch x := v.(type) {
	case starlark.String:
		if !strings.Contains(string(x), "/") {
			if sel.s == "" {
				return nil, fmt.Errorf("%s: which %s? give \"%s/NAME\", or selector= to change every match", b.Name(), string(x), string(x))
			}
			t.sels = []kube.Selection{{Kind: string(x), Namespace: ns}}
			t.what = "every " + string(x) + " matching " + sel.s
			if allNs {
				t.what += " in all namespaces"
			}
			return t, nil
		}
		if err := one(x); err != nil {
			return nil, err
		}
		t.single = true
	case *starlark.List, starlark.Tuple:
		it := x.(starlark.Iterable).Iterate()
		defer it.Done()
		var e starlark.Value
		for it.Next(&e) {
			if err := one(e); err != nil {
				return nil, err
			}
		}
		if len(t.sels) == 0 {
			return nil, fmt.Errorf("%s: no objects given", b.Name())
		}
	default:
		if err := one(v); err != nil {
			return nil, err
		}
		t.single = true
	}
	if sel.s != "" || allNs {
		return nil, fmt.Errorf("%s: selector= and all_namespaces= are for a kind: give the kind alone (\"deploy\"), not objects", b.Name())
	}
	if len(t.sels) == 1 {
		t.what = t.sels[0].Kind + "/" + t.sels[0].Name
	} else {
		t.what = fmt.Sprintf("%d objects", len(t.sels))
	}
	return t, nil
}

// modify makes the change fn on t's objects in ch's cluster, announces
// each object changed with its verb, and returns the object (one given)
// or the list. When some failed, the others are announced and the error
// names those that failed.
func (t *targets) modify(ch *change, parallel int, fn kube.Mutation) (starlark.Value, error) {
	m, ok := ch.w.(Modifier)
	if !ok {
		return nil, fmt.Errorf("%s: this cluster cannot be changed", ch.b.Name())
	}
	opts := t.opts
	opts.DryRun, opts.Parallel = ch.dryRun, parallel
	res, err := m.Modify(sys.Context(ch.thread), t.sels, opts, fn)
	var be *kube.BulkError
	if err != nil && t.single && errors.As(err, &be) && len(be.Errors) == 1 && be.Total == 1 {
		err = be.Errors[0]
	}
	objs := make([]*unstructured.Unstructured, len(res))
	verbs := make([]string, len(res))
	notes := make([][]string, len(res))
	vals := make([]starlark.Value, len(res))
	for i, r := range res {
		objs[i], verbs[i], notes[i], vals[i] = r.Object, r.Verb, r.Notes, starlark.None
		if r.Object != nil {
			vals[i] = NewObject(r.Object.Object)
		}
	}
	var v starlark.Value = starlark.NewList(vals)
	if t.single && len(vals) == 1 {
		v = vals[0]
	}
	ch.doneNotes(v, objs, verbs, notes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ch.b.Name(), err)
	}
	return v, nil
}

func labelBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target, changes starlark.Value
		overwrite       bool
		sel             selectorArg
		allNs, dryRun   bool
		ns, rv, kctx    string
		parallel        = kube.DefaultParallel
	)
	param := "labels"
	annotate := b.Name() == "k8s.annotate"
	if annotate {
		param = "annotations"
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "targets", &target, param, &changes,
		"overwrite?", &overwrite, "selector?", &sel, "all_namespaces?", &allNs, "namespace?", starconv.OrNone(&ns),
		"resource_version?", starconv.OrNone(&rv), "dry_run?", &dryRun, "parallel?", &parallel, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	mc := kube.MetadataChange{Annotations: annotate, Set: map[string]string{}, Overwrite: overwrite, ResourceVersion: rv}
	d, ok := changes.(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("%s: for parameter %s: got %s, want dict (a value of None removes the key)", b.Name(), param, changes.Type())
	}
	for _, kv := range d.Items() {
		k, ok := starlark.AsString(kv[0])
		if !ok {
			return nil, fmt.Errorf("%s: %s: keys must be str, got %s", b.Name(), param, kv[0].Type())
		}
		switch v := kv[1].(type) {
		case starlark.NoneType:
			mc.Remove = append(mc.Remove, k)
		case starlark.String:
			mc.Set[k] = string(v)
		default:
			return nil, fmt.Errorf("%s: %s: the value of %q is a %s, want str (or None to remove it)", b.Name(), param, k, kv[1].Type())
		}
	}
	if err := mc.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	t, err := unpackTargets(b, target, sel, ns, allNs)
	if err != nil {
		return nil, err
	}
	if rv != "" && !t.single {
		return nil, fmt.Errorf("%s: resource_version may only be used with a single object", b.Name())
	}
	verb := "label"
	if annotate {
		verb = "annotate"
	}
	ch, err := begin(thread, b, kctx, dryRun, verb+" "+t.what)
	if err != nil {
		return nil, err
	}
	return t.modify(ch, parallel, mc.Mutate)
}
