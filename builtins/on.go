package builtins

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["on"] = doc.Builtin("k8s.on", onDoc, onBuiltin)
	K8s.Members["handlers"] = doc.Builtin("k8s.handlers", handlersDoc, handlersBuiltin)
	K8s.Members["run"] = doc.Builtin("k8s.run", runDoc, runBuiltin)
	K8s.Members["stop"] = doc.Builtin("k8s.stop", stopDoc, stopBuiltin)
}

const onDoc = `k8s.on(kind, fn, *, namespace=None, all_namespaces=False, selector=None, fields=None, events=("ADDED", "MODIFIED", "DELETED"), initial=False, context=None)

Registers fn to be called with each change to the objects of kind that
match, in the background, and returns at once a handle:
  def label_new(ev):
      k8s.label(ev.object, {"seen": "yes"})
  h = k8s.on("configmaps", label_new, events="ADDED")
  h.count, h.errors     # events handled so far, calls that failed
  h.stop()

fn(ev) receives what k8s.watch yields: a struct with type ("ADDED",
"MODIFIED" or "DELETED") and object (a k8s.object). events chooses the
types fn is called for (a str or a list of them). initial=True first calls
fn with every object that exists now as ADDED; initial=False (the
default) only with the changes from now on. The objects are listed when
k8s.on is called, so a bad kind or a Forbidden fails there, and no change
made after it returns is missed.

It is k8s.watch's watch: it survives the server closing it, a dropped
connection, an apiserver restart and 410 Gone, and fn sees each change
once: none lost, none repeated. fn is called for one event at a time, in
order; an error in fn is printed with its backtrace (the first 5 of each
handler; h.errors counts them all, h.last_error is the last) and the
handler goes on with the next event. The watch ending with an error (a
401 or 403) stops the handler, and says so.

Where fn runs:
- In the REPL, in the background while you type: what it prints appears
  above the prompt, and the line being edited is redrawn below it. It
  does not run while a statement of yours runs: its events wait.
- In a script, while k8s.run() waits: k8s.run() blocks and calls the
  handlers until k8s.stop(), its timeout, Ctrl-C or --timeout. The events
  of the time between k8s.on and k8s.run wait for it. A script that ends
  without calling k8s.run() never calls its handlers (k8sh says so on
  stderr).
Handlers and the program never run Starlark at the same time, nor two
handlers, so they may share globals.

A handler's changes go through the session's safety policy: --read-only
and read-only contexts refuse them; a protected context refuses them
unless --yes (K8SH_YES=1) was given, as a handler cannot ask you to
confirm. The REPL does not announce a handler's changes: print them.

h.stop() ends the handler; h.running tells whether it runs; h.id, h.kind,
h.namespace, h.selector, h.events and h.fn say what it is.
k8s.handlers() lists the session's handlers.

` + selectionDoc

const handlersDoc = `k8s.handlers()

Returns the session's handlers (k8s.on's handles) that have not been
stopped, oldest first: a list that prints as a table, as kubectl get
does, and whose handles can each be stopped:
  k8s.handlers()
  ID    KIND         NAMESPACE   SELECTOR   EVENTS   FUNCTION    COUNT   ERRORS   STATUS    AGE
  1     configmaps   default     <none>     ADDED    label_new   12      0        Running   3m
  [h.stop() for h in k8s.handlers()]
A handler whose watch failed stays listed, with STATUS Failed, until
stopped.`

const runDoc = `k8s.run(timeout=None)

Calls the handlers (k8s.on) as their events come, blocking, until
k8s.stop() is called (by a handler), the timeout passes (a duration,
"30s", "5m", or a number of seconds), Ctrl-C, --timeout, or no handler is
left; then it stops every handler, waits for any call in progress to end,
and returns None. A script's main loop:
  k8s.on("configmaps", label_new, events="ADDED")
  k8s.run()
It fails when a handler's watch ended with an error meanwhile (after the
others have run on), naming it; errors in the handlers' calls do not make
it fail (they are printed). Ctrl-C and --timeout end it as they end the
script. It cannot be called from a handler.`

