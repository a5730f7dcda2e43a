package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/sys"
)

// The fan-outs of k8s.list, k8s.get and k8s.iter (contexts=): fanout.go.

// fanList is k8s.list (and k8s.get without a name) with contexts=: the
// contexts' objects, kind by kind ("deploy,svc": the Deployments of every
// context, then the Services), each kind's in the order of the contexts.
func fanList(thread *starlark.Thread, b *starlark.Builtin, f *fanout, s selection, where starlark.Callable, limit int64) (starlark.Value, error) {
	names, err := f.names(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	results := fanRun(thread, b, f, names, func(ctx context.Context, _ string, c Cluster) ([]*kube.RowList, error) {
		return readRows(ctx, c, s, limit)
	})
	if err := fanFinish(thread, b, results); err != nil {
		return nil, err
	}
	// The kinds in the order first seen.
	var gvrs []schema.GroupVersionResource
	seen := map[schema.GroupVersionResource]bool{}
	for _, r := range results {
		for _, l := range r.value {
			if gvr := l.Resource.GVR; !seen[gvr] {
				seen[gvr] = true
				gvrs = append(gvrs, gvr)
			}
		}
	}
	var out []starlark.Value
	var reads []*read
	for _, gvr := range gvrs {
		for _, r := range results {
			for _, l := range r.value {
				if l.Resource.GVR != gvr {
					continue
				}
				n := len(out)
				var rd *read
				if out, rd, err = readObjects(thread, l, where, out); err != nil {
					return nil, fmt.Errorf("%s: where: %w", b.Name(), err)
				}
				tagged(out[n:], r.context)
				reads = append(reads, rd)
			}
		}
	}
	v := starlark.NewList(out)
	rememberReads(v, reads)
	return v, nil
}

// fanGet is k8s.get of a named object with contexts=: the list of the
// object as each context has it. With default=, a context without it is
// left out; without, it is one of the contexts that failed.
func fanGet(thread *starlark.Thread, b *starlark.Builtin, f *fanout, s selection, dflt starlark.Value) (starlark.Value, error) {
	if s.allNamespaces || s.selector.s != "" || s.fields.s != "" {
		return nil, fmt.Errorf("%s: all_namespaces, selector and fields select a list; they cannot be used with a name", b.Name())
	}
	names, err := f.names(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	results := fanRun(thread, b, f, names, func(ctx context.Context, _ string, c Cluster) (*kube.RowList, error) {
		l, err := c.GetRow(ctx, s.kind, s.name, s.namespace)
		switch {
		case err != nil && dflt != nil && apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, err
		case len(l.Raw) != 1:
			return nil, fmt.Errorf("the server sent %d objects for %s %q", len(l.Raw), s.kind, s.name)
		}
		return l, nil
	})
	if err := fanFinish(thread, b, results); err != nil {
		return nil, err
	}
	var out []starlark.Value
	var reads []*read
	for _, r := range results {
		if r.err != nil || r.value == nil {
			continue
		}
		l := r.value
		rd := &read{resource: l.Resource, namespace: l.Namespace, rows: l.Rows}
		o := rd.object(l, 0)
		o.context = r.context
		out = append(out, o)
		reads = append(reads, rd)
	}
	v := starlark.NewList(out)
	rememberReads(v, reads)
	return v, nil
}

// fanIter is k8s.iter with contexts=: the first page of every context is
// read at once, when k8s.iter is called (a context that fails then is one
// of the contexts that failed); the loop then goes through the contexts
// in turn, reading each one's further pages as it goes.
func fanIter(thread *starlark.Thread, b *starlark.Builtin, f *fanout, s selection, where starlark.Callable, limit int64) (starlark.Value, error) {
	names, err := f.names(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	parent := sys.Context(thread)
	results := fanRun(thread, b, f, names, func(ctx context.Context, _ string, c Cluster) (*pager, error) {
		// The later pages, and the stream: timeout= bounds the first.
		p := &pager{b: b, c: c, ctx: parent, sel: s, limit: limit, where: where, thread: thread}
		if err := p.start(parent, ctx); err != nil {
			return nil, err
		}
		return p, nil
	})
	if err := fanFinish(thread, b, results); err != nil {
		return nil, err
	}
	fp := &fleetPager{kind: s.kind}
	for _, r := range results {
		if r.err == nil {
			r.value.context = r.context
			fp.pagers = append(fp.pagers, r.value)
		}
	}
	return fp, nil
}

// fleetPager is the value of k8s.iter with contexts=: the pagers of the
// contexts one after another.
type fleetPager struct {
	kind   string
	pagers []*pager
}

var _ starlark.Iterable = (*fleetPager)(nil)

func (p *fleetPager) String() string        { return fmt.Sprintf("<k8s.iter %s>", p.kind) }
func (p *fleetPager) Type() string          { return "k8s.iter" }
func (p *fleetPager) Freeze()               {}
func (p *fleetPager) Truth() starlark.Bool  { return true }
func (p *fleetPager) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.iter") }

func (p *fleetPager) Iterate() starlark.Iterator { return &fleetIterator{pagers: p.pagers} }

type fleetIterator struct {
	pagers []*pager
	cur    starlark.Iterator
}

func (it *fleetIterator) Next(v *starlark.Value) bool {
	for {
		if it.cur == nil {
			if len(it.pagers) == 0 {
				return false
			}
			it.cur, it.pagers = it.pagers[0].Iterate(), it.pagers[1:]
		}
		if it.cur.Next(v) {
			return true
		}
		it.cur.Done()
		if pi, ok := it.cur.(*pageIterator); ok && pi.err != nil {
			it.cur, it.pagers = nil, nil // the program stops with its error
			return false
		}
		it.cur = nil
	}
}

func (it *fleetIterator) Done() {
	if it.cur != nil {
		it.cur.Done()
	}
}
