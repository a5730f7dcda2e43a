package builtins

import (
	"context"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/kubectl/pkg/metricsutil"
	"k8s.io/metrics/pkg/apis/metrics"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["top"] = doc.Builtin("k8s.top", topDoc, top)
}

// topCluster is what k8s.top needs of a cluster: kube.Client implements it.
type topCluster interface {
	TopPods(ctx context.Context, name string, opts kube.ListOptions) ([]metrics.PodMetrics, error)
	TopNodes(ctx context.Context, name, selector string) ([]metrics.NodeMetrics, map[string]corev1.ResourceList, error)
}

var _ topCluster = (*kube.Client)(nil)

const topDoc = `k8s.top(kind="pods", name=None, *, namespace=None, all_namespaces=False, selector=None, containers=False, sort_by=None, no_headers=False, context=None, contexts=None, parallel=16, timeout=None)

Returns the CPU and memory that pods (kind "pods") or nodes ("nodes") use
now, from the metrics API (metrics.k8s.io, as metrics-server serves it), as
kubectl top reads them: a list of rows, each with name, namespace (pods),
cpu (millicores, an int) and memory (bytes, an int), and for pods
containers (rows of name, cpu and memory). The REPL and print show it as
kubectl top pod / kubectl top node print it:
  k8s.top()                                    # pods of the namespace
  k8s.top(all_namespaces=True, sort_by="memory")
  k8s.top("pods", "web-5fc9", containers=True)
  k8s.top("nodes")
  [p.name for p in k8s.top() if p.memory > 512 * 1024 * 1024]
sort_by is "cpu" or "memory" (largest first); by default rows are in name
order (namespace first with all_namespaces). containers=True shows a line
per container, no_headers=True leaves the header line out. Without a
metrics API it fails with kubectl's words, "Metrics API not available".
context names another kubeconfig context for this one call. With
contexts=, a dict of context name to what k8s.top returns there.

` + fanoutDoc

func top(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind                  = "pods"
		nameV  starlark.Value = starlark.None
		s      selection
		sortBy string
		conts  bool
		noHead bool
	)
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{"kind?", &kind, "name?", &nameV,
		"namespace?", starconv.OrNone(&s.namespace), "all_namespaces?", &s.allNamespaces, "selector?", &s.selector,
		"containers?", &conts, "sort_by?", starconv.OrNone(&sortBy), "no_headers?", &noHead, "context?", starconv.OrNone(&s.context)}, f.args(true)...)...); err != nil {
		return nil, err
	}
	name, err := optionalName(b, nameV)
	if err != nil {
		return nil, err
	}
	if sortBy != "" && sortBy != "cpu" && sortBy != "memory" {
		return nil, fmt.Errorf("%s: sort_by=%q: want \"cpu\" or \"memory\"", b.Name(), sortBy)
	}
	switch strings.ToLower(kind) {
	case "pods", "pod", "po", "nodes", "node", "no":
	default:
		return nil, fmt.Errorf("%s: kind %q: want \"pods\" or \"nodes\"", b.Name(), kind)
	}
	if k := strings.ToLower(kind); (k == "nodes" || k == "node" || k == "no") && (s.namespace != "" || s.allNamespaces || conts) {
		return nil, fmt.Errorf("%s: nodes take no namespace, all_namespaces or containers", b.Name())
	}
	q := topQuery{kind: strings.ToLower(kind), name: name, sel: s, containers: conts, sortBy: sortBy, noHeaders: noHead}
	if f.on() {
		names, err := f.names(thread, b, s.context)
		if err != nil {
			return nil, err
		}
		results := fanRun(thread, b, &f, names, func(ctx context.Context, _ string, c Cluster) (*topRows, error) {
			tc, ok := c.(topCluster)
			if !ok {
				return nil, fmt.Errorf("this cluster has no metrics")
			}
			return q.read(ctx, tc)
		})
		if err := fanFinish(thread, b, results); err != nil {
			return nil, err
		}
		return byContext(results, func(t *topRows) starlark.Value { return t }), nil
	}
	tc, _, err := clusterAs[topCluster](thread, b, s.context, "this cluster has no metrics")
	if err != nil {
		return nil, err
	}
	t, err := q.read(sys.Context(thread), tc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return t, nil
}

// topQuery is what k8s.top asks.
type topQuery struct {
	kind, name string // kind in lower case
	sel        selection
	containers bool
	sortBy     string
	noHeaders  bool
}

// read asks tc for the metrics q asks for.
func (q topQuery) read(ctx context.Context, tc topCluster) (*topRows, error) {
	s := q.sel
	var text strings.Builder
	printer := metricsutil.NewTopCmdPrinter(&text, false)
	var rows []starlark.Value
	switch q.kind {
	case "pods", "pod", "po":
		ms, err := tc.TopPods(ctx, q.name, s.options())
		if err != nil {
			return nil, err
		}
		// The printer sorts ms in place: the rows are in the order printed.
		if err := printer.PrintPodMetrics(ms, q.containers, s.allNamespaces, q.noHeaders, q.sortBy, false); err != nil {
			return nil, err
		}
		for _, m := range ms {
			var cpu, mem int64
			cs := make([]starlark.Value, len(m.Containers))
			for i, c := range m.Containers {
				cpu += c.Usage.Cpu().MilliValue()
				mem += c.Usage.Memory().Value()
				cs[i] = usageRow(c.Name, "", c.Usage, nil)
			}
			rows = append(rows, usageRow(m.Name, m.Namespace, corev1.ResourceList{}, starlark.StringDict{
				"cpu": starlark.MakeInt64(cpu), "memory": starlark.MakeInt64(mem), "containers": starlark.NewList(cs),
			}))
		}
	default:
		ms, avail, err := tc.TopNodes(ctx, q.name, s.selector.s)
		if err != nil {
			return nil, err
		}
		if err := printer.PrintNodeMetrics(ms, avail, q.noHeaders, q.sortBy); err != nil {
			return nil, err
		}
		for _, m := range ms {
			rows = append(rows, usageRow(m.Name, "", m.Usage, nil))
		}
	}
	list := starlark.NewList(rows)
	list.Freeze()
	return &topRows{List: list, text: strings.TrimSuffix(text.String(), "\n")}, nil
}

// usageRow is a row of k8s.top: name, namespace (when not ""), cpu in
// millicores and memory in bytes from usage, and extra.
func usageRow(name, namespace string, usage corev1.ResourceList, extra starlark.StringDict) starlark.Value {
	d := starlark.StringDict{
		"name": starlark.String(name), "cpu": starlark.MakeInt64(usage.Cpu().MilliValue()),
		"memory": starlark.MakeInt64(usage.Memory().Value()),
	}
	if namespace != "" {
		d["namespace"] = starlark.String(namespace)
	}
	for k, v := range extra {
		d[k] = v
	}
	return starlarkstruct.FromStringDict(starlark.String("k8s.usage"), d)
}

// topRows is k8s.top's value: its rows, shown as kubectl top prints them.
type topRows struct {
	*starlark.List
	text string
}

func (t *topRows) Type() string   { return "k8s.top" }
func (t *topRows) String() string { return t.text }