const stopDoc = `k8s.stop()

Stops every handler of the session (k8s.on), and makes k8s.run() return:
a handler calls it when its work is done.
  def on_ready(ev):
      if ev.object.status.get("phase") == "Running":
          print(ev.object.metadata.name, "is running")
          k8s.stop()
A handler that calls it finishes its call; the others are not called
again.`

// onCluster is what k8s.on needs of a cluster: kube.Client implements it.
type onCluster = watchCluster

// handlers are the handlers of each session's Background, for k8s.handlers.
var handlers = struct {
	sync.Mutex
	m    map[*Background][]*handlerValue
	next map[*Background]int
}{m: map[*Background][]*handlerValue{}, next: map[*Background]int{}}

// maxPrintedErrors is how many failed calls of one handler are printed.
const maxPrintedErrors = 5

func onBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sel     selection
		target  starlark.Value
		fn      starlark.Callable
		events  starlark.Value = starlark.None
		initial bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &target, "fn", &fn, "namespace?", starconv.OrNone(&sel.namespace),
		"all_namespaces?", &sel.allNamespaces, "selector?", &sel.selector, "fields?", &sel.fields,
		"events?", &events, "initial?", &initial, "context?", starconv.OrNone(&sel.context)); err != nil {
		return nil, err
	}
	if err := sel.ref(b, target); err != nil {
		return nil, err
	}
	if sel.name != "" {
		return nil, fmt.Errorf("%s: %q names one object: give a kind (\"configmaps\"), and fields=\"metadata.name=%s\" for one object", b.Name(), sel.kind+"/"+sel.name, sel.name)
	}
	types, err := eventTypes(b, events)
	if err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	c, err := watcherOf(thread, b, sel.context)
	if err != nil {
		return nil, err
	}
	bg := BackgroundOf(s)

	// The handler lives until stopped, not until the statement that made
	// it ends; Ctrl-C during the first list still interrupts it.
	ctx, cancel := context.WithCancel(context.Background())
	undo := context.AfterFunc(sys.Context(thread), cancel)
	w, err := c.Watch(ctx, sel.kind, kube.WatchOptions{ListOptions: sel.options(), Initial: initial, Rows: true})
	if !undo() || err != nil {
		cancel()
		if err == nil {
			w.Stop()
			err = context.Canceled
		}
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}

	h := &handlerValue{
		sel: sel, types: types, fn: fn, bg: bg, w: w,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), started: time.Now(),
	}
	h.where = h.namespaceShown(c)
	h.thread = &starlark.Thread{
		Name:  "k8s.on",
		Print: func(t *starlark.Thread, msg string) { bg.Print(t, msg, thread.Print) },
	}
	SetSession(h.thread, s)
	sys.SetContext(h.thread, ctx)
	MarkBackground(h.thread, bg)
	h.thread.SetLocal(handlerKey, h)

	handlers.Lock()
	handlers.next[bg]++
	h.id = handlers.next[bg]
	handlers.m[bg] = append(handlers.m[bg], h)
	handlers.Unlock()
	h.thread.Name = fmt.Sprintf("k8s.on#%d", h.id)

	bg.Add(&Task{Name: h.name(), Stop: h.stop, Done: h.done, Err: h.failure})
	go h.run()
	return h, nil
}

// eventTypes reads k8s.on's events argument.
func eventTypes(b *starlark.Builtin, v starlark.Value) ([]string, error) {
	if v == starlark.None {
		return []string{kube.Added, kube.Modified, kube.Deleted}, nil
	}
	var vals []starlark.Value
	switch v := v.(type) {
	case starlark.String:
		vals = []starlark.Value{v}
	case *starlark.List, starlark.Tuple:
		seq := v.(starlark.Indexable)
		for i := range seq.Len() {
			vals = append(vals, seq.Index(i))
		}
	default:
		return nil, fmt.Errorf("%s: for parameter events: got %s, want str or list of str", b.Name(), v.Type())
	}
	var out []string
	for _, x := range vals {
		s, ok := x.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("%s: for parameter events: got %s in the list, want str", b.Name(), x.Type())
		}
		t := strings.ToUpper(string(s))
		switch t {
		case kube.Added, kube.Modified, kube.Deleted:
		default:
			return nil, fmt.Errorf("%s: for parameter events: unknown event type %q: want ADDED, MODIFIED or DELETED", b.Name(), string(s))
		}
		dup := false
		for _, o := range out {
			dup = dup || o == t
		}
		if !dup {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: for parameter events: no event type given: want ADDED, MODIFIED or DELETED", b.Name())
	}
	return out, nil
}

