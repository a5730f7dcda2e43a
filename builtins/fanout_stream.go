package builtins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/sys"
)

// The streams of a fan-out (k8s.watch and k8s.logs(follow=True) with
// contexts=): one stream per context, merged into one as their items come.

// fanItem is an item of the stream of one context.
type fanItem[T any] struct {
	context string
	item    T
}

// streamMember is the stream of one context: its items, the error that
// ended it once they are closed, and what stops it.
type streamMember[T any] struct {
	context string
	items   <-chan T
	err     func() error
	stop    func()
}

// fanStream is the streams of several contexts merged.
type fanStream[T any] struct {
	b       *starlark.Builtin
	items   chan fanItem[T]
	done    chan struct{}
	once    sync.Once
	members []streamMember[T]
	errs    *fanErrors
	w       io.Writer // stderr, for a line per context that fails

	mu     sync.Mutex
	failed []string // "context: message"
}

// mergeStreams forwards the items of members into one stream, each with
// its context. A context whose stream ends with an error is added to errs
// and said on w as it ends; the others go on.
func mergeStreams[T any](b *starlark.Builtin, members []streamMember[T], errs *fanErrors, w io.Writer) *fanStream[T] {
	fs := &fanStream[T]{b: b, items: make(chan fanItem[T]), done: make(chan struct{}), members: members, errs: errs, w: w}
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range m.items {
				select {
				case fs.items <- fanItem[T]{m.context, item}:
				case <-fs.done:
					return
				}
			}
			if err := m.err(); err != nil {
				msg := fanMessage(b, err)
				fs.errs.add(m.context, msg)
				fs.mu.Lock()
				fs.failed = append(fs.failed, m.context+": "+msg)
				fmt.Fprintf(fs.w, "%s: %s: %s\n", b.Name(), m.context, printers.EscapeTerminal(msg))
				fs.mu.Unlock()
			}
		}()
	}
	go func() {
		wg.Wait()
		close(fs.items)
	}()
	return fs
}

// err is the error of the merged stream once its items are closed: one
// only when every context's stream ended with one.
func (fs *fanStream[T]) err() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.failed) == 0 || len(fs.failed) < len(fs.members) {
		return nil
	}
	return errors.New("every context failed: " + strings.Join(fs.failed, "; "))
}

// stop ends every context's stream.
func (fs *fanStream[T]) stop() {
	fs.once.Do(func() {
		close(fs.done)
		for _, m := range fs.members {
			m.stop()
		}
	})
}

// fanLogs is k8s.logs with contexts=: a dict of each context's text, or
// with follow=True the lines of every context as they come, each with its
// context.
func fanLogs(thread *starlark.Thread, b *starlark.Builtin, f *fanout, kctx string, q logsQuery, follow bool, timeout watchDuration) (starlark.Value, error) {
	if !follow {
		f.timeout = timeout // bounds each context's read
	}
	names, err := f.names(thread, b, kctx)
	if err != nil {
		return nil, err
	}
	lcOf := func(c Cluster) (logsCluster, error) {
		lc, ok := c.(logsCluster)
		if !ok {
			return nil, fmt.Errorf("this cluster cannot read logs")
		}
		return lc, nil
	}
	if !follow {
		results := fanRun(thread, b, f, names, func(ctx context.Context, _ string, c Cluster) (string, error) {
			lc, err := lcOf(c)
			if err != nil {
				return "", err
			}
			return q.text(ctx, lc)
		})
		if err := fanFinish(thread, b, results); err != nil {
			return nil, err
		}
		return byContext(results, func(t string) starlark.Value { return starlark.String(t) }), nil
	}
	results := fanRun(thread, b, f, names, func(ctx context.Context, _ string, c Cluster) (*kube.LogFollower, error) {
		lc, err := lcOf(c)
		if err != nil {
			return nil, err
		}
		return q.follow(ctx, lc)
	})
	if err := fanFinish(thread, b, results); err != nil {
		for _, r := range results {
			if r.value != nil {
				r.value.Stop()
			}
		}
		return nil, err
	}
	var members []streamMember[kube.LogLine]
	for _, r := range results {
		if r.err == nil {
			members = append(members, streamMember[kube.LogLine]{r.context, r.value.Lines(), r.value.Err, r.value.Stop})
		}
	}
	errs, _ := thread.Local(lastErrorsKey).(*fanErrors)
	return &fanLogsValue{b: b, thread: thread, timeout: timeout, what: q.what(),
		stream: mergeStreams(b, members, errs, stderr(thread))}, nil
}

// fanLogsValue is the value of k8s.logs(follow=True, contexts=...).
type fanLogsValue struct {
	b       *starlark.Builtin
	thread  *starlark.Thread
	timeout watchDuration
	what    string
	stream  *fanStream[kube.LogLine]
	used    bool
}

var _ starlark.Iterable = (*fanLogsValue)(nil)

