package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/util/podutils"
)

// LogOptions say which part of a container's log to read.
type LogOptions struct {
	// Container is the container; "" means the pod's default container
	// (its kubectl.kubernetes.io/default-container annotation, else the
	// first), "*" every container.
	Container string
	// Tail is how many lines from the end to start with; < 0 means all.
	Tail int64
	// Since, when > 0, starts that long ago.
	Since time.Duration
	// Previous reads the log of the container's previous instance.
	Previous bool
	// Timestamps prefixes each line with its RFC3339 timestamp.
	Timestamps bool
	// sinceTime, when set, starts at that time (a resumed stream).
	sinceTime time.Time
}

func (o LogOptions) pod(container string, follow bool) *corev1.PodLogOptions {
	po := &corev1.PodLogOptions{Container: container, Previous: o.Previous, Timestamps: o.Timestamps, Follow: follow}
	if o.Tail >= 0 {
		t := o.Tail
		po.TailLines = &t
	}
	if o.Since > 0 {
		s := int64((o.Since + time.Second - 1) / time.Second)
		po.SinceSeconds = &s
	}
	if !o.sinceTime.IsZero() {
		t := metav1.NewTime(o.sinceTime)
		po.SinceTime, po.SinceSeconds, po.TailLines = &t, nil, nil
	}
	return po
}

// LogLine is one line of one container's log.
type LogLine struct {
	Namespace, Pod, Container, Text string
}

var clientsets sync.Map // *Client -> kubernetes.Interface

func (c *Client) clientset() (kubernetes.Interface, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	if cs, ok := clientsets.Load(c); ok {
		return cs.(kubernetes.Interface), nil
	}
	cs, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return nil, err
	}
	v, _ := clientsets.LoadOrStore(c, cs)
	return v.(kubernetes.Interface), nil
}

// LogContainers are the containers of pod whose logs opts.Container asks
// for.
func LogContainers(pod *unstructured.Unstructured, container string) ([]string, error) {
	var names []string
	cs, _, _ := unstructured.NestedSlice(pod.Object, "spec", "containers")
	for _, c := range cs {
		if m, ok := c.(map[string]any); ok {
			if n, ok := m["name"].(string); ok {
				names = append(names, n)
			}
		}
	}
	switch container {
	case "*":
		return names, nil
	case "":
		if d := pod.GetAnnotations()["kubectl.kubernetes.io/default-container"]; d != "" {
			return []string{d}, nil
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("pod %s has no containers", pod.GetName())
		}
		return names[:1], nil
	}
	for _, n := range names {
		if n == container {
			return []string{n}, nil
		}
	}
	return nil, fmt.Errorf("container %s is not valid for pod %s (it has %v)", container, pod.GetName(), names)
}

// Logs reads the log of one container of pod, as kubectl logs does.
func (c *Client) Logs(ctx context.Context, namespace, pod, container string, opts LogOptions) (string, error) {
	rc, err := c.logStream(ctx, namespace, pod, container, opts, false)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("reading the log of %s/%s: %w", pod, container, err)
	}
	return string(b), nil
}

func (c *Client) logStream(ctx context.Context, namespace, pod, container string, opts LogOptions, follow bool) (io.ReadCloser, error) {
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = c.namespace
	}
	rc, err := cs.CoreV1().Pods(namespace).GetLogs(pod, opts.pod(container, follow)).Stream(ctx)
	if err != nil {
		return nil, apiError(err, namespace)
	}
	return rc, nil
}

// PodsFor lists the pods that a log request names: one by name, or those
// that selector matches, sorted by name.
func (c *Client) PodsFor(ctx context.Context, namespace, name, selector string) ([]unstructured.Unstructured, error) {
	if name != "" {
		p, err := c.Get(ctx, "pods", name, namespace)
		if err != nil {
			return nil, err
		}
		return []unstructured.Unstructured{*p}, nil
	}
	l, err := c.List(ctx, "pods", ListOptions{Namespace: namespace, LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].GetName() < l.Items[j].GetName() })
	return l.Items, nil
}

// LogFollower follows the logs of the pods that a name or a label selector
// picks, like kubectl logs -f or stern: pods that appear (or start) later
// are followed too.
type LogFollower struct {
	c      *Client
	w      *Watcher
	ns     string
	named  bool
	opts   LogOptions
	lines  chan LogLine
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	ctx    context.Context
	start  sync.Once
	once   sync.Once
}