// handlerValue is k8s.on's handle, and the handler itself.
type handlerValue struct {
	id      int
	sel     selection
	where   string // the namespace shown
	types   []string
	fn      starlark.Callable
	bg      *Background
	w       *kube.Watcher
	thread  *starlark.Thread
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time

	count, errors atomic.Int64
	selfStop      atomic.Bool // its own call asked it to stop
	mu            sync.Mutex
	lastErr       string
	err           error // why the watch ended, when it failed
}

var _ starlark.HasAttrs = (*handlerValue)(nil)

func (h *handlerValue) wants(typ string) bool {
	for _, t := range h.types {
		if t == typ {
			return true
		}
	}
	return false
}

// run calls fn with each event, one at a time, with the turn.
func (h *handlerValue) run() {
	defer close(h.done)
	defer h.w.Stop()
	var rd *read
	for ev := range h.w.Events() {
		if !h.wants(ev.Type) {
			continue
		}
		if rd == nil {
			rd = &read{resource: h.w.Resource(), allNamespaces: h.sel.allNamespaces}
			if cols := h.w.Columns(); cols != nil {
				rd.rows = &kube.Rows{Columns: cols}
			}
		}
		if h.bg.Acquire(h.ctx) != nil {
			return
		}
		h.call(ev, eventValue(ev, rd))
		h.bg.Release()
	}
	if err := h.w.Err(); err != nil && h.ctx.Err() == nil {
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		// Said once, when it happens, with the turn (in the REPL between
		// two statements).
		if h.bg.Acquire(h.ctx) == nil {
			h.bg.Report(fmt.Sprintf("k8s.on: %s stopped: its watch failed: %v", h.name(), err), nil)
			h.bg.Release()
		}
	}
}

// call calls fn with one event; an error is counted, and printed.
func (h *handlerValue) call(ev kube.WatchEvent, v starlark.Value) {
	h.count.Add(1)
	s, _ := h.thread.Local(sessionKey).(*Session)
	s.Budget(h.thread)
	_, err := starlark.Call(h.thread, h.fn, starlark.Tuple{v}, nil)
	if err == nil || h.ctx.Err() != nil {
		return // a call cut short by stopping the handler is no error of it
	}
	n := h.errors.Add(1)
	h.mu.Lock()
	h.lastErr = err.Error()
	h.mu.Unlock()
	if n > maxPrintedErrors {
		return
	}
	obj := ev.Object
	what := strings.ToLower(obj.GetKind()) + "/" + obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		what = ns + "/" + what
	}
	msg := fmt.Sprintf("k8s.on: %s failed on %s %s:", h.name(), ev.Type, what)
	if n == maxPrintedErrors {
		msg = fmt.Sprintf("k8s.on: %s failed on %s %s (its further errors are not printed: h.errors counts them, h.last_error is the last):", h.name(), ev.Type, what)
	}
	h.bg.Report(msg, err)
}

// stop ends the handler: its watch ends, it is not called again, and a
// call in progress is cancelled, unless that call asked for the stop
// (h.stop() or k8s.stop() in fn): it ends as it will.
func (h *handlerValue) stop() {
	h.cancel()
	if !h.selfStop.Load() {
		h.thread.Cancel("k8s.on: the handler was stopped")
	}
}

// handlerOf is the handler whose fn thread runs, nil for none.
func handlerOf(thread *starlark.Thread) *handlerValue {
	h, _ := thread.Local(handlerKey).(*handlerValue)
	return h
}

const handlerKey = "k8sh.handler"

