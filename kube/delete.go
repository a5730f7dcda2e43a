package kube

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// DeleteOptions say what to delete beside a kind, and how.
type DeleteOptions struct {
	// Namespace to delete in; "" means the context's default.
	Namespace string
	// AllNamespaces deletes the matches of a selector in every namespace.
	AllNamespaces bool
	// LabelSelector and FieldSelector choose the objects when no name is
	// given; one of them is then required, so that a forgotten name never
	// deletes every object of a kind.
	LabelSelector, FieldSelector string
	// Propagation is "background" (the default), "foreground" or "orphan".
	Propagation string
	// MissingOK makes deleting a named object that does not exist no error.
	MissingOK bool
	// Wait returns only once the objects are gone, finalizers included, or
	// fails after Timeout (0 means one minute).
	Wait    bool
	Timeout time.Duration
	// DryRun sends the deletes as server-side dry runs.
	DryRun bool
	// Parallel bounds the requests in flight; 0 means DefaultParallel.
	Parallel int
}

var propagations = map[string]metav1.DeletionPropagation{
	"":           metav1.DeletePropagationBackground,
	"background": metav1.DeletePropagationBackground,
	"foreground": metav1.DeletePropagationForeground,
	"orphan":     metav1.DeletePropagationOrphan,
}

// deleteTarget is one object to delete.
type deleteTarget struct {
	ns, name string
	uid      types.UID
}

// Delete deletes the object of kind called name or, when name is "", every
// object of kind that the selectors match (in the namespace, or in all). It
// returns the names it deleted ("ns/name" across namespaces). A named object
// that does not exist is an error unless MissingOK; a selector that matches
// nothing is not.
func (c *Client) Delete(ctx context.Context, kind, name string, opts DeleteOptions) ([]string, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	return c.deleteResource(ctx, r, name, opts)
}

// DeleteObject deletes the object obj names (by apiVersion, kind, namespace
// and name).
func (c *Client) DeleteObject(ctx context.Context, obj *unstructured.Unstructured, opts DeleteOptions) ([]string, error) {
	r, err := c.ResolveGVK(obj.GetAPIVersion(), obj.GetKind())
	if err != nil {
		return nil, err
	}
	if obj.GetName() == "" {
		return nil, fmt.Errorf("the object has no metadata.name")
	}
	if obj.GetNamespace() != "" {
		opts.Namespace = obj.GetNamespace()
	}
	return c.deleteResource(ctx, r, obj.GetName(), opts)
}

// DeleteObjects deletes objs (each named by apiVersion, kind, namespace and
// name; one without a namespace is in opts.Namespace or the context's), as
// kubectl delete -f does: in the reverse of the order given, Namespaces and
// CustomResourceDefinitions last, so that what is in them goes first; then,
// with Wait, it waits for all of them at once. An object not found because
// its namespace is gone or going counts as deleted. It returns what it
// deleted, in the order given (apiVersion, kind, name and namespace); the
// error lists each object that failed.
func (c *Client) DeleteObjects(ctx context.Context, objs []*unstructured.Unstructured, opts DeleteOptions) ([]*unstructured.Unstructured, error) {
	prop, ok := propagations[opts.Propagation]
	if !ok {
		return nil, fmt.Errorf("unknown propagation %q (want background, foreground or orphan)", opts.Propagation)
	}
	if opts.AllNamespaces || opts.LabelSelector != "" || opts.FieldSelector != "" {
		return nil, fmt.Errorf("all_namespaces, selector and fields select many objects; they cannot be used with objects")
	}
	if err := c.init(); err != nil {
		return nil, err
	}
	n := len(objs)
	var (
		res     = make([]Resource, n)
		targets = make([]deleteTarget, n)
		errs    = make([]error, n)
		names   = make([]string, n)
		wheres  = make([]string, n) // their namespaces
		deleted = make([]bool, n)
	)
	for i, o := range objs {
		names[i], wheres[i] = ObjectName(o), o.GetNamespace()
		r, err := c.ResolveGVK(o.GetAPIVersion(), o.GetKind())
		if err == nil && o.GetName() == "" {
			err = fmt.Errorf("the object has no metadata.name")
		}
		if err != nil {
			errs[i] = err
			continue
		}
		ns := ""
		if r.Namespaced {
			ns = o.GetNamespace()
			if ns == "" {
				ns = c.namespaceFor(r, opts.Namespace)
			}
		}
		res[i], targets[i] = r, deleteTarget{ns: ns, name: o.GetName()}
		wheres[i] = ns
	}
	// The reverse of the order given; Namespaces and CRDs after the rest.
	var first, last []int
	for i := n - 1; i >= 0; i-- {
		if errs[i] != nil {
			continue
		}
		if g := res[i].GVK.GroupKind(); g == (schema.GroupKind{Kind: "Namespace"}) ||
			g == (schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}) {
			last = append(last, i)
		} else {
			first = append(first, i)
		}
	}
	do := metav1.DeleteOptions{PropagationPolicy: &prop, DryRun: dryRunOpt(opts.DryRun)}
	for _, phase := range [][]int{first, last} {
		perrs := forEach(ctx, len(phase), opts.Parallel, func(j int) error {
			i := phase[j]
			t := targets[i]
			uid, err := c.deleteObject(ctx, res[i], t.ns, t.name, do)
			switch {
			case err == nil:
				deleted[i], targets[i].uid = true, uid
			case apierrors.IsNotFound(err) && opts.MissingOK:
			case apierrors.IsNotFound(err) && t.ns != "" && c.namespaceGone(ctx, t.ns):
				deleted[i] = true // went with its namespace
			default:
				return apiError(err, t.ns)
			}
			return nil
		})
		for j, i := range phase {
			errs[i] = perrs[j]
		}
	}
	if opts.Wait && !opts.DryRun {
		var idx []int
		for i := range objs {
			if deleted[i] {
				idx = append(idx, i)
			}
		}
		// Every wait at once: each is a watch that mostly waits.
		werrs := forEach(ctx, len(idx), len(idx), func(j int) error {
			i := idx[j]
			return c.waitGone(ctx, res[i], targets[i], opts.Timeout)
		})
		for j, i := range idx {
			errs[i] = werrs[j]
		}
	}
	var out []*unstructured.Unstructured
	for i, o := range objs {
		if deleted[i] {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(o.GetAPIVersion())
			u.SetKind(o.GetKind())
			u.SetName(targets[i].name)
			u.SetNamespace(targets[i].ns)
			out = append(out, u)
		}
	}
	return out, bulkError(names, wheres, errs)
}

