package builtins

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["logs"] = doc.Builtin("k8s.logs", logsDoc, logsBuiltin)
}

// logsCluster is what k8s.logs needs of a cluster: kube.Client implements it.
type logsCluster interface {
	Logs(ctx context.Context, namespace, pod, container string, opts kube.LogOptions) (string, error)
	PodsFor(ctx context.Context, namespace, name, selector string) ([]unstructured.Unstructured, error)
	FollowLogs(ctx context.Context, namespace, name, selector string, opts kube.LogOptions) (*kube.LogFollower, error)
	PodForObject(ctx context.Context, kind, name, namespace string) (string, error)
}

var _ logsCluster = (*kube.Client)(nil)

const logsDoc = `k8s.logs(pod_or_obj=None, *, container=None, namespace=None, tail=None, since=None, previous=False, follow=False, selector=None, timestamps=False, timeout=None, context=None, contexts=None, parallel=16)

Returns the log of a pod's container as text, like kubectl logs:
  print(k8s.logs("web-5fc9", tail=20))
  k8s.logs(pod, container="sidecar", since="10m")

pod_or_obj is a pod's name ("web-5fc9" or "pod/web-5fc9"), "kind/name"
of a workload ("deploy/web", "job/backup", "svc/web", ...): the one pod
kubectl logs deploy/web reads (the first active one of its selector,
waiting up to 20s for one to exist), a Pod k8s.object, or an object with
a label selector in spec.selector (a Deployment, ReplicaSet, StatefulSet,
DaemonSet, Job): all its pods. selector picks pods by label instead. With several pods or containers each line is
prefixed like kubectl logs --prefix: "[pod/web-5fc9/nginx] text".

container defaults to the pod's default container (its
kubectl.kubernetes.io/default-container annotation, else the first);
container="*" means every container. tail is how many lines from the end,
since a duration ("10m") or seconds, previous the previous instance's log,
timestamps prefixes each line with its time.

follow=True returns an iterable of lines instead, each a struct with pod,
container, namespace and text, that goes on as the pods write:
  for line in k8s.logs(selector="app=web", follow=True):
      print(line.pod, line.text)
With a selector (or an object that has one) it follows every matching pod,
and pods that appear or start later too, like stern. Following one pod ends
when its container does. It ends, like k8s.watch, when timeout passes, on
break or on Ctrl-C. context names another kubeconfig context for this one
call.

With contexts=, a dict of context name to text, timeout= bounding each
context; with follow=True, the lines of every context as they come, each
with its context (line.context), until timeout= ends them all; a context
whose pods cannot be followed is one of the contexts that failed.

` + fanoutDoc

func logsBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target                       starlark.Value = starlark.None
		container, namespace, kctx   string
		tail                         = -1
		since, timeout               watchDuration
		previous, follow, timestamps bool
		selector                     selectorArg
		tailV                        starlark.Value = starlark.None
	)
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{
		"pod_or_obj?", &target, "container?", starconv.OrNone(&container), "namespace?", starconv.OrNone(&namespace),
		"tail?", &tailV, "since?", &since, "previous?", &previous, "follow?", &follow,
		"selector?", &selector, "timestamps?", &timestamps, "timeout?", &timeout, "context?", starconv.OrNone(&kctx)}, f.args(false)...)...); err != nil {
		return nil, err
	}
	if tailV != starlark.None {
		n, err := starlark.AsInt32(tailV)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s: tail must be a non-negative int, got %s", b.Name(), tailV)
		}
		tail = n
	}
	name, workload := "", objectRef{}
	switch v := target.(type) {
	case starlark.NoneType:
	case starlark.String:
		r, err := unpackRef(b, v, "")
		if err != nil {
			return nil, err
		}
		name = r.kind // a pod's name alone
		if r.name != "" {
			name = r.name
			if k := strings.ToLower(r.kind); k != "pod" && k != "pods" && k != "po" {
				workload = r // one of its pods, as kubectl logs KIND/NAME picks it
			}
		}
	case *Object:
		if namespace == "" {
			namespace = v.str("metadata", "namespace")
		}
		if v.str("kind") == "Pod" {
			name = v.str("metadata", "name")
			break
		}
		labels, _ := waitNested(v.fields(), "spec", "selector", "matchLabels").(map[string]any)
		if len(labels) == 0 {
			return nil, fmt.Errorf("%s: %s has no spec.selector.matchLabels to find its pods by", b.Name(), v)
		}
		var parts []string
		for k, val := range labels {
			parts = append(parts, fmt.Sprintf("%s=%v", k, val))
		}
		sort.Strings(parts)
		selector.s = strings.Join(parts, ",")
	default:
		return nil, fmt.Errorf("%s: for parameter pod_or_obj: got %s, want str or k8s.object", b.Name(), target.Type())
	}
	if name == "" && selector.s == "" {
		return nil, fmt.Errorf("%s: which pod? give a name, a Pod, an object with a selector, or selector=", b.Name())
	}
	if name != "" && selector.s != "" {
		return nil, fmt.Errorf("%s: give a pod or a selector, not both", b.Name())
	}
	q := logsQuery{
		name: name, workload: workload, namespace: namespace, selector: selector.s, container: container,
		opts: kube.LogOptions{Container: container, Tail: int64(tail), Since: since.d, Previous: previous, Timestamps: timestamps},
	}
	if f.on() {
		return fanLogs(thread, b, &f, kctx, q, follow, timeout)
	}
	lc, _, err := clusterAs[logsCluster](thread, b, kctx, "this session's cluster cannot read logs")
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	if follow {
		f, err := q.follow(ctx, lc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return &logsValue{b: b, f: f, ctx: ctx, timeout: timeout, thread: thread, what: q.what()}, nil
	}
	if timeout.set {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout.d)
		defer cancel()
	}
	text, err := q.text(ctx, lc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

// logsQuery is what k8s.logs reads: the logs of pod name, of a pod of
// workload, or of the pods selector selects.
type logsQuery struct {
	name      string
	workload  objectRef
	namespace string
	selector  string
	container string
	opts      kube.LogOptions
}

func (q logsQuery) what() string { return q.name + q.selector }

// pod is the pod q names: name, or the one kubectl logs picks of workload.
func (q logsQuery) pod(ctx context.Context, lc logsCluster) (string, error) {
	if q.workload.name == "" {
		return q.name, nil
	}
	return lc.PodForObject(ctx, q.workload.kind, q.workload.name, q.namespace)
}

// follow follows the logs q names.
func (q logsQuery) follow(ctx context.Context, lc logsCluster) (*kube.LogFollower, error) {
	name, err := q.pod(ctx, lc)
	if err != nil {
		return nil, err
	}
	return lc.FollowLogs(ctx, q.namespace, name, q.selector, q.opts)
}

// text reads the logs q names: one container's text as it is, or the lines
// of several prefixed with "[pod/NAME/CONTAINER] ".
func (q logsQuery) text(ctx context.Context, lc logsCluster) (string, error) {
	name, err := q.pod(ctx, lc)
	if err != nil {
		return "", err
	}
	pods, err := lc.PodsFor(ctx, q.namespace, name, q.selector)
	if err != nil {
		return "", err
	}
	type part struct{ pod, container string }
	var parts []part
	for i := range pods {
		names, err := kube.LogContainers(&pods[i], q.container)
		if err != nil {
			if name == "" {
				continue // a pod of the selection without that container
			}
			return "", err
		}
		for _, cn := range names {
			parts = append(parts, part{pods[i].GetName(), cn})
		}
	}
	var out strings.Builder
	for _, p := range parts {
		text, err := lc.Logs(ctx, q.namespace, p.pod, p.container, q.opts)
		if err != nil {
			return "", err
		}
		if len(parts) == 1 && name != "" {
			return text, nil
		}
		prefix := fmt.Sprintf("[pod/%s/%s] ", p.pod, p.container)
		for _, line := range strings.SplitAfter(text, "\n") {
			if line != "" {
				out.WriteString(prefix + line)
			}
		}
	}
	return out.String(), nil
}

// logsValue is the value of k8s.logs(follow=True): an iterable of lines,
// that can be iterated once.
type logsValue struct {
	b       *starlark.Builtin
	f       *kube.LogFollower
	ctx     context.Context
	timeout watchDuration
	thread  *starlark.Thread
	what    string
	used    bool
}

var _ starlark.Iterable = (*logsValue)(nil)

func (lv *logsValue) String() string        { return fmt.Sprintf("<k8s.logs %s>", lv.what) }
func (lv *logsValue) Type() string          { return "k8s.logs" }
func (lv *logsValue) Freeze()               {}
func (lv *logsValue) Truth() starlark.Bool  { return true }
func (lv *logsValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.logs") }

func (lv *logsValue) Iterate() starlark.Iterator {
	it := &streamIterator[kube.LogLine]{b: lv.b, thread: lv.thread, ctx: lv.ctx}
	if lv.used {
		it.fail = fmt.Errorf("%s: a followed log can be iterated once; call k8s.logs again", lv.b.Name())
		return it
	}
	lv.used = true
	it.items, it.err, it.stop = lv.f.Lines(), lv.f.Err, lv.f.Stop
	it.convert = func(l kube.LogLine) (starlark.Value, bool, error) {
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"namespace": starlark.String(l.Namespace),
			"pod":       starlark.String(l.Pod),
			"container": starlark.String(l.Container),
			"text":      starlark.String(l.Text),
		}), false, nil
	}
	it.startTimer(lv.timeout)
	return it
}