func (h *handlerValue) failure() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

func (h *handlerValue) running() bool {
	select {
	case <-h.done:
		return false
	default:
		return h.ctx.Err() == nil
	}
}

// forget takes h out of k8s.handlers.
func (h *handlerValue) forget() {
	handlers.Lock()
	defer handlers.Unlock()
	hs := handlers.m[h.bg]
	for i, x := range hs {
		if x == h {
			handlers.m[h.bg] = append(hs[:i:i], hs[i+1:]...)
			break
		}
	}
}

func (h *handlerValue) fnName() string {
	if f, ok := h.fn.(*starlark.Function); ok {
		return f.Name()
	}
	return h.fn.Name()
}

func (h *handlerValue) kindShown() string { return h.w.Resource().String() }

func (h *handlerValue) name() string {
	return fmt.Sprintf("handler %d (%s on %s)", h.id, h.fnName(), h.kindShown())
}

// namespaceShown is the namespace the handler watches, as k8s.handlers
// shows it.
func (h *handlerValue) namespaceShown(c onCluster) string {
	switch {
	case !h.w.Resource().Namespaced:
		return ""
	case h.sel.allNamespaces:
		return "*"
	case h.sel.namespace != "":
		return h.sel.namespace
	}
	if cl, ok := c.(Cluster); ok {
		if ns, err := cl.Namespace(); err == nil {
			return ns
		}
	}
	return ""
}

func (h *handlerValue) status() string {
	switch {
	case h.failure() != nil:
		return "Failed"
	case h.running():
		return "Running"
	}
	return "Stopped"
}

func (h *handlerValue) String() string {
	where := ""
	if h.where != "" {
		where = " in " + h.where
	}
	return fmt.Sprintf("<k8s.handler %d: %s on %s%s (%s): %d events, %d errors, %s>",
		h.id, h.fnName(), h.kindShown(), where, strings.Join(h.types, ","),
		h.count.Load(), h.errors.Load(), strings.ToLower(h.status()))
}
func (h *handlerValue) Type() string          { return "k8s.handler" }
func (h *handlerValue) Freeze()               {}
func (h *handlerValue) Truth() starlark.Bool  { return true }
func (h *handlerValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.handler") }

func (h *handlerValue) AttrNames() []string {
	return []string{"count", "errors", "events", "fn", "id", "kind", "last_error", "namespace", "running", "selector", "stop"}
}

func (h *handlerValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "id":
		return starlark.MakeInt(h.id), nil
	case "kind":
		return starlark.String(h.kindShown()), nil
	case "namespace":
		if h.where == "" || h.where == "*" {
			return starlark.None, nil
		}
		return starlark.String(h.where), nil
	case "selector":
		if h.sel.selector.s == "" {
			return starlark.None, nil
		}
		return starlark.String(h.sel.selector.s), nil
	case "events":
		t := make(starlark.Tuple, len(h.types))
		for i, s := range h.types {
			t[i] = starlark.String(s)
		}
		return t, nil
	case "fn":
		return h.fn, nil
	case "count":
		return starlark.MakeInt64(h.count.Load()), nil
	case "errors":
		return starlark.MakeInt64(h.errors.Load()), nil
	case "last_error":
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.lastErr == "" {
			return starlark.None, nil
		}
		return starlark.String(h.lastErr), nil
	case "running":
		return starlark.Bool(h.running()), nil
	case "stop":
		return starlark.NewBuiltin("stop", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs("k8s.handler.stop", args, kwargs); err != nil {
				return nil, err
			}
			if thread == h.thread {
				h.selfStop.Store(true)
			}
			h.stop()
			h.forget()
			if thread != h.thread {
				// Not from its own call: it ends at once (it is waiting
				// for the turn, or for an event, not running).
				<-h.done
			}
			return starlark.None, nil
		}).BindReceiver(h), nil
	}
	return nil, nil
}

func handlersBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	bg := BackgroundOf(s)
	handlers.Lock()
	var out []*handlerValue
	for _, h := range handlers.m[bg] {
		if h.running() || h.failure() != nil {
			out = append(out, h)
		}
	}
	handlers.Unlock()
	return &handlerList{hs: out}, nil
}

