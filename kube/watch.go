package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// WatchOptions select the objects a watch follows.
type WatchOptions struct {
	// ListOptions chooses the namespace and the selectors; Limit is ignored.
	ListOptions
	// Name, when set, follows that one object (a field selector
	// metadata.name=Name, added to FieldSelector).
	Name string
	// Initial makes the watch first deliver every object that exists now as
	// an ADDED event, like an informer; without it only changes are
	// delivered.
	Initial bool
	// Rows asks for the server's table as kubectl get -w does: each
	// event carries its object's row (WatchEvent.Cells, under the columns
	// of Watcher.Columns).
	Rows bool
}

// Watch event types, as the API names them.
const (
	Added    = string(watch.Added)
	Modified = string(watch.Modified)
	Deleted  = string(watch.Deleted)
)

// WatchEvent is one change of one object.
type WatchEvent struct {
	Type   string // Added, Modified or Deleted
	Object *unstructured.Unstructured
	// Cells is the object's row of the server's table with
	// WatchOptions.Rows; nil without, or for a deletion the watch inferred
	// after a 410 Gone.
	Cells []any
}

// Reconnect backoff, like client-go's reflector: the first wait is below a
// second, each failure doubles it up to watchBackoffCap, with jitter (each
// wait is drawn from [d/2, d]).
var (
	watchBackoffBase = 800 * time.Millisecond
	watchBackoffCap  = 30 * time.Second
)

// A watch request asks the server to end it after a random 5 to 10
// minutes (as the reflector does), so that no one connection lives forever.
const watchMinTimeout = 5 * time.Minute