// namespaceGone tells whether namespace ns does not exist or is being
// deleted.
func (c *Client) namespaceGone(ctx context.Context, ns string) bool {
	r, err := c.ResolveGVK("v1", "Namespace")
	if err != nil {
		return false
	}
	u, err := c.resourceClient(r, "").Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	return err == nil && u.GetDeletionTimestamp() != nil
}

func (c *Client) deleteResource(ctx context.Context, r Resource, name string, opts DeleteOptions) ([]string, error) {
	prop, ok := propagations[opts.Propagation]
	if !ok {
		return nil, fmt.Errorf("unknown propagation %q (want background, foreground or orphan)", opts.Propagation)
	}
	kindName := strings.ToLower(r.GVK.Kind)
	var targets []deleteTarget
	if name != "" {
		if opts.AllNamespaces || opts.LabelSelector != "" || opts.FieldSelector != "" {
			return nil, fmt.Errorf("all_namespaces, selector and fields select many objects; they cannot be used with a name")
		}
		targets = []deleteTarget{{ns: c.namespaceFor(r, opts.Namespace), name: name}}
	} else {
		if opts.LabelSelector == "" && opts.FieldSelector == "" {
			return nil, fmt.Errorf("which %s? give a name, or a selector or fields to delete every match", kindName)
		}
		lo := ListOptions{Namespace: opts.Namespace, AllNamespaces: opts.AllNamespaces,
			LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector}
		list, err := c.List(ctx, r.GVR.Resource+"."+r.GVR.Version+"."+r.GVR.Group, lo)
		if err != nil {
			return nil, err
		}
		for _, it := range list.Items {
			if it.GetDeletionTimestamp() != nil && !opts.Wait {
				continue // already going
			}
			targets = append(targets, deleteTarget{ns: it.GetNamespace(), name: it.GetName(), uid: it.GetUID()})
		}
	}
	label := func(t deleteTarget) string {
		if opts.AllNamespaces && t.ns != "" {
			return t.ns + "/" + t.name
		}
		return t.name
	}
	do := metav1.DeleteOptions{PropagationPolicy: &prop, DryRun: dryRunOpt(opts.DryRun)}
	deleted := make([]bool, len(targets))
	errs := forEach(ctx, len(targets), opts.Parallel, func(i int) error {
		t := targets[i]
		d := do
		if t.uid != "" {
			d.Preconditions = &metav1.Preconditions{UID: &t.uid}
		}
		uid, err := c.deleteObject(ctx, r, t.ns, t.name, d)
		for n := 0; t.uid != "" && retryableDelete(err) && n < retryAttempts && ctx.Err() == nil; n++ {
			// With the UID precondition a DELETE can be sent again like a
			// read: after an unknown outcome (sent, then the connection
			// failed) or a server error, a 404 (or a 409: another object
			// of that name) now means the first one did it.
			if sleepCtx(ctx, time.Duration(rand.Int64N(int64(retryBase<<n)))+1) != nil {
				break
			}
			uid, err = c.deleteObject(ctx, r, t.ns, t.name, d)
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				err = nil
			}
		}
		switch {
		case err == nil:
			deleted[i] = true
			if t.uid == "" {
				t.uid = uid
			}
		case apierrors.IsNotFound(err) && (opts.MissingOK || name == ""):
			return nil
		case apierrors.IsConflict(err) && t.uid != "":
			return nil // replaced by another object of that name since listed
		default:
			return apiError(err, t.ns)
		}
		if opts.Wait && !opts.DryRun {
			return c.waitGone(ctx, r, t, opts.Timeout)
		}
		return nil
	})
	var names, errNames, errNss []string
	for i, t := range targets {
		errNames, errNss = append(errNames, kindName+"/"+t.name), append(errNss, t.ns)
		if deleted[i] {
			names = append(names, label(t))
		}
	}
	sort.Strings(names)
	return names, bulkError(errNames, errNss, errs)
}

