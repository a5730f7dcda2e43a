package builtins

import (
	"context"
	"fmt"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["watch"] = doc.Builtin("k8s.watch", watchDoc, watchBuiltin)
}

// watchCluster is what k8s.watch, k8s.wait and k8s.logs need of a cluster
// beyond Cluster: kube.Client implements it.
type watchCluster interface {
	Watch(ctx context.Context, kind string, opts kube.WatchOptions) (*kube.Watcher, error)
}

var _ watchCluster = (*kube.Client)(nil)

func watcherOf(thread *starlark.Thread, b *starlark.Builtin, context string) (watchCluster, error) {
	wc, _, err := clusterAs[watchCluster](thread, b, context, "this session's cluster cannot watch")
	return wc, err
}

const watchDoc = `k8s.watch(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, initial=True, timeout=None, until=None, context=None, contexts=None, parallel=16)

Returns an iterable of the changes to the objects of kind that match, each
a struct with type ("ADDED", "MODIFIED" or "DELETED") and object (a
k8s.object):
  for ev in k8s.watch("pods", selector="app=web", timeout="5m"):
      print(ev.type, ev.object.metadata.name, ev.object.status.phase)

initial=True (the default) first yields every object that exists now as an
ADDED event, then the changes, like an informer; initial=False yields only
the changes from now on. The objects are listed when k8s.watch is called,
so a bad kind or a Forbidden fails there.

The loop ends when timeout passes (a duration, "30s", "5m", "1h30m", or a
number of seconds), when until(ev) returns True (that event is still
yielded), on break, or on Ctrl-C. Without these it runs until stopped.

The watch survives what clusters do: the server closing it, a dropped
connection, an apiserver restart (it resumes from the last resourceVersion
seen, backing off from under a second up to 30 s), and 410 Gone (it lists
again and yields the difference from what it yielded: ADDED, MODIFIED, and
DELETED with the object's last known metadata). No event is lost and none
repeated. A 401 or 403 ends it with an error.

` + selectionDoc + `
A name watches that one object (a field selector metadata.name=name).

k8s.print(k8s.watch(...)) prints the events as kubectl get -w does: the
header once, the objects that exist as one table, then each change's row
(the server's, as it was at that change) as it comes.

With contexts=, the events of every context as they come, each object
knowing its context (k8s.context_of, and a CONTEXT column when printed);
each context is listed when k8s.watch is called, so one that cannot be
watched is one of the contexts that failed (timeout= ends the whole
watch). A context whose watch ends with an error later is said on
stderr and added to k8s.last_errors(); the others go on.

` + fanoutDoc

// watchDuration is a duration given as "30s"/"1h30m" or a number of seconds;
// zero means none was given.
type watchDuration struct {
	d   time.Duration
	set bool
}

var _ starlark.Unpacker = (*watchDuration)(nil)

func (a *watchDuration) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		*a = watchDuration{}
		return nil
	case starlark.String:
		d, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("invalid duration %s: want e.g. \"30s\", \"5m\" or a number of seconds", v)
		}
		a.d = d
	case starlark.Int, starlark.Float:
		f, _ := starlark.AsFloat(v)
		a.d = time.Duration(f * float64(time.Second))
	default:
		return fmt.Errorf("got %s, want a duration (\"30s\") or seconds", v.Type())
	}
	if a.d < 0 {
		return fmt.Errorf("negative duration %s", v)
	}
	a.set = true
	return nil
}

func (a watchDuration) String() string {
	if a.d%time.Second == 0 || a.d > time.Minute {
		return a.d.Round(time.Second).String()
	}
	return a.d.String()
}

// watchValue is the value of k8s.watch: an iterable of events.
type watchValue struct {
	b       *starlark.Builtin
	c       watchCluster
	ctx     context.Context
	sel     selection
	initial bool
	timeout watchDuration
	until   starlark.Callable
	first   *kube.Watcher // started by k8s.watch itself
	thread  *starlark.Thread
	// initialCount is how many of the first events of the last pass are
	// the objects that existed when it started.
	initialCount int
	// members are the watches of each context with contexts= (c is then
	// nil), and errs the contexts that failed (fanout_stream.go).
	members []*watchMember
	errs    *fanErrors
}

