package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
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
		err := c.writeClient(r, t.ns).Delete(ctx, t.name, d)
		switch {
		case err == nil:
			deleted[i] = true
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
	var names, errNames []string
	for i, t := range targets {
		errNames = append(errNames, kindName+"/"+label(t))
		if deleted[i] {
			names = append(names, label(t))
		}
	}
	sort.Strings(names)
	return names, bulkError(errNames, errs)
}

// waitGone waits until the object t is gone (or replaced by another of the
// same name), or fails after timeout naming the finalizers that hold it. It
// reads the object, then watches it alone from that version; a watch the
// server ends is followed by another read.
func (c *Client) waitGone(ctx context.Context, r Resource, t deleteTarget, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var finalizers []string
	timedOut := func() error {
		msg := fmt.Sprintf("still there after %s", timeout)
		if len(finalizers) > 0 {
			msg += fmt.Sprintf(", held by finalizers %s", strings.Join(finalizers, ", "))
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
		t.uid, finalizers = u.GetUID(), u.GetFinalizers()
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
		gone := waitDeleted(ctx, w, &finalizers)
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
// the watch ends (false); it keeps the object's latest finalizers.
func waitDeleted(ctx context.Context, w watch.Interface, finalizers *[]string) bool {
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
					*finalizers = u.GetFinalizers()
				}
			case watch.Error:
				return false
			}
		}
	}
}