// handlerList is k8s.handlers' value: a list of handles that prints as a
// table.
type handlerList struct{ hs []*handlerValue }

var (
	_ starlark.Indexable = (*handlerList)(nil)
	_ starlark.Iterable  = (*handlerList)(nil)
	_ starlark.Sequence  = (*handlerList)(nil)
)

func (l *handlerList) String() string {
	header := []string{"ID", "KIND", "NAMESPACE", "SELECTOR", "EVENTS", "FUNCTION", "COUNT", "ERRORS", "STATUS", "AGE"}
	if len(l.hs) == 0 {
		return "No handlers."
	}
	rows := make([][]string, len(l.hs))
	for i, h := range l.hs {
		sel := h.sel.selector.s
		if sel == "" {
			sel = "<none>"
		}
		if h.sel.fields.s != "" {
			sel += " " + h.sel.fields.s
		}
		ns := h.where
		if ns == "*" {
			ns = "<all>"
		}
		rows[i] = []string{strconv.Itoa(h.id), h.kindShown(), ns, sel, strings.Join(h.types, ","), h.fnName(),
			strconv.FormatInt(h.count.Load(), 10), strconv.FormatInt(h.errors.Load(), 10), h.status(),
			duration.HumanDuration(time.Since(h.started))}
	}
	return strings.TrimSuffix(printTable(header, rows), "\n")
}
func (l *handlerList) Type() string          { return "k8s.handlers" }
func (l *handlerList) Freeze()               {}
func (l *handlerList) Truth() starlark.Bool  { return len(l.hs) > 0 }
func (l *handlerList) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.handlers") }
func (l *handlerList) Len() int              { return len(l.hs) }
func (l *handlerList) Index(i int) starlark.Value {
	return l.hs[i]
}
func (l *handlerList) Iterate() starlark.Iterator { return &handlerIter{l: l} }

type handlerIter struct {
	l *handlerList
	i int
}

func (it *handlerIter) Next(v *starlark.Value) bool {
	if it.i >= len(it.l.hs) {
		return false
	}
	*v = it.l.hs[it.i]
	it.i++
	return true
}
func (it *handlerIter) Done() {}

func runBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var timeout watchDuration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout?", &timeout); err != nil {
		return nil, err
	}
	if inBackground(thread) {
		return nil, fmt.Errorf("%s: cannot be called from a handler: it is the program's loop (a handler ends it with k8s.stop())", b.Name())
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	bg := BackgroundOf(s)
	if bg.Waiting() {
		return nil, fmt.Errorf("%s: already running", b.Name())
	}
	ctx := sys.Context(thread)
	if err := startControllers(ctx, s, bg); err != nil { // controller.go
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	why, failed := bg.Wait(ctx, timeout.d)
	handlers.Lock()
	delete(handlers.m, bg)
	handlers.Unlock()
	if why == WaitInterrupted {
		// Ctrl-C or --timeout: the program ends (the REPL's statement).
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: timed out", b.Name())
		}
		return nil, fmt.Errorf("%s: interrupted", b.Name())
	}
	if len(failed) > 0 {
		more := ""
		if len(failed) > 1 {
			more = fmt.Sprintf(" (and %d more)", len(failed)-1)
		}
		return nil, fmt.Errorf("%s: %v%s", b.Name(), failed[0], more)
	}
	return starlark.None, nil
}

func stopBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	bg := BackgroundOf(s)
	if b, ok := thread.Local(backgroundKey).(*Background); ok {
		bg = b // a controller's reconcile runs on a copy of the session
	}
	if h := handlerOf(thread); h != nil {
		h.selfStop.Store(true)
	}
	if inBackground(thread) || bg.Waiting() {
		bg.RequestStop() // the caller is a task: it cannot wait for itself
		return starlark.None, nil
	}
	bg.RequestStop()
	bg.StopAll()
	handlers.Lock()
	delete(handlers.m, bg)
	handlers.Unlock()
	return starlark.None, nil
}
