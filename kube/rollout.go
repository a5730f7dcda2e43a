package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"k8s.io/kubectl/pkg/scheme"
)

// rolloutKinds are the kinds kubectl rollout acts on.
var rolloutKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "apps", Kind: "DaemonSet"}:   true,
}

// rolloutResource resolves kind for rollout verb, which only deployments,
// statefulsets and daemonsets take.
func (c *Client) rolloutResource(kind, verb string) (Resource, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return Resource{}, err
	}
	if !rolloutKinds[r.GVK.GroupKind()] {
		return Resource{}, fmt.Errorf("cannot %s %s: only deployments, statefulsets and daemonsets have rollouts", verb, r)
	}
	return r, nil
}

// RolloutStatusOptions are the options of kubectl rollout status.
type RolloutStatusOptions struct {
	// Revision pins the revision whose status is shown (0: the latest).
	Revision int64
	// Watch keeps watching until the rollout is done; without it the
	// status is reported once.
	Watch bool
	// Timeout ends the watch with a RolloutTimeoutError (0: none).
	Timeout time.Duration
	// Report is called with each status line kubectl prints, as it
	// happens, without its newline.
	Report func(line string)
}

// RolloutTimeoutError is a rollout that was not done when the timeout
// came: the last status line and the pods that were not ready.
type RolloutTimeoutError struct {
	Object  string // deployment "web"
	Timeout time.Duration
	Last    string
	Pods    []string // "web-5fc9-x (ContainersNotReady: ...)"
}

func (e *RolloutTimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for the rollout of %s", e.Timeout, e.Object)
	if e.Last != "" {
		msg += ": last status: " + e.Last
	}
	if len(e.Pods) > 0 {
		msg += "; not ready: " + strings.Join(e.Pods, ", ")
	}
	return msg
}

// RolloutStatus watches the rollout of one deployment, statefulset or
// daemonset, as kubectl rollout status does (polymorphichelpers'
// StatusViewer on each version of the object a watch sees), calling
// o.Report with each status line, until the rollout is done. It returns
// the object as last seen and whether the rollout is done (false only
// without o.Watch).
func (c *Client) RolloutStatus(ctx context.Context, ref Selection, o RolloutStatusOptions) (*unstructured.Unstructured, bool, error) {
	r, err := c.rolloutResource(ref.Kind, "show the rollout status of")
	if err != nil {
		return nil, false, err
	}
	viewer, err := polymorphichelpers.StatusViewerFor(r.GVK.GroupKind())
	if err != nil {
		return nil, false, err
	}
	ns := c.namespaceFor(r, ref.Namespace)
	if err := checkSegments(ns, ref.Name); err != nil {
		return nil, false, err
	}
	// kubectl reads the object first (its resource builder): a missing one
	// is NotFound, not a watch that waits for it.
	if _, err := c.dynamic.Resource(r.GVR).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
		return nil, false, &ObjectError{Object: strings.ToLower(r.GVK.Kind) + "/" + ref.Name, Err: apiError(err, ns)}
	}
	ri := c.dynamic.Resource(r.GVR).Namespace(ns)
	sel := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = sel
			return ri.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = sel
			return ri.Watch(ctx, opts)
		},
	}
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, o.Timeout)
	}
	defer cancel()
	var last *unstructured.Unstructured
	var lastLine string
	done := false
	_, err = watchtools.UntilWithSync(wctx, lw, &unstructured.Unstructured{}, nil, func(e watch.Event) (bool, error) {
		switch e.Type {
		case watch.Added, watch.Modified:
			u, ok := e.Object.(*unstructured.Unstructured)
			if !ok {
				return true, fmt.Errorf("internal error: unexpected object %T", e.Object)
			}
			last = u
			status, ok2, err := viewer.Status(u, o.Revision)
			if err != nil {
				return false, err
			}
			lastLine = strings.TrimSuffix(status, "\n")
			if o.Report != nil && status != "" {
				o.Report(lastLine)
			}
			done = ok2
			return done || !o.Watch, nil
		case watch.Deleted:
			return true, fmt.Errorf("object has been deleted")
		}
		return true, fmt.Errorf("internal error: unexpected event %#v", e)
	})
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			te := &RolloutTimeoutError{Object: fmt.Sprintf("%s %q", strings.ToLower(r.GVK.Kind), ref.Name), Timeout: o.Timeout, Last: lastLine}
			if last != nil {
				te.Pods = c.notReadyPods(ctx, last)
			}
			return last, false, te
		}
		if ctx.Err() != nil {
			return last, false, ctx.Err()
		}
		return last, false, &ObjectError{Object: strings.ToLower(r.GVK.Kind) + "/" + ref.Name, Err: err}
	}
	return last, done, nil
}

