package builtins

import (
	"context"
	"fmt"
	"runtime"

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
	b     *starlark.Builtin
	c     Cluster
	ctx   context.Context
	sel   selection
	limit int64
	where starlark.Callable
	first *kube.RowList // read by k8s.iter itself
	// stream is the streaming list the first page came from (nil when it
	// came from a list page), until the first pass takes it.
	stream *openStream
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
	if err := p.start(p.ctx, p.ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// streamCluster is what a cluster needs to read k8s.iter's objects as a
// streaming list (kube.Client implements it).
type streamCluster interface {
	StreamRows(ctx context.Context, kind string, opts kube.ListOptions) (*kube.RowStream, error)
}

var _ streamCluster = (*kube.Client)(nil)

// openStream is a streaming list being read, and the end of its context.
type openStream struct {
	s      *kube.RowStream
	cancel context.CancelFunc
}

func (o *openStream) close() {
	if o != nil {
		o.s.Close()
		o.cancel()
	}
}

// start reads the first page of the first pass, and keeps the stream it
// came from: ctx bounds the whole pass, first the reading of the first
// page (the same context, or a shorter one with contexts=).
func (p *pager) start(ctx, first context.Context) error {
	var err error
	p.first, p.stream, err = p.open(ctx, first)
	if p.stream != nil {
		// A pager dropped before its loop ran lets its stream go.
		runtime.AddCleanup(p, (*openStream).close, p.stream)
	}
	return err
}

// open starts a pass: it reads the first page, from a streaming list
// (KEP-3157) when the cluster streams lists of this kind, else from the
// paged list. A stream that fails before it gave anything gives way to
// the pages, whose errors are the ones a list says.
func (p *pager) open(ctx, first context.Context) (*kube.RowList, *openStream, error) {
	if sc, ok := p.c.(streamCluster); ok && p.limit == 0 {
		sctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(first, cancel)
		s, err := sc.StreamRows(sctx, p.sel.kind, p.sel.options())
		if err != nil {
			stop()
			cancel()
			return nil, nil, fmt.Errorf("%s: %w", p.b.Name(), err)
		}
		if s != nil {
			l, err := s.Next()
			if stop() && err == nil {
				o := &openStream{s: s, cancel: cancel}
				if l == nil { // nothing at all
					o.close()
					return s.Empty(), nil, nil
				}
				return l, o, nil
			}
			s.Close()
		}
		stop()
		cancel()
	}
	l, err := p.pageIn(first, "", 0)
	return l, nil, err
}

func (p *pager) page(cont string, have int64) (*kube.RowList, error) {
	return p.pageIn(p.ctx, cont, have)
}

func (p *pager) pageIn(ctx context.Context, cont string, have int64) (*kube.RowList, error) {
	opts := p.sel.options()
	opts.Limit = p.limit
	l, err := p.c.ListRowsPage(ctx, p.sel.kind, opts, cont, have)
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
		it.page, it.stream, p.first, p.stream = p.first, p.stream, nil, nil
	} else {
		it.page, it.stream, it.err = p.open(p.ctx, p.ctx)
	}
	return it
}

type pageIterator struct {
	p      *pager
	thread *starlark.Thread
	page   *kube.RowList
	stream *openStream // the pages come from, when not nil
	read   *read       // of page
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
		it.have += int64(len(it.page.Raw))
		if it.stream != nil {
			l, err := it.stream.s.Next()
			if err != nil {
				it.err = fmt.Errorf("%s: %w", it.p.b.Name(), err)
			}
			if l == nil {
				it.stream.close()
				it.stream = nil
				if err == nil {
					return false
				}
				continue
			}
			it.page, it.i, it.read = l, 0, nil
			continue
		}
		cont := it.page.List.GetContinue()
		if cont == "" {
			return false
		}
		it.page, it.err = it.p.page(cont, it.have)
		it.i, it.read = 0, nil
	}
}

// Done lets the stream go when the loop ends before it (break, an error).
func (it *pageIterator) Done() {
	it.stream.close()
	it.stream = nil
}

const iterDoc = `k8s.iter(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None, contexts=None, parallel=16, timeout=None)

Like k8s.list, but an iterable that reads one page (500 objects) at a time
as the loop goes on, so that "for p in k8s.iter("pods", all_namespaces=True)"
over 100,000 objects holds about one page in memory. The first page is read
when k8s.iter is called, so a bad kind or a Forbidden fails there; a failure
on a later page stops the loop with an error.

Where the server streams lists (KEP-3157: kube-apiserver 1.32 and later,
asked once per resource), k8s.iter reads the objects as one streaming list
(a watch with sendInitialEvents=true, ended by the server's bookmark)
rather than as pages, so that the server does not build each page in
memory either: the same objects, in the same order (by namespace and
name). A server that refuses or ignores it, limit=, and a stream that
breaks (read on from the paged list, after the last object read) read
pages. K8SH_WATCHLIST=0 in the environment makes it always read pages.

` + selectionDoc + `

With contexts=, the first page of every context is read at once when
k8s.iter is called (timeout= bounds it), then the loop goes through the
contexts in turn.

` + fanoutDoc
