package kube

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	policyv1client "k8s.io/client-go/kubernetes/typed/policy/v1"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/drain"
)

// Cordon marks node unschedulable (desired) or schedulable again, as
// kubectl cordon and uncordon do (kubectl's drain.CordonHelper). It
// returns the node and whether it changed (false: it was so already).
func (c *Client) Cordon(ctx context.Context, node string, desired, dryRun bool) (*unstructured.Unstructured, bool, error) {
	cs, err := c.clientset()
	if err != nil {
		return nil, false, err
	}
	if err := checkSegments("", node); err != nil {
		return nil, false, err
	}
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, false, &ObjectError{Object: "node/" + node, Err: apiError(err, "")}
	}
	h := drain.NewCordonHelper(n)
	changed := h.UpdateIfRequired(desired)
	if changed {
		err, patchErr := h.PatchOrReplaceWithContext(ctx, cs, dryRun)
		if patchErr != nil {
			err = patchErr
		}
		if err != nil {
			return nil, false, &ObjectError{Object: "node/" + node, Err: apiError(err, "")}
		}
		// The helper sets what the server answered on n.
	}
	u, err := nodeObject(n)
	return u, changed, err
}

// nodeObject is n as an unstructured object, with its apiVersion and kind.
func nodeObject(n *corev1.Node) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(n)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Node")
	return u, nil
}

// DrainOptions are kubectl drain's options.
type DrainOptions struct {
	IgnoreDaemonSets   bool
	DeleteEmptyDirData bool
	Force              bool
	DisableEviction    bool
	// GracePeriod is the seconds each pod has to terminate; negative: the
	// pod's own.
	GracePeriod int
	// Timeout bounds the whole drain (0: none).
	Timeout time.Duration
	// PodSelector keeps the pods it matches only.
	PodSelector string
	// DryRun evicts with server-side dry runs and waits for nothing.
	DryRun bool
	// EvictRetry is how long an eviction that a PodDisruptionBudget
	// refuses waits before it tries again (0: kubectl's 5s).
	EvictRetry time.Duration
	// Out receives kubectl drain's standard output lines ("evicting pod
	// ns/name", "pod/name evicted"), ErrOut its standard error lines (its
	// warnings, the evictions that are retried and why).
	Out, ErrOut io.Writer
}

// DrainResult is what a drain did to the pods of a node.
type DrainResult struct {
	// Evicted are the pods evicted (or deleted, with DisableEviction), as
	// "namespace/name"; for a dry run, those that would be.
	Evicted []string
	// Ignored are the pods of the node left there (DaemonSet-managed pods,
	// mirror pods, pods being deleted already), as "namespace/name".
	Ignored []string
}

