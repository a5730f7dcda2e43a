package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["list"] = doc.Builtin("k8s.list", listDoc, list)
}

const listDoc = `k8s.list(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None, contexts=None, parallel=16, timeout=None)

Returns the list of objects of kind that match, always a list, read page by
page (500 a request).

` + selectionDoc + `

where is a Starlark predicate applied to each object on the client:
k8s.list("pods", where=lambda p: p.status.phase != "Running"). It runs on
each page as it comes, so that only the objects kept are held.
limit caps how many objects are read from the server (before where).

With contexts=, the list of every context's objects, kind by kind and in
the order of the contexts, each knowing its context (k8s.context_of); the
table has a CONTEXT column first. limit is then per context, and where
runs once all have answered.

` + fanoutDoc

// listArgs unpacks the arguments shared by k8s.list and k8s.iter, and
// returns the cluster they name (nil with contexts=, f.on()).
func listArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (c Cluster, s selection, where starlark.Callable, limit int, f fanout, err error) {
	err = starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{
		"kind", &s.kind, "namespace?", starconv.OrNone(&s.namespace),
		"all_namespaces?", &s.allNamespaces, "selector?", &s.selector, "fields?", &s.fields,
		"where?", &where, "limit?", &limit, "context?", starconv.OrNone(&s.context)}, f.args(true)...)...)
	if err == nil && limit < 0 {
		err = fmt.Errorf("%s: limit must be positive, got %d", b.Name(), limit)
	}
	if err == nil && !f.on() {
		c, err = clusterFor(thread, b, s.context)
	}
	return c, s, where, limit, f, err
}

func list(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c, s, where, limit, f, err := listArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	if f.on() {
		return fanList(thread, b, &f, s, where, int64(limit))
	}
	v, err := readList(thread, c, s, where, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return v, nil
}

// readList reads the objects s selects, of each of its kinds in turn
// ("deploy,svc", "all"), as k8s.objects with their rows of the server's
// table, keeping those where accepts; limit (0 for none) caps how many are
// read in all.
func readList(thread *starlark.Thread, c Cluster, s selection, where starlark.Callable, limit int64) (*starlark.List, error) {
	var f *pageFilter // where, over each page as it comes (listwhere.go)
	if where != nil && limit == 0 {
		f = &pageFilter{thread: thread, where: where}
	}
	ls, err := readRowsWith(sys.Context(thread), c, s, limit, f)
	if err != nil {
		if f != nil && f.err != nil {
			return nil, fmt.Errorf("where: %w", f.err)
		}
		return nil, err
	}
	var out []starlark.Value
	reads := make([]*read, len(ls))
	for i, l := range ls {
		if f != nil && f.kinds[i].used {
			out, reads[i] = f.kinds[i].result(l, out)
		} else if out, reads[i], err = readObjects(thread, l, where, out); err != nil {
			return nil, fmt.Errorf("where: %w", err)
		}
		reads[i].cluster = c
	}
	v := starlark.NewList(out)
	rememberReads(v, reads)
	return v, nil
}

// readRows reads, with their rows, the objects s selects of each of its
// kinds in turn; limit (0 for none) caps how many are read in all.
func readRows(ctx context.Context, c Cluster, s selection, limit int64) ([]*kube.RowList, error) {
	return readRowsWith(ctx, c, s, limit, nil)
}

// readRowsWith is readRows with f, when not nil, filtering each page as it
// comes.
func readRowsWith(ctx context.Context, c Cluster, s selection, limit int64, f *pageFilter) ([]*kube.RowList, error) {
	kinds, err := c.Kinds(s.kind)
	if err != nil {
		return nil, err
	}
	var out []*kube.RowList
	count := int64(0)
	for _, kind := range kinds {
		opts := s.options()
		if f != nil {
			opts.Keep = f.keeper()
		}
		if limit > 0 {
			if count >= limit {
				break
			}
			opts.Limit = limit - count
		}
		l, err := c.ListRows(ctx, kind, opts)
		if err != nil {
			return nil, err
		}
		count += int64(len(l.Raw))
		out = append(out, l)
	}
	return out, nil
}

// objectList wraps items as k8s.objects.
func objectList(items []unstructured.Unstructured) *starlark.List {
	out := make([]starlark.Value, len(items))
	for i := range items {
		out[i] = NewObject(items[i].Object)
	}
	return starlark.NewList(out)
}

func accepts(thread *starlark.Thread, where starlark.Callable, o *Object) (bool, error) {
	v, err := starlark.Call(thread, where, starlark.Tuple{o}, nil)
	if err != nil {
		return false, err
	}
	return bool(v.Truth()), nil
}
