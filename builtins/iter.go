package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["iter"] = doc.Builtin("k8s.iter", iterDoc, iter)
}

// pager is the value of k8s.iter: an iterable over the objects of one
// selection that reads one page at a time.
type pager struct {
	b      *starlark.Builtin
	c      Cluster
	ctx    context.Context
	sel    selection
	limit  int64
	where  starlark.Callable
	first  *kube.RowList // read by k8s.iter itself
	thread *starlark.Thread
	// context is the kubeconfig context of c when it is one of several
	// (contexts=), "" otherwise.
	context string
}

var _ starlark.Iterable = (*pager)(nil)

func iter(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c, s, where, limit, f, err := listArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	if f.on() {
		return fanIter(thread, b, &f, s, where, int64(limit))
	}
	p := &pager{b: b, c: c, ctx: sys.Context(thread), sel: s, limit: int64(limit), where: where, thread: thread}
	// Read the first page now, so that a wrong kind or a Forbidden is an
	// ordinary error of this call rather than of the loop.
	p.first, err = p.page("", 0)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pager) page(cont string, have int64) (*kube.RowList, error) {
	opts := p.sel.options()
	opts.Limit = p.limit
	l, err := p.c.ListRowsPage(p.ctx, p.sel.kind, opts, cont, have)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.b.Name(), err)
	}
	return l, nil
}

func (p *pager) String() string        { return fmt.Sprintf("<k8s.iter %s>", p.sel.kind) }
func (p *pager) Type() string          { return "k8s.iter" }
func (p *pager) Freeze()               {}
func (p *pager) Truth() starlark.Bool  { return true }
func (p *pager) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.iter") }

// Iterate starts a pass over the objects; the first pass uses the page read
// by k8s.iter, later passes read again from the start.
func (p *pager) Iterate() starlark.Iterator {
	it := &pageIterator{p: p, thread: p.thread}
	if p.first != nil {
		it.page, p.first = p.first, nil
	} else {
		it.page, it.err = p.page("", 0)
	}
	return it
}

type pageIterator struct {
	p      *pager
	thread *starlark.Thread
	page   *kube.RowList
	read   *read // of page
	i      int
	have   int64
	err    error
}

func (it *pageIterator) Next(v *starlark.Value) bool {
	for {
		if it.err != nil {
			// A Starlark iterator cannot return an error: stop the program
			// with it instead of ending the loop as if the list were done.
			it.thread.Cancel(it.err.Error())
			return false
		}
		if it.i < len(it.page.Raw) {
			if it.read == nil {
				l := it.page
				it.read = &read{resource: l.Resource, namespace: l.Namespace, allNamespaces: l.AllNamespaces, rows: l.Rows, cluster: it.p.c}
			}
			o := it.read.object(it.page, it.i)
			o.context = it.p.context
			it.page.Raw[it.i] = nil // let the page go as we go
			it.i++
			if it.p.where != nil {
				ok, err := accepts(it.thread, it.p.where, o)
				if err != nil {
					it.err = fmt.Errorf("%s: where: %w", it.p.b.Name(), err)
					continue
				}
				if !ok {
					continue
				}
			}
			*v = o
			return true
		}
		cont := it.page.List.GetContinue()
		if cont == "" {
			return false
		}
		it.have += int64(len(it.page.Raw))
		it.page, it.err = it.p.page(cont, it.have)
		it.i, it.read = 0, nil
	}
}

func (it *pageIterator) Done() {}

const iterDoc = `k8s.iter(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None, contexts=None, parallel=16, timeout=None)

Like k8s.list, but an iterable that reads one page (500 objects) at a time
as the loop goes on, so that "for p in k8s.iter("pods", all_namespaces=True)"
over 100,000 objects holds about one page in memory. The first page is read
when k8s.iter is called, so a bad kind or a Forbidden fails there; a failure
on a later page stops the loop with an error.

` + selectionDoc + `

With contexts=, the first page of every context is read at once when
k8s.iter is called (timeout= bounds it), then the loop goes through the
contexts in turn.

` + fanoutDoc

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
		p := &pager{b: b, c: c, ctx: ctx, sel: s, limit: limit, where: where, thread: thread}
		var err error
		if p.first, err = p.page("", 0); err != nil {
			return nil, err
		}
		p.ctx = parent // the later pages: timeout= bounds the first
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