// Drain evicts the pods of node as kubectl drain does after cordoning it
// (which Cordon does): kubectl's drain.Helper lists them, leaves
// DaemonSet-managed and mirror pods, refuses pods without a controller
// (unless Force) and pods with emptyDir volumes (unless
// DeleteEmptyDirData), evicts the others through the Eviction API (a
// PodDisruptionBudget that refuses an eviction makes it wait and retry,
// saying which budget refuses it) and waits until they are gone.
func (c *Client) Drain(ctx context.Context, node string, o DrainOptions) (*DrainResult, error) {
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	if err := checkSegments("", node); err != nil {
		return nil, err
	}
	if o.PodSelector != "" {
		if _, err := labels.Parse(o.PodSelector); err != nil {
			return nil, fmt.Errorf("pod selector %q: %w", o.PodSelector, err)
		}
	}
	out := &lockedWriter{w: o.Out}
	errOut := &lockedWriter{w: o.ErrOut}
	retry := o.EvictRetry
	if retry == 0 {
		retry = 5 * time.Second
	}
	h := &drain.Helper{
		Ctx:                  ctx,
		Client:               budgetCauses{cs},
		Force:                o.Force,
		GracePeriodSeconds:   o.GracePeriod,
		IgnoreAllDaemonSets:  o.IgnoreDaemonSets,
		Timeout:              o.Timeout,
		DeleteEmptyDirData:   o.DeleteEmptyDirData,
		PodSelector:          o.PodSelector,
		ChunkSize:            cmdutil.DefaultChunkSize,
		DisableEviction:      o.DisableEviction,
		EvictErrorRetryDelay: retry,
		Out:                  out,
		ErrOut:               errOut,
	}
	if o.DryRun {
		h.DryRunStrategy = cmdutil.DryRunServer
	}
	// kubectl drain's line for each pod that is gone.
	h.OnPodDeletionOrEvictionFinished = func(pod *corev1.Pod, usingEviction bool, err error) {
		verb := "evicted"
		switch {
		case usingEviction && err != nil:
			verb = "eviction failed"
		case !usingEviction && err != nil:
			verb = "deletion failed"
		case !usingEviction:
			verb = "deleted"
		}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}}
		p.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
		_ = (&printers.NamePrinter{Operation: verb}).PrintObj(p, out)
	}
	list, errs := h.GetPodsForDeletion(node)
	if len(errs) > 0 {
		return nil, utilerrors.NewAggregate(errs)
	}
	if w := list.Warnings(); w != "" {
		fmt.Fprintf(errOut, "Warning: %s\n", w)
	}
	res := &DrainResult{}
	evict := map[string]bool{}
	for _, p := range list.Pods() {
		res.Evicted = append(res.Evicted, p.Namespace+"/"+p.Name)
		evict[p.Namespace+"/"+p.Name] = true
	}
	sort.Strings(res.Evicted)
	all, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{
		LabelSelector: o.PodSelector,
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return nil, apiError(err, "")
	}
	for _, p := range all.Items {
		if k := p.Namespace + "/" + p.Name; !evict[k] {
			res.Ignored = append(res.Ignored, k)
		}
	}
	sort.Strings(res.Ignored)
	if err := h.DeleteOrEvictPods(list.Pods()); err != nil {
		// kubectl drain's report of what is left.
		if pending, _ := h.GetPodsForDeletion(node); pending != nil && len(pending.Pods()) > 0 {
			fmt.Fprintf(errOut, "There are pending pods in node %q when an error occurred: %v\n", node, err)
			for _, p := range pending.Pods() {
				fmt.Fprintf(errOut, "pod/%s\n", p.Name)
			}
		}
		return res, err
	}
	return res, nil
}

// lockedWriter serialises the writes of the drain's goroutines (one per
// pod) to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return len(p), nil
	}
	return l.w.Write(p)
}

// budgetCauses is a clientset whose evictions' errors say which
// PodDisruptionBudget refuses them: the API server names it in the
// status's causes ("The disruption budget web needs 2 healthy pods and
// has 2 currently"), which kubectl leaves out of its message.
type budgetCauses struct{ kubernetes.Interface }

func (b budgetCauses) PolicyV1() policyv1client.PolicyV1Interface {
	return policyCauses{b.Interface.PolicyV1()}
}

type policyCauses struct {
	policyv1client.PolicyV1Interface
}

func (p policyCauses) Evictions(namespace string) policyv1client.EvictionInterface {
	return evictionCauses{p.PolicyV1Interface.Evictions(namespace)}
}

type evictionCauses struct {
	policyv1client.EvictionInterface
}

func (e evictionCauses) Evict(ctx context.Context, ev *policyv1.Eviction) error {
	err := e.EvictionInterface.Evict(ctx, ev)
	se, ok := err.(*apierrors.StatusError)
	if !ok || se.ErrStatus.Details == nil {
		return err
	}
	var causes []string
	for _, cause := range se.ErrStatus.Details.Causes {
		if cause.Type == policyv1.DisruptionBudgetCause && cause.Message != "" {
			causes = append(causes, cause.Message)
		}
	}
	if len(causes) == 0 {
		return err
	}
	return &causedError{StatusError: se, msg: se.Error() + " " + strings.Join(causes, "; ")}
}

// causedError is an API status error whose message adds its causes; it is
// still the status error for apierrors.IsTooManyRequests and the like.
type causedError struct {
	*apierrors.StatusError
	msg string
}

func (e *causedError) Error() string { return e.msg }
func (e *causedError) Unwrap() error { return e.StatusError }