// FollowLogs starts following the logs of pod name, or of the pods that
// selector matches, in namespace. It reads the pods at once, so that a
// missing pod or a Forbidden is an error of this call.
func (c *Client) FollowLogs(ctx context.Context, namespace, name, selector string, opts LogOptions) (*LogFollower, error) {
	if name != "" {
		if _, err := c.Get(ctx, "pods", name, namespace); err != nil {
			return nil, err
		}
	}
	w, err := c.Watch(ctx, "pods", WatchOptions{
		ListOptions: ListOptions{Namespace: namespace, LabelSelector: selector}, Name: name, Initial: true,
	})
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = c.namespace
	}
	f := &LogFollower{c: c, w: w, ns: namespace, named: name != "", opts: opts,
		lines: make(chan LogLine, 64), done: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancel(ctx)
	return f, nil
}

// Lines delivers the lines; it is closed when following ends, after which
// Err tells why. The first call starts following.
func (f *LogFollower) Lines() <-chan LogLine {
	f.start.Do(func() { go f.run(f.ctx) })
	return f.lines
}

// Err is the error that ended the follower, once Lines is closed.
func (f *LogFollower) Err() error {
	select {
	case <-f.done:
		return f.err
	default:
		return nil
	}
}

// Stop ends following and waits until every stream is closed.
func (f *LogFollower) Stop() {
	f.once.Do(f.cancel)
	f.start.Do(func() { // never started
		f.w.Stop()
		close(f.lines)
		close(f.done)
	})
	<-f.done
}

func (f *LogFollower) run(ctx context.Context) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		streams = map[string]bool{} // pod UID/container
		ended   = make(chan struct{})
	)
	defer close(f.done)
	defer close(f.lines)
	defer wg.Wait()
	defer f.w.Stop()
	defer f.cancel()
	running := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ended:
			running--
			if f.named && running == 0 {
				// kubectl logs -f on a pod ends when its container does.
				mu.Lock()
				if len(errs) > 0 {
					f.err = errs[0]
				}
				mu.Unlock()
				return
			}
		case ev, ok := <-f.w.Events():
			if !ok {
				if err := f.w.Err(); err != nil && ctx.Err() == nil {
					f.err = err
				}
				return
			}
			if ev.Type == Deleted {
				continue
			}
			pod := ev.Object
			names, err := LogContainers(pod, f.opts.Container)
			if err != nil {
				if f.named {
					f.err = err
					return
				}
				continue
			}
			for _, cn := range names {
				key := string(pod.GetUID()) + "/" + cn
				if streams[key] || !containerStarted(pod, cn) {
					continue
				}
				streams[key] = true
				running++
				wg.Add(1)
				go func(podName, cn string) {
					defer wg.Done()
					err := f.stream(ctx, podName, cn)
					if err != nil && ctx.Err() == nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
					select {
					case ended <- struct{}{}:
					case <-ctx.Done():
					}
				}(pod.GetName(), cn)
			}
		}
	}
}

