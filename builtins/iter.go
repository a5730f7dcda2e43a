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