// notReadyPods names the pods of workload u that are not Ready, with why,
// for a timeout's error: at most five.
func (c *Client) notReadyPods(ctx context.Context, u *unstructured.Unstructured) []string {
	sel, found, _ := unstructured.NestedMap(u.Object, "spec", "selector")
	if !found {
		return nil
	}
	ls := &metav1.LabelSelector{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(sel, ls); err != nil {
		return nil
	}
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return nil
	}
	cs, err := c.clientset()
	if err != nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods(u.GetNamespace()).List(lctx, metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		return nil
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		why := string(p.Status.Phase)
		ready := false
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady {
				ready = cond.Status == corev1.ConditionTrue
				if cond.Reason != "" {
					why = cond.Reason
					if cond.Message != "" {
						why += ": " + cond.Message
					}
				}
			}
		}
		if ready {
			continue
		}
		if len(out) == 5 {
			out = append(out, "...")
			break
		}
		out = append(out, fmt.Sprintf("%s (%s)", p.Name, why))
	}
	return out
}

// Revision is one revision of a workload's rollout history.
type Revision struct {
	Number      int64
	ChangeCause string
	// Template is the pod template of the revision.
	Template map[string]any
}

// History is a workload's rollout history as kubectl rollout history shows
// it.
type History struct {
	// Revisions in increasing order.
	Revisions []Revision
	// Text is what kubectl rollout history prints: "deployment.apps/web"
	// and the table of revisions, or the pod template of one revision.
	Text string
}

// RolloutHistory is the rollout history of a deployment (its
// ReplicaSets), statefulset or daemonset (its ControllerRevisions), from
// polymorphichelpers' HistoryViewer, as kubectl rollout history reads it.
// revision > 0 keeps that revision only (and Text is its detail).
func (c *Client) RolloutHistory(ctx context.Context, ref Selection, revision int64) (*History, error) {
	r, err := c.rolloutResource(ref.Kind, "show the rollout history of")
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, ref.Namespace)
	name := strings.ToLower(r.GVK.Kind) + "/" + ref.Name
	obj, err := c.Get(ctx, ref.Kind, ref.Name, ns)
	if err != nil {
		return nil, &ObjectError{Object: name, Err: err}
	}
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	hv, err := polymorphichelpers.HistoryViewerFor(r.GVK.GroupKind(), cs)
	if err != nil {
		return nil, err
	}
	text, err := hv.ViewHistory(ns, ref.Name, revision)
	if err != nil {
		return nil, &ObjectError{Object: name, Err: err}
	}
	all, err := hv.GetHistory(ns, ref.Name)
	if err != nil {
		return nil, &ObjectError{Object: name, Err: err}
	}
	// The change causes of statefulsets and daemonsets are on their
	// ControllerRevisions, which GetHistory does not return: the table
	// that ViewHistory printed holds them.
	causes := map[int64]string{}
	if revision == 0 {
		causes = tableCauses(text)
	} else if full, err := hv.ViewHistory(ns, ref.Name, 0); err == nil {
		causes = tableCauses(full)
	}
	h := &History{}
	for n, o := range all {
		if revision > 0 && n != revision {
			continue
		}
		var tmpl *corev1.PodTemplateSpec
		cause := causes[n]
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			tmpl = &o.Spec.Template
			cause = o.Annotations[polymorphichelpers.ChangeCauseAnnotation]
		case *appsv1.StatefulSet:
			tmpl = &o.Spec.Template
		case *appsv1.DaemonSet:
			tmpl = &o.Spec.Template
		default:
			return nil, fmt.Errorf("internal error: revision %d of %s is a %T", n, name, o)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tmpl)
		if err != nil {
			return nil, err
		}
		h.Revisions = append(h.Revisions, Revision{Number: n, ChangeCause: cause, Template: m})
	}
	sort.Slice(h.Revisions, func(i, j int) bool { return h.Revisions[i].Number < h.Revisions[j].Number })
	with := ""
	if revision > 0 {
		with = fmt.Sprintf("with revision #%d", revision)
	}
	var b strings.Builder
	p := &printers.NamePrinter{Operation: fmt.Sprintf("%s\n%s", with, text)}
	if err := p.PrintObj(obj, &b); err != nil {
		return nil, err
	}
	h.Text = b.String()
	return h, nil
}