// stream copies one container's log into lines until the container ends
// (or the pod goes). A stream that breaks before (a cut connection, an
// apiserver restart, a kubelet error) is opened again from the time of the
// last line delivered (sinceTime; the server's timestamps are asked for
// always, and shown only with Timestamps), dropping the lines at that time
// already delivered, so that nothing is lost nor repeated. It gives up
// after retryFor without a line, with an error naming the stream.
func (f *LogFollower) stream(ctx context.Context, pod, container string) error {
	var (
		last    time.Time // time of the last line delivered
		atLast  int       // lines delivered at exactly last
		waited  time.Duration
		lastErr error
	)
	what := fmt.Sprintf("pod %s, container %s", pod, container)
	for n := 0; ; n++ {
		opts := f.opts
		opts.Timestamps = true
		if !last.IsZero() {
			opts.sinceTime = last
		}
		delivered := false
		partial := "" // a last line without its newline
		skip := atLast
		deliver := func(ts time.Time, line, text string) bool {
			if !last.IsZero() && !ts.IsZero() {
				if ts.Before(last) || ts.Equal(last) && skip > 0 {
					if ts.Equal(last) {
						skip--
					}
					return true
				}
			}
			if !f.opts.Timestamps {
				line = text
			}
			select {
			case f.lines <- LogLine{Namespace: f.ns, Pod: pod, Container: container, Text: line}:
			case <-ctx.Done():
				return false
			}
			delivered = true
			if ts.Equal(last) {
				atLast++
			} else if !ts.IsZero() {
				last, atLast = ts, 1
			}
			return true
		}
		rc, err := f.c.logStream(ctx, f.ns, pod, container, opts, true)
		if err == nil {
			partial, err = scanLog(ctx, rc, deliver)
			rc.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		if apierrors.IsNotFound(err) {
			return nil // the pod went away
		}
		// A status the server chose (Forbidden, BadRequest) is final; a
		// broken connection (a cut, a reset, a GOAWAY, a refusal while
		// the apiserver restarts) or a server error is a break.
		var st apierrors.APIStatus
		if err != nil && errors.As(err, &st) && !apierrors.IsInternalError(err) && !apierrors.IsServiceUnavailable(err) &&
			!apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err) && !apierrors.IsTooManyRequests(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		// The stream ended: the container's end, or a break?
		if err == nil {
			if ended, gerr := f.containerEnded(ctx, pod, container); gerr == nil && ended {
				if partial != "" { // the container's last words, without a newline
					ts, text := splitStamp(partial)
					deliver(ts, partial, text)
				}
				return nil
			} else if gerr != nil && apierrors.IsNotFound(gerr) {
				return nil
			}
		}
		if err != nil {
			lastErr = err
		}
		if delivered {
			waited, n = 0, 0
		}
		wait := time.Duration(rand.Int64N(int64(min(retryBase<<n, retryCap)))) + 1
		if waited += wait; waited > retryFor() {
			if lastErr == nil {
				lastErr = errors.New("the stream keeps ending while the container runs")
			}
			return fmt.Errorf("%s: the log stream broke and could not be resumed for %s: %w", what, retryFor(), lastErr)
		}
		if sleepCtx(ctx, wait) != nil {
			return nil
		}
	}
}

// scanLog reads a log stream asked with timestamps, calling fn with each
// line's time, the line as read and its text without the timestamp, until
// fn returns false or the stream ends (nil at its end, else the error). A
// last line without its newline is not given to fn but returned: a stream
// that broke in the middle of a line (a reset read as its end) sends it
// whole again when resumed, and only a container that ended leaves one.
func scanLog(ctx context.Context, rc io.Reader, fn func(ts time.Time, line, text string) bool) (string, error) {
	partial := ""
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, bytes.TrimSuffix(data[:i], []byte("\r")), nil
		}
		if atEOF && len(data) > 0 {
			partial = string(data)
			return len(data), nil, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		line := sc.Text()
		ts, text := splitStamp(line)
		if !fn(ts, line, text) {
			return "", nil
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && !errors.Is(err, io.EOF) {
		return partial, err
	}
	return partial, nil
}

// splitStamp splits a log line asked with timestamps into its time and
// its text; a line without one is all text.
func splitStamp(line string) (time.Time, string) {
	if stamp, rest, ok := strings.Cut(line, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			return t, rest
		}
	}
	return time.Time{}, line
}

// containerEnded tells whether container of pod has terminated (or the pod
// is going or gone), so that its log stream ending is its end, not a break.
func (f *LogFollower) containerEnded(ctx context.Context, pod, container string) (bool, error) {
	u, err := f.c.Get(ctx, "pods", pod, f.ns)
	if err != nil {
		return false, err
	}
	if u.GetDeletionTimestamp() != nil {
		return true, nil
	}
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	if phase == "Succeeded" || phase == "Failed" {
		return true, nil
	}
	for _, key := range []string{"containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"} {
		sts, _, _ := unstructured.NestedSlice(u.Object, "status", key)
		for _, st := range sts {
			m, _ := st.(map[string]any)
			if m["name"] != container {
				continue
			}
			// Terminated: its stream ends there, as kubectl logs -f ends
			// (a restart is another instance, with a log of its own).
			state, _ := m["state"].(map[string]any)
			return state["terminated"] != nil, nil
		}
	}
	return true, nil // no such container any more
}

// containerStarted tells whether container of pod is running or has run,
// so that its log can be read.
func containerStarted(pod *unstructured.Unstructured, container string) bool {
	sts, _, _ := unstructured.NestedSlice(pod.Object, "status", "containerStatuses")
	for _, s := range sts {
		m, _ := s.(map[string]any)
		if m["name"] != container {
			continue
		}
		state, _ := m["state"].(map[string]any)
		return state["running"] != nil || state["terminated"] != nil
	}
	return false
}

// podWaitTimeout is how long PodForObject waits for a pod to exist, as
// kubectl logs --pod-running-timeout does by default.
const podWaitTimeout = 20 * time.Second

// PodForObject is the name of the pod kubectl logs KIND/NAME reads for the
// object of kind called name in namespace: the object itself when it is a
// pod, else the first of its selector's pods in kubectl's order (the most
// active first: k8s.io/kubectl's podutils.ActivePods, reversed), waiting
// for one to exist, as polymorphichelpers.AttachablePodForObjectFn does.
// (That package itself is not imported: its kubectl dependencies cost k8sh
// several milliseconds of start-up.)
func (c *Client) PodForObject(ctx context.Context, kind, name, namespace string) (string, error) {
	u, err := c.Get(ctx, kind, name, namespace)
	if err != nil {
		return "", err
	}
	gk := u.GroupVersionKind().GroupKind()
	if gk.Group == "" && gk.Kind == "Pod" {
		return u.GetName(), nil
	}
	sel, err := workloadSelector(u)
	if err != nil {
		return "", fmt.Errorf("cannot pick a pod of %s: %w", ObjectName(u), err)
	}
	cs, err := c.clientset()
	if err != nil {
		return "", err
	}
	pods := cs.CoreV1().Pods(u.GetNamespace())
	lo := metav1.ListOptions{LabelSelector: sel.String()}
	l, err := pods.List(ctx, lo)
	if err != nil {
		return "", apiError(err, u.GetNamespace())
	}
	if len(l.Items) > 0 {
		ps := make([]*corev1.Pod, len(l.Items))
		for i := range l.Items {
			ps[i] = &l.Items[i]
		}
		sort.Sort(sort.Reverse(podutils.ActivePods(ps)))
		return ps[0].Name, nil
	}
	// None yet: wait for the first, as kubectl does.
	wctx, cancel := context.WithTimeout(ctx, podWaitTimeout)
	defer cancel()
	lo.ResourceVersion = l.ResourceVersion
	w, err := pods.Watch(wctx, lo)
	if err != nil {
		return "", apiError(err, u.GetNamespace())
	}
	defer w.Stop()
	for {
		select {
		case <-wctx.Done():
			return "", fmt.Errorf("cannot pick a pod of %s: no pod matches %s after %s", ObjectName(u), sel, podWaitTimeout)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return "", fmt.Errorf("cannot pick a pod of %s: the watch of its pods ended", ObjectName(u))
			}
			if p, isPod := ev.Object.(*corev1.Pod); isPod && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				return p.Name, nil
			}
		}
	}
}