var _ starlark.Iterable = (*watchValue)(nil)

func watchBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	wv := &watchValue{b: b, initial: true, thread: thread, ctx: sys.Context(thread)}
	s := &wv.sel
	var target starlark.Value
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{
		"kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace),
		"all_namespaces?", &s.allNamespaces, "selector?", &s.selector, "fields?", &s.fields,
		"initial?", &wv.initial, "timeout?", &wv.timeout, "until?", &wv.until, "context?", starconv.OrNone(&s.context)}, f.args(false)...)...); err != nil {
		return nil, err
	}
	if err := s.ref(b, target); err != nil {
		return nil, err
	}
	if f.on() {
		if err := fanWatch(thread, wv, &f); err != nil {
			return nil, err
		}
		return wv, nil
	}
	c, err := watcherOf(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	wv.c = c
	if wv.first, err = wv.start(); err != nil {
		return nil, err
	}
	return wv, nil
}

func (wv *watchValue) start() (*kube.Watcher, error) {
	w, err := wv.startIn(wv.c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", wv.b.Name(), err)
	}
	return w, nil
}

// startIn starts wv's watch in cluster c.
func (wv *watchValue) startIn(c watchCluster) (*kube.Watcher, error) {
	return c.Watch(wv.ctx, wv.sel.kind, kube.WatchOptions{
		ListOptions: wv.sel.options(), Name: wv.sel.name, Initial: wv.initial, Rows: true,
	})
}

func (wv *watchValue) String() string {
	what := wv.sel.kind
	if wv.sel.name != "" {
		what += "/" + wv.sel.name
	}
	return fmt.Sprintf("<k8s.watch %s>", what)
}
func (wv *watchValue) Type() string          { return "k8s.watch" }
func (wv *watchValue) Freeze()               {}
func (wv *watchValue) Truth() starlark.Bool  { return true }
func (wv *watchValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.watch") }

// Iterate starts a pass: the first uses the watch k8s.watch opened, later
// passes open another. The timeout counts from the start of the pass.
func (wv *watchValue) Iterate() starlark.Iterator {
	if wv.members != nil {
		return wv.iterateFleet()
	}
	w := wv.first
	var err error
	if w != nil {
		wv.first = nil
	} else {
		w, err = wv.start()
	}
	it := &streamIterator[kube.WatchEvent]{b: wv.b, thread: wv.thread, ctx: wv.ctx, fail: err}
	if w != nil {
		it.items, it.err, it.stop = w.Events(), w.Err, w.Stop
		wv.initialCount = w.InitialCount()
	}
	var rd *read
	it.convert = func(ev kube.WatchEvent) (starlark.Value, bool, error) {
		if rd == nil {
			rd = &read{resource: w.Resource(), allNamespaces: wv.sel.allNamespaces}
			rd.cluster, _ = wv.c.(Cluster)
			if cols := w.Columns(); cols != nil {
				rd.rows = &kube.Rows{Columns: cols}
			}
		}
		return wv.until1(eventValue(ev, rd))
	}
	it.startTimer(wv.timeout)
	return it
}

// until1 gives event e to the iterator, and whether until(e) says it is
// the last.
func (wv *watchValue) until1(e starlark.Value) (starlark.Value, bool, error) {
	if wv.until == nil {
		return e, false, nil
	}
	stop, err := starlark.Call(wv.thread, wv.until, starlark.Tuple{e}, nil)
	if err != nil {
		return nil, false, fmt.Errorf("%s: until: %w", wv.b.Name(), err)
	}
	return e, bool(stop.Truth()), nil
}

// eventValue is a watch event as Starlark sees it; its object keeps its
// row of the server's table (a read rd of the watch), for k8s.print.
func eventValue(ev kube.WatchEvent, rd *read) starlark.Value {
	o := NewObject(ev.Object.Object)
	o.row = &tableRow{read: rd, cells: ev.Cells}
	if ev.Cells == nil && rd.rows != nil {
		// A deletion the watch inferred: its name, and blanks.
		o.row.cells = make([]any, len(rd.rows.Columns))
		o.row.cells[0] = ev.Object.GetName()
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"type":   starlark.String(ev.Type),
		"object": o,
	})
}