// tableCauses reads the change causes of kubectl's history table
// ("REVISION  CHANGE-CAUSE" then "2         kubectl set image ...").
func tableCauses(text string) map[int64]string {
	out := map[int64]string{}
	for _, line := range strings.Split(text, "\n")[1:] {
		num, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			continue
		}
		cause := strings.TrimLeft(rest, " ")
		if cause == "<none>" {
			cause = ""
		}
		out[n] = cause
	}
	return out
}

// RolloutOp is a change of a rollout: pause, resume, restart or undo.
type RolloutOp string

const (
	RolloutPause   RolloutOp = "pause"
	RolloutResume  RolloutOp = "resume"
	RolloutRestart RolloutOp = "restart"
	RolloutUndo    RolloutOp = "undo"
)

// RolloutOptions are the options of Rollout.
type RolloutOptions struct {
	// LabelSelector chooses the objects of a Selection without a name,
	// in every namespace with AllNamespaces (as ModifyOptions).
	LabelSelector string
	AllNamespaces bool
	// ToRevision is the revision an undo goes back to (0: the previous).
	ToRevision int64
	DryRun     bool
	// Parallel bounds how many objects are changed at once.
	Parallel int
	// Warn receives kubectl's warnings (an undo of an object that
	// kubectl apply manages).
	Warn io.Writer
}

// Rollout pauses, resumes, restarts or undoes (rolls back) the rollouts
// of sels, parallel at a time, as kubectl rollout does: pause, resume and
// restart are a Modify whose change is the strategic merge patch of what
// polymorphichelpers' ObjectPauser, ObjectResumer or ObjectRestarter
// change; undo is polymorphichelpers' Rollbacker. The outcomes are in the
// order of sels (a selector's objects in list order), each with kubectl's
// verb ("paused", "restarted", "rolled back", "skipped rollback (current
// template already matches revision 2)") and the object after the change
// (for an undo, as read after it: as it was, for a dry run). An object
// that failed has no Object, and the error, a *BulkError, names each one
// that failed.
func (c *Client) Rollout(ctx context.Context, op RolloutOp, sels []Selection, o RolloutOptions) ([]Outcome, error) {
	// A kind that has no rollout (or cannot be paused) is bad input: it
	// fails the call before anything is changed.
	for _, sel := range sels {
		r, err := c.rolloutResource(sel.Kind, string(op))
		if err != nil {
			return nil, err
		}
		if (op == RolloutPause || op == RolloutResume) && r.GVK.Kind != "Deployment" {
			return nil, fmt.Errorf("cannot %s %s: only deployments can be paused and resumed", op, r)
		}
	}
	if op == RolloutUndo {
		return c.rollbacks(ctx, sels, o)
	}
	mo := ModifyOptions{LabelSelector: o.LabelSelector, AllNamespaces: o.AllNamespaces, DryRun: o.DryRun, Parallel: o.Parallel}
	return c.Modify(ctx, sels, mo, c.rolloutMutation(op))
}