// workloadSelector is the label selector of u's pods, where kubectl's
// SelectorsForObject finds it: spec.selector, a map for a Service and a
// ReplicationController, a LabelSelector for the apps kinds and Jobs.
func workloadSelector(u *unstructured.Unstructured) (labels.Selector, error) {
	gk := u.GroupVersionKind().GroupKind()
	switch {
	case gk.Group == "" && (gk.Kind == "Service" || gk.Kind == "ReplicationController"):
		m, _, err := unstructured.NestedStringMap(u.Object, "spec", "selector")
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("it has no spec.selector")
		}
		return labels.SelectorFromSet(m), nil
	case (gk.Group == "apps" || gk.Group == "extensions") && (gk.Kind == "Deployment" || gk.Kind == "ReplicaSet" || gk.Kind == "StatefulSet" || gk.Kind == "DaemonSet"),
		gk.Group == "batch" && gk.Kind == "Job":
		m, ok, err := unstructured.NestedMap(u.Object, "spec", "selector")
		if err != nil || !ok {
			return nil, fmt.Errorf("it has no spec.selector")
		}
		var ls metav1.LabelSelector
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
			return nil, fmt.Errorf("invalid label selector: %w", err)
		}
		sel, err := metav1.LabelSelectorAsSelector(&ls)
		if err != nil {
			return nil, fmt.Errorf("invalid label selector: %w", err)
		}
		return sel, nil
	}
	return nil, fmt.Errorf("selector for %s not implemented (kubectl logs reads pods of Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, Services and ReplicationControllers)", gk.String())
}
