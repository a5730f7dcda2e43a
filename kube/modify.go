package kube

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Selection names the objects a bulk change goes to, as kubectl label and
// kubectl set take them: one object of Kind called Name, or, when Name is
// "", every object of Kind that ModifyOptions.LabelSelector matches.
type Selection struct {
	// Kind as a user types it ("deploy"), or "Kind.version.group".
	Kind string
	Name string
	// Namespace of the object; "" for the context's default.
	Namespace string
}

// ModifyOptions tune Modify.
type ModifyOptions struct {
	// LabelSelector chooses the objects of a Selection without a name.
	LabelSelector string
	// AllNamespaces looks for them in every namespace.
	AllNamespaces bool
	DryRun        bool
	// Parallel bounds the requests in flight; 0 means DefaultParallel.
	Parallel int
}

// Change is what a Mutation makes of one object: the patch to send (none
// when the object needs no change) and the verb that tells it, in
// kubectl's words ("labeled", "not labeled", "image updated").
type Change struct {
	Patch []byte
	Type  types.PatchType
	Verb  string
	// Notes are what kubectl prints before the verb's line (`label "x"
	// not found.`).
	Notes []string
}

// Mutation decides the change of one object, given as it is on the
// server. It must not keep obj. An error refuses the change of that
// object only.
type Mutation func(obj *unstructured.Unstructured) (Change, error)

// Outcome is the outcome of a bulk change for one object.
type Outcome struct {
	// Object is the object after the change: what the server answered to
	// the patch, or the object as read when nothing was sent. nil when the
	// change of this object failed.
	Object *unstructured.Unstructured
	// Verb and Notes are the Change's.
	Verb  string
	Notes []string
}

// modifyItem is one object of a bulk change: read already (obj, from a
// list) or to be read (by name).
type modifyItem struct {
	r        Resource
	ns, name string
	obj      *unstructured.Unstructured
	what     string
}

// Modify reads each object that sels name, as kubectl label and kubectl set
// do (a GET for a named object, a LIST for a selector), has fn decide its
// change and sends it, parallel at a time. It returns one Outcome per
// object, in the order of sels, the objects of a selector in the order the
// list gives them. One failure does not stop the others: the error is a
// *BulkError that names each object that failed, and the others are
// changed.
func (c *Client) Modify(ctx context.Context, sels []Selection, opts ModifyOptions, fn Mutation) ([]Outcome, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	var items []modifyItem
	var pre []error // failures before any object is known: a kind, a list
	var preNames []string
	for _, s := range sels {
		r, err := c.Resolve(s.Kind)
		if err != nil {
			pre, preNames = append(pre, err), append(preNames, s.Kind)
			continue
		}
		kind := strings.ToLower(r.GVK.Kind)
		if s.Name != "" {
			ns := c.namespaceFor(r, s.Namespace)
			items = append(items, modifyItem{r: r, ns: ns, name: s.Name, what: kind + "/" + s.Name})
			continue
		}
		lo := ListOptions{Namespace: s.Namespace, AllNamespaces: opts.AllNamespaces, LabelSelector: opts.LabelSelector}
		l, err := c.List(ctx, r.GVR.Resource+"."+r.GVR.Version+"."+r.GVR.Group, lo)
		if err != nil {
			pre = append(pre, err)
			preNames = append(preNames, fmt.Sprintf("%s matching %q", r.GVR.Resource, opts.LabelSelector))
			continue
		}
		for i := range l.Items {
			u := &l.Items[i]
			u.SetAPIVersion(r.GVK.GroupVersion().String())
			u.SetKind(r.GVK.Kind)
			items = append(items, modifyItem{r: r, ns: u.GetNamespace(), name: u.GetName(), obj: u, what: kind + "/" + u.GetName()})
		}
	}
	if len(pre) > 0 {
		return nil, bulkError(preNames, make([]string, len(pre)), pre)
	}
	names, nss := make([]string, len(items)), make([]string, len(items))
	for i, it := range items {
		names[i], nss[i] = it.what, it.ns
	}
	out := make([]Outcome, len(items))
	errs := forEach(ctx, len(items), opts.Parallel, func(i int) error {
		it := items[i]
		obj := it.obj
		if obj == nil {
			u, err := c.writeClient(it.r, it.ns).Get(ctx, it.name, metav1.GetOptions{})
			if err != nil {
				return c.missingNamespace(ctx, err, it.ns)
			}
			obj = u
		}
		ch, err := fn(obj.DeepCopy())
		if err != nil {
			return err
		}
		if ch.Patch == nil {
			out[i] = Outcome{Object: obj, Verb: ch.Verb, Notes: ch.Notes}
			return nil
		}
		u, err := c.writeClient(it.r, it.ns).Patch(ctx, it.name, ch.Type, ch.Patch, metav1.PatchOptions{
			FieldManager: DefaultFieldManager, DryRun: dryRunOpt(opts.DryRun),
		})
		if err != nil {
			return writeError(err, it.ns)
		}
		out[i] = Outcome{Object: u, Verb: ch.Verb, Notes: ch.Notes}
		return nil
	})
	return out, bulkError(names, nss, errs)
}