// rolloutMutation is the change of op (pause, resume, restart) to one
// object, made by polymorphichelpers' function for it on the typed
// object, as kubectl rollout makes it.
func (c *Client) rolloutMutation(op RolloutOp) Mutation {
	var fn func(runtime.Object) ([]byte, error) = polymorphichelpers.ObjectPauserFn
	verb := "paused"
	switch op {
	case RolloutResume:
		fn, verb = polymorphichelpers.ObjectResumerFn, "resumed"
	case RolloutRestart:
		fn, verb = polymorphichelpers.ObjectRestarterFn, "restarted"
	}
	return func(u *unstructured.Unstructured) (Change, error) {
		typed, err := scheme.Scheme.New(u.GroupVersionKind())
		if err != nil {
			return Change{}, err
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
			return Change{}, err
		}
		before, err := runtime.Encode(scheme.DefaultJSONEncoder(), typed)
		if err != nil {
			return Change{}, err
		}
		after, err := fn(typed.DeepCopyObject())
		if err == nil && op == RolloutRestart && bytes.Equal(after, before) {
			// kubectl's restartedAt annotation has a resolution of one
			// second: a second restart within the same second would change
			// nothing (kubectl refuses it). Wait for the next second.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
			after, err = fn(typed.DeepCopyObject())
		}
		if err != nil {
			// kubectl's words: deployments.apps "web" is already paused.
			resource := strings.ToLower(u.GetKind()) + "s"
			if r, rerr := c.ResolveGVK(u.GetAPIVersion(), u.GetKind()); rerr == nil {
				resource = r.String()
			}
			return Change{}, fmt.Errorf("%s %q %v", resource, u.GetName(), err)
		}
		patch, err := strategicpatch.CreateTwoWayMergePatch(before, after, typed)
		if err != nil {
			return Change{}, err
		}
		if string(patch) == "{}" {
			if op == RolloutRestart {
				return Change{}, fmt.Errorf("failed to create patch for %s: if restart has already been triggered within the past second, please wait before attempting to trigger another", u.GetName())
			}
			return Change{Verb: "already " + verb}, nil
		}
		return Change{Patch: patch, Type: types.StrategicMergePatchType, Verb: verb}, nil
	}
}

// rollbacks undoes the rollouts of sels, parallel at a time: each named
// one, and each object of a selection without a name that the selector
// matches.
func (c *Client) rollbacks(ctx context.Context, sels []Selection, o RolloutOptions) ([]Outcome, error) {
	var items []Selection
	var names []string
	for _, sel := range sels {
		r, err := c.Resolve(sel.Kind)
		if err != nil {
			return nil, err
		}
		if sel.Name != "" {
			items, names = append(items, sel), append(names, strings.ToLower(r.GVK.Kind)+"/"+sel.Name)
			continue
		}
		l, err := c.List(ctx, sel.Kind, ListOptions{Namespace: sel.Namespace, AllNamespaces: o.AllNamespaces, LabelSelector: o.LabelSelector})
		if err != nil {
			return nil, err
		}
		for _, u := range l.Items {
			items = append(items, Selection{Kind: sel.Kind, Name: u.GetName(), Namespace: u.GetNamespace()})
			names = append(names, strings.ToLower(r.GVK.Kind)+"/"+u.GetName())
		}
	}
	out := make([]Outcome, len(items))
	nss := make([]string, len(items))
	for i, it := range items {
		if r, err := c.Resolve(it.Kind); err == nil {
			nss[i] = c.namespaceFor(r, it.Namespace)
		}
	}
	errs := forEach(ctx, len(items), o.Parallel, func(i int) error {
		res, err := c.rollback(ctx, items[i], o)
		if err == nil {
			out[i] = *res
		}
		return err
	})
	return out, bulkError(names, nss, errs)
}

// rollback undoes the rollout of one object with polymorphichelpers'
// Rollbacker, as kubectl rollout undo does.
func (c *Client) rollback(ctx context.Context, ref Selection, o RolloutOptions) (*Outcome, error) {
	r, err := c.rolloutResource(ref.Kind, "undo")
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, ref.Namespace)
	u, err := c.Get(ctx, ref.Kind, ref.Name, ns)
	if err != nil {
		return nil, err
	}
	if _, ok := u.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok && o.Warn != nil {
		// kubectl's warning (k8s.io/kubectl/pkg/cmd/rollout/rollout_undo.go).
		fmt.Fprintf(o.Warn, "Warning: resource %[1]s/%[2]s was previously managed with 'kubectl apply'. "+
			"Rolling back will not update the %[3]s annotation, which may cause unexpected behavior on future 'kubectl apply' operations. "+
			"Consider using 'kubectl apply' with your previous configuration file instead.\n", r.GVR.Resource, ref.Name, corev1.LastAppliedConfigAnnotation)
	}
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	rb, err := polymorphichelpers.RollbackerFor(r.GVK.GroupKind(), cs)
	if err != nil {
		return nil, err
	}
	strategy := cmdutil.DryRunNone
	if o.DryRun {
		strategy = cmdutil.DryRunServer
	}
	verb, err := rb.Rollback(u, nil, o.ToRevision, strategy)
	if err != nil {
		return nil, err
	}
	after, err := c.Get(ctx, ref.Kind, ref.Name, ns)
	if err != nil {
		return nil, err
	}
	return &Outcome{Verb: verb, Object: after}, nil
}