// watchSource is what a watch reads: dynamic.ResourceInterface implements it,
// and tests give a scripted one.
type watchSource interface {
	List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// Watcher is a watch that survives what real clusters do: the server
// closing it, a dropped connection, an apiserver restart (it resumes from
// the last resourceVersion seen, with bookmarks, backing off between
// attempts) and 410 Gone (it lists again and delivers the difference
// between what it delivered and what is there now). No event is lost and
// none repeated: per object, the resourceVersions delivered increase.
// 401 and 403 end it with an error.
type Watcher struct {
	src          watchSource
	resource     Resource
	label        string
	fields       string
	ns           string
	events       chan WatchEvent
	cancel       context.CancelFunc
	done         chan struct{}
	err          error
	initial      []unstructured.Unstructured // delivered first when Initial
	initialCount int

	// known is what the watcher has delivered (or, without Initial, what it
	// started from): the last version of every object, by namespace/name.
	// The objects delivered belong to the caller, who may change them.
	known map[string]seen
	rv    string // the resourceVersion to resume from

	ctx       context.Context
	startOnce sync.Once
	stopOnce  sync.Once
	sleep     func(context.Context, time.Duration) error
}

// Watch lists the objects of kind that opts select, now, so that an unknown
// kind, a bad selector or a Forbidden is an error of this call, and returns
// a Watcher that watches on from that list once Events is first called.
// ctx bounds the whole watch; Stop ends it sooner.
func (c *Client) Watch(ctx context.Context, kind string, opts WatchOptions) (*Watcher, error) {
	r, ns, err := c.collection(kind, opts.ListOptions)
	if err != nil {
		return nil, err
	}
	var src watchSource = c.resourceClient(r, ns)
	if opts.Rows {
		if _, err := c.rawClient(); err != nil {
			return nil, err
		}
		src = newTableSource(c, r, ns)
	}
	w, err := newWatcher(ctx, src, opts, ns)
	if err != nil {
		return nil, apiError(err, ns)
	}
	w.resource = r
	return w, nil
}

// newWatcher lists what opts select from src; Events starts the watch.
// ns is the namespace that src reads, for error messages.
func newWatcher(ctx context.Context, src watchSource, opts WatchOptions, ns string) (*Watcher, error) {
	fs := opts.FieldSelector
	if opts.Name != "" {
		byName := fields.OneTermEqualSelector("metadata.name", opts.Name).String()
		if fs == "" {
			fs = byName
		} else {
			fs += "," + byName
		}
	}
	w := &Watcher{
		src: src, label: opts.LabelSelector, fields: fs, ns: ns,
		events: make(chan WatchEvent),
		done:   make(chan struct{}),
		known:  map[string]seen{},
		sleep:  sleepCtx,
	}
	items, rv, err := w.list(ctx)
	if err != nil {
		return nil, err
	}
	for i := range items {
		w.known[objectKey(&items[i])] = seenOf(&items[i])
	}
	w.rv = rv
	if opts.Initial {
		w.initial, w.initialCount = items, len(items)
	} else if ts, ok := src.(*tableSource); ok {
		ts.dropRows() // the rows of what will not be delivered
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	return w, nil
}

// Events delivers the events, in order; it is closed when the watch ends,
// after which Err tells why. The first call starts the watch: until then
// it holds no connection and no goroutine.
func (w *Watcher) Events() <-chan WatchEvent {
	w.startOnce.Do(func() {
		go w.run(w.ctx)
	})
	return w.events
}

// Resource is the resource watched.
func (w *Watcher) Resource() Resource { return w.resource }

// Columns are the columns of the server's table with WatchOptions.Rows
// (nil without, or before anything was read).
func (w *Watcher) Columns() []metav1.TableColumnDefinition {
	if ts, ok := w.src.(*tableSource); ok {
		return ts.Columns()
	}
	return nil
}

// InitialCount is how many of the first events are the initial state
// (ADDED events from the list), 0 without WatchOptions.Initial.
func (w *Watcher) InitialCount() int { return w.initialCount }

// Err is the error that ended the watch once Events is closed: nil when it
// was stopped or its context ended.
func (w *Watcher) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Stop ends the watch and waits until its goroutine and connection are
// gone. It may be called more than once.
func (w *Watcher) Stop() {
	w.stopOnce.Do(w.cancel)
	w.startOnce.Do(func() { close(w.events); close(w.done) }) // never started
	<-w.done
}

// list reads every object that the watch selects, page by page, and the
// resourceVersion to watch from.
func (w *Watcher) list(ctx context.Context) ([]unstructured.Unstructured, string, error) {
	var items []unstructured.Unstructured
	cont, rv := "", ""
	for {
		page, err := w.src.List(ctx, metav1.ListOptions{
			LabelSelector: w.label, FieldSelector: w.fields, Limit: PageSize, Continue: cont,
		})
		if err != nil {
			return nil, "", err
		}
		items = append(items, page.Items...)
		rv = page.GetResourceVersion()
		cont = page.GetContinue()
		if cont == "" {
			return items, rv, nil
		}
	}
}

func (w *Watcher) run(ctx context.Context) {
	defer close(w.done)
	defer close(w.events)
	for i := range w.initial {
		if !w.send(ctx, Added, &w.initial[i]) {
			return
		}
	}
	w.initial = nil
	if err := w.loop(ctx); err != nil && ctx.Err() == nil {
		w.err = apiError(err, w.ns)
	}
}

// loop watches, resumes and relists until ctx ends or a fatal error.
func (w *Watcher) loop(ctx context.Context) error {
	failures := 0
	for {
		started := time.Now()
		delivered, err := w.watchOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			// The server ended the watch. Resume at once, unless it ended a
			// fresh watch that delivered nothing: then back off.
			if delivered || time.Since(started) > time.Second {
				failures = 0
				continue
			}
		case fatal(err):
			return err
		case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
			// 410: what we would resume from is compacted away. List again
			// and deliver the difference.
			if err := w.relist(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if fatal(err) {
					return err
				}
				break // back off, then try the watch (and so the relist) again
			}
			failures = 0
			continue
		}
		if delivered {
			// A watch that broke after it delivered (a cut connection,
			// once more): the failures before it are over, and the backoff
			// starts again from its first step. Without this, a watch cut
			// every few KB waited up to 30 s after each cut.
			failures = 0
		}
		if err := w.sleep(ctx, backoffDelay(failures)); err != nil {
			return nil
		}
		failures++
	}
}

// backoffDelay is the wait before attempt n+1 after n failures in a row.
func backoffDelay(n int) time.Duration {
	d := watchBackoffBase
	for i := 0; i < n && d < watchBackoffCap; i++ {
		d *= 2
	}
	d = min(d, watchBackoffCap)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// fatal tells whether err ends a watch rather than being retried: the
// server refused who we are or what we asked, which trying again will not
// change.
func fatal(err error) bool {
	return apierrors.IsUnauthorized(err) || apierrors.IsForbidden(err) ||
		apierrors.IsNotFound(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsMethodNotSupported(err) || apierrors.IsInvalid(err) ||
		apierrors.IsNotAcceptable(err)
}

// watchOnce watches from w.rv until the stream ends. It returns whether it
// delivered anything (bookmarks included) and the error that ended it, nil
// when the server closed it.
func (w *Watcher) watchOnce(ctx context.Context) (bool, error) {
	timeout := int64((watchMinTimeout + time.Duration(rand.Int64N(int64(watchMinTimeout)))) / time.Second)
	wi, err := w.src.Watch(ctx, metav1.ListOptions{
		LabelSelector: w.label, FieldSelector: w.fields,
		ResourceVersion: w.rv, AllowWatchBookmarks: true, TimeoutSeconds: &timeout,
	})
	if err != nil {
		return false, err
	}
	defer wi.Stop()
	delivered := false
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return delivered, ctx.Err()
		case ev, ok = <-wi.ResultChan():
		}
		if !ok {
			return delivered, nil
		}
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			obj, isU := ev.Object.(*unstructured.Unstructured)
			if !isU {
				return delivered, fmt.Errorf("watch delivered a %T", ev.Object)
			}
			delivered = true
			if !w.observe(ctx, string(ev.Type), obj) {
				return delivered, ctx.Err()
			}
		case watch.Bookmark:
			delivered = true
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
				w.rv = m.GetResourceVersion()
			}
		case watch.Error:
			return delivered, apierrors.FromObject(ev.Object)
		}
	}
}