// retryableDelete tells whether a DELETE with a UID precondition that
// failed with err is sent again: its outcome is unknown, or the server
// failed (500, 503, 504).
func retryableDelete(err error) bool {
	var unknown *OutcomeUnknownError
	return errors.As(err, &unknown) || apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
}

// waitGone waits until the object t is gone (or replaced by another of the
// same name), or fails after timeout naming the finalizers that hold it and
// what the object's conditions say blocks its deletion (a CRD whose
// instances cannot be listed, a Namespace with content left). It reads the
// object, then watches it alone from that version; a watch the server ends
// is followed by another read.
func (c *Client) waitGone(ctx context.Context, r Resource, t deleteTarget, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *unstructured.Unstructured
	timedOut := func() error {
		msg := fmt.Sprintf("still there after %s", timeout)
		if last != nil {
			if f := last.GetFinalizers(); len(f) > 0 {
				msg += fmt.Sprintf(", held by finalizers %s", strings.Join(f, ", "))
			}
			if b := deletionBlockers(last); len(b) > 0 {
				msg += " (" + strings.Join(b, "; ") + ")"
			}
		}
		return fmt.Errorf("%s", msg)
	}
	rc := c.resourceClient(r, t.ns)
	for {
		u, err := rc.Get(ctx, t.name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err == nil && t.uid != "" && u.GetUID() != t.uid:
			return nil
		case err != nil && ctx.Err() != nil:
			return timedOut()
		case err != nil:
			return apiError(err, t.ns)
		}
		t.uid, last = u.GetUID(), u
		w, err := rc.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", t.name).String(),
			ResourceVersion: u.GetResourceVersion(),
		})
		if err != nil {
			if ctx.Err() != nil {
				return timedOut()
			}
			// A watch that cannot start (410, a proxy without watch): read again soon.
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return timedOut()
			}
			continue
		}
		gone := waitDeleted(ctx, w, &last)
		w.Stop()
		if gone {
			return nil
		}
		if ctx.Err() != nil {
			return timedOut()
		}
	}
}

// waitDeleted reads w until the object it watches is deleted (true), or
// the watch ends (false); it keeps the object's latest state in last.
func waitDeleted(ctx context.Context, w watch.Interface, last **unstructured.Unstructured) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false
			}
			switch ev.Type {
			case watch.Deleted:
				return true
			case watch.Modified, watch.Added:
				if u, ok := ev.Object.(*unstructured.Unstructured); ok {
					*last = u
				}
			case watch.Error:
				return false
			}
		}
	}
}

// deletionBlockers are the conditions of u that say why its deletion does
// not finish, as "Reason: message": a CustomResourceDefinition's
// Terminating condition when its instances cannot be deleted
// (InstanceDeletionFailed), a Namespace's NamespaceDeletion*Failure,
// NamespaceContentRemaining and NamespaceFinalizersRemaining.
func deletionBlockers(u *unstructured.Unstructured) []string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		blocking := status == "True" && (typ == "Terminating" && strings.Contains(reason, "Failed") ||
			strings.HasPrefix(typ, "NamespaceDeletion") || strings.HasPrefix(typ, "Namespace") && strings.HasSuffix(typ, "Remaining"))
		if !blocking || msg == "" {
			continue
		}
		if reason == "" {
			reason = typ
		}
		out = append(out, reason+": "+msg)
	}
	return out
}