func (lv *fanLogsValue) String() string        { return fmt.Sprintf("<k8s.logs %s>", lv.what) }
func (lv *fanLogsValue) Type() string          { return "k8s.logs" }
func (lv *fanLogsValue) Freeze()               {}
func (lv *fanLogsValue) Truth() starlark.Bool  { return true }
func (lv *fanLogsValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.logs") }

func (lv *fanLogsValue) Iterate() starlark.Iterator {
	it := &streamIterator[fanItem[kube.LogLine]]{b: lv.b, thread: lv.thread, ctx: sys.Context(lv.thread)}
	if lv.used {
		it.fail = fmt.Errorf("%s: a followed log can be iterated once; call k8s.logs again", lv.b.Name())
		return it
	}
	lv.used = true
	it.items, it.err, it.stop = lv.stream.items, lv.stream.err, lv.stream.stop
	it.convert = func(fi fanItem[kube.LogLine]) (starlark.Value, bool, error) {
		l := fi.item
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"context":   starlark.String(fi.context),
			"namespace": starlark.String(l.Namespace),
			"pod":       starlark.String(l.Pod),
			"container": starlark.String(l.Container),
			"text":      starlark.String(l.Text),
		}), false, nil
	}
	it.startTimer(lv.timeout)
	return it
}

// watchMember is one context's watch of a k8s.watch with contexts=.
type watchMember struct {
	context string
	c       watchCluster
	first   *kube.Watcher // started by k8s.watch itself
}

// fanWatch starts wv's watch in each context of f: the objects of each
// are listed now, so that a context that cannot be watched is one of the
// contexts that failed.
func fanWatch(thread *starlark.Thread, wv *watchValue, f *fanout) error {
	b := wv.b
	names, err := f.names(thread, b, wv.sel.context)
	if err != nil {
		return err
	}
	results := fanRun(thread, b, f, names, func(ctx context.Context, _ string, c Cluster) (*watchMember, error) {
		wc, ok := c.(watchCluster)
		if !ok {
			return nil, fmt.Errorf("this cluster cannot watch")
		}
		m := &watchMember{c: wc}
		var err error
		m.first, err = wv.startIn(wc)
		return m, err
	})
	if err := fanFinish(thread, b, results); err != nil {
		for _, r := range results {
			if r.value != nil && r.value.first != nil {
				r.value.first.Stop()
			}
		}
		return err
	}
	for _, r := range results {
		if r.err == nil {
			r.value.context = r.context
			wv.members = append(wv.members, r.value)
		}
	}
	wv.errs, _ = thread.Local(lastErrorsKey).(*fanErrors)
	return nil
}

// iterateFleet is Iterate of a k8s.watch with contexts=: the events of
// every context as they come, each object knowing its context. Later
// passes start each context's watch again.
func (wv *watchValue) iterateFleet() starlark.Iterator {
	watchers := map[string]*kube.Watcher{}
	var members []streamMember[kube.WatchEvent]
	initial := 0
	for _, m := range wv.members {
		w := m.first
		m.first = nil
		if w == nil {
			var err error
			if w, err = wv.startIn(m.c); err != nil {
				msg := fanMessage(wv.b, err)
				wv.errs.add(m.context, msg)
				fmt.Fprintf(stderr(wv.thread), "%s: %s: %s\n", wv.b.Name(), m.context, printers.EscapeTerminal(msg))
				continue
			}
		}
		watchers[m.context] = w
		initial += w.InitialCount()
		members = append(members, streamMember[kube.WatchEvent]{m.context, w.Events(), w.Err, w.Stop})
	}
	wv.initialCount = initial
	it := &streamIterator[fanItem[kube.WatchEvent]]{b: wv.b, thread: wv.thread, ctx: wv.ctx}
	if len(members) == 0 {
		it.fail = fmt.Errorf("%s: no context could be watched", wv.b.Name())
		return it
	}
	stream := mergeStreams(wv.b, members, wv.errs, stderr(wv.thread))
	it.items, it.err, it.stop = stream.items, stream.err, stream.stop
	reads := map[string]*read{}
	it.convert = func(fi fanItem[kube.WatchEvent]) (starlark.Value, bool, error) {
		rd := reads[fi.context]
		if rd == nil {
			w := watchers[fi.context]
			rd = &read{resource: w.Resource(), allNamespaces: wv.sel.allNamespaces, cluster: wv.clusterOf(fi.context)}
			if cols := w.Columns(); cols != nil {
				rd.rows = &kube.Rows{Columns: cols}
			}
			reads[fi.context] = rd
		}
		e := eventValue(fi.item, rd)
		if o, ok := eventObject(e); ok {
			o.context = fi.context
		}
		return wv.until1(e)
	}
	it.startTimer(wv.timeout)
	return it
}

// clusterOf is the cluster of wv's member context name, nil if none.
func (wv *watchValue) clusterOf(name string) Cluster {
	for _, m := range wv.members {
		if m.context == name {
			c, _ := m.c.(Cluster)
			return c
		}
	}
	return nil
}