// observe delivers one event from the server, unless the caller has
// already seen that version of the object; it reports false when ctx ended.
func (w *Watcher) observe(ctx context.Context, typ string, obj *unstructured.Unstructured) bool {
	rv := obj.GetResourceVersion()
	key := objectKey(obj)
	prev, ok := w.known[key]
	if rv != "" {
		w.rv = rv
	}
	same := ok && prev.uid == obj.GetUID()
	if same && !newerVersion(rv, prev.rv) {
		if ts, ok := w.src.(*tableSource); ok {
			ts.row(obj) // its row goes with it
		}
		return true // seen already
	}
	if typ == Deleted {
		delete(w.known, key)
	} else {
		w.known[key] = seenOf(obj)
	}
	if typ == Added && same {
		typ = Modified
	}
	return w.send(ctx, typ, obj)
}

// relist lists again and delivers what changed since the caller last saw
// each object: ADDED for a new one, MODIFIED for a newer version, DELETED
// for one that is gone (with the apiVersion, kind and metadata it last had:
// its final state is unknown); a name reused by a new object (another UID)
// is DELETED then ADDED.
func (w *Watcher) relist(ctx context.Context) error {
	items, rv, err := w.list(ctx)
	if err != nil {
		return err
	}
	now := make(map[string]*unstructured.Unstructured, len(items))
	for i := range items {
		now[objectKey(&items[i])] = &items[i]
	}
	// Deletions first, so that a reused name reads DELETED then ADDED.
	keys := make([]string, 0, len(w.known))
	for k := range w.known {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		old := w.known[key]
		cur, ok := now[key]
		if ok && cur.GetUID() == old.uid {
			continue
		}
		delete(w.known, key)
		if !w.send(ctx, Deleted, &unstructured.Unstructured{Object: old.meta}) {
			return ctx.Err()
		}
	}
	for i := range items {
		cur := &items[i]
		key := objectKey(cur)
		old, ok := w.known[key]
		switch {
		case !ok:
			w.known[key] = seenOf(cur)
			if !w.send(ctx, Added, cur) {
				return ctx.Err()
			}
		case newerVersion(cur.GetResourceVersion(), old.rv):
			w.known[key] = seenOf(cur)
			if !w.send(ctx, Modified, cur) {
				return ctx.Err()
			}
		}
	}
	w.rv = rv
	return nil
}

func (w *Watcher) send(ctx context.Context, typ string, obj *unstructured.Unstructured) bool {
	ev := WatchEvent{Type: typ, Object: obj}
	if ts, ok := w.src.(*tableSource); ok {
		ev.Cells = ts.row(obj)
	}
	select {
	case w.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func objectKey(obj *unstructured.Unstructured) string {
	return types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}.String()
}

// seen is what a watch remembers of an object it delivered: enough to tell
// a repeat from a change, and to say which object was deleted.
type seen struct {
	uid  types.UID
	rv   string
	meta map[string]any // apiVersion, kind and metadata (without managedFields), a copy
}

func seenOf(obj *unstructured.Unstructured) seen {
	meta := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind()}
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		md = runtime.DeepCopyJSONValue(md).(map[string]any)
		delete(md, "managedFields")
		meta["metadata"] = md
	}
	return seen{uid: obj.GetUID(), rv: obj.GetResourceVersion(), meta: meta}
}

// newerVersion tells whether resourceVersion a is later than b. They are
// opaque to clients, but every apiserver backed by etcd gives integers;
// anything else that differs counts as newer.
func newerVersion(a, b string) bool {
	ai, errA := strconv.ParseUint(a, 10, 64)
	bi, errB := strconv.ParseUint(b, 10, 64)
	if errA != nil || errB != nil {
		return a != b
	}
	return ai > bi
}
