package kube

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// fakeServer is an apiserver in miniature for one namespaced resource: a
// store with an event log by resourceVersion that can be compacted, watches
// that can be dropped, and failures on demand.
type fakeServer struct {
	mu        sync.Mutex
	rv        uint64
	uid       int
	objs      map[string]*unstructured.Unstructured
	log       []watch.Event
	compacted uint64 // events at or below this resourceVersion are gone
	watches   map[*fakeWatch]bool
	watchErr  error // the next Watch calls fail with it
	lists     int
	opened    int
}

func newFakeServer() *fakeServer {
	return &fakeServer{objs: map[string]*unstructured.Unstructured{}, watches: map[*fakeWatch]bool{}}
}

func (s *fakeServer) record(typ watch.EventType, obj *unstructured.Unstructured) {
	ev := watch.Event{Type: typ, Object: obj.DeepCopy()}
	s.log = append(s.log, ev)
	for w := range s.watches {
		w.push(ev)
	}
}

func (s *fakeServer) set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rv++
	obj, ok := s.objs[name]
	typ := watch.Modified
	if !ok {
		s.uid++
		obj = &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
		obj.SetName(name)
		obj.SetNamespace("ns")
		obj.SetUID(types.UID("uid-" + strconv.Itoa(s.uid)))
		typ = watch.Added
	}
	obj = obj.DeepCopy()
	obj.Object["data"] = map[string]any{"v": value}
	obj.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	s.objs[name] = obj
	s.record(typ, obj)
}

func (s *fakeServer) remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objs[name]
	if !ok {
		return
	}
	s.rv++
	delete(s.objs, name)
	obj = obj.DeepCopy()
	obj.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	s.record(watch.Deleted, obj)
}

// drop ends every open watch as a broken connection does.
func (s *fakeServer) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watches {
		w.close()
		delete(s.watches, w)
	}
}

// compact forgets the event log, so that resuming from any version seen so
// far is 410 Gone.
func (s *fakeServer) compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compacted = s.rv
	s.log = nil
}

// bookmark sends a bookmark at the current version to every open watch.
func (s *fakeServer) bookmark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	b.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	for w := range s.watches {
		w.push(watch.Event{Type: watch.Bookmark, Object: b})
	}
}

func (s *fakeServer) failWatches(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watchErr = err
}

func (s *fakeServer) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.watches)
}

func (s *fakeServer) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	l := &unstructured.UnstructuredList{Object: map[string]any{}}
	l.SetResourceVersion(strconv.FormatUint(s.rv, 10))
	keys := make([]string, 0, len(s.objs))
	for k := range s.objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l.Items = append(l.Items, *s.objs[k].DeepCopy())
	}
	return l, nil
}

func (s *fakeServer) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchErr != nil {
		return nil, s.watchErr
	}
	if !opts.AllowWatchBookmarks {
		return nil, fmt.Errorf("watch without bookmarks")
	}
	from, err := strconv.ParseUint(opts.ResourceVersion, 10, 64)
	if err != nil || from == 0 {
		return nil, fmt.Errorf("watch from %q: want a resourceVersion", opts.ResourceVersion)
	}
	s.opened++
	w := &fakeWatch{ch: make(chan watch.Event, 10000), s: s}
	if from < s.compacted {
		gone := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, s.compacted))
		w.push(watch.Event{Type: watch.Error, Object: &gone.ErrStatus})
		w.close()
		return w, nil
	}
	for _, ev := range s.log {
		if rvOf(ev.Object) > from {
			w.push(ev)
		}
	}
	s.watches[w] = true
	return w, nil
}

func rvOf(obj any) uint64 {
	n, _ := strconv.ParseUint(obj.(*unstructured.Unstructured).GetResourceVersion(), 10, 64)
	return n
}

type fakeWatch struct {
	s      *fakeServer
	ch     chan watch.Event
	closed bool // guarded by s.mu
}

func (w *fakeWatch) push(ev watch.Event) {
	if !w.closed {
		w.ch <- ev
	}
}

func (w *fakeWatch) close() {
	if !w.closed {
		w.closed = true
		close(w.ch)
	}
}

func (w *fakeWatch) Stop() {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.close()
	delete(w.s.watches, w)
}

func (w *fakeWatch) ResultChan() <-chan watch.Event { return w.ch }

// client is what a watch's caller builds from its events: the state it
// believes in, checked as it goes for repeats and order.
type client struct {
	t      *testing.T
	w      *Watcher
	state  map[string]string // name -> data.v
	lastRV map[string]uint64
	uids   map[string]string
	counts map[string]int
}

func newClient(t *testing.T, w *Watcher) *client {
	return &client{t: t, w: w, state: map[string]string{}, lastRV: map[string]uint64{}, uids: map[string]string{}, counts: map[string]int{}}
}

func (c *client) apply(ev WatchEvent) {
	c.t.Helper()
	name := ev.Object.GetName()
	rv := rvOf(ev.Object)
	uid := string(ev.Object.GetUID())
	if c.uids[name] == uid && rv <= c.lastRV[name] && ev.Type != Deleted {
		c.t.Errorf("%s %s at rv %d after rv %d: repeated or out of order", ev.Type, name, rv, c.lastRV[name])
	}
	c.lastRV[name], c.uids[name] = rv, uid
	c.counts[ev.Type]++
	switch ev.Type {
	case Added:
		if _, ok := c.state[name]; ok {
			c.t.Errorf("ADDED %s, which exists", name)
		}
		c.state[name] = ev.Object.Object["data"].(map[string]any)["v"].(string)
	case Modified:
		if _, ok := c.state[name]; !ok {
			c.t.Errorf("MODIFIED %s, which does not exist", name)
		}
		c.state[name] = ev.Object.Object["data"].(map[string]any)["v"].(string)
	case Deleted:
		if _, ok := c.state[name]; !ok {
			c.t.Errorf("DELETED %s, which does not exist", name)
		}
		delete(c.state, name)
	}
}

// catchUp applies events until the client's state is the server's.
func (c *client) catchUp(s *fakeServer) {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		want := map[string]string{}
		for k, o := range s.objs {
			want[k] = o.Object["data"].(map[string]any)["v"].(string)
		}
		s.mu.Unlock()
		if fmt.Sprint(want) == fmt.Sprint(c.state) {
			return
		}
		select {
		case ev, ok := <-c.w.Events():
			if !ok {
				c.t.Fatalf("watch ended: %v; have %v, want %v", c.w.Err(), c.state, want)
			}
			c.apply(ev)
		case <-deadline:
			c.t.Fatalf("state never caught up: have %v, want %v", c.state, want)
		}
	}
}

// quiet checks that no event arrives for a moment.
func (c *client) quiet() {
	c.t.Helper()
	select {
	case ev := <-c.w.Events():
		c.t.Errorf("unexpected %s %s", ev.Type, ev.Object.GetName())
	case <-time.After(50 * time.Millisecond):
	}
}

func fastBackoff(t *testing.T) {
	base, cap := watchBackoffBase, watchBackoffCap
	watchBackoffBase, watchBackoffCap = time.Millisecond, 10*time.Millisecond
	t.Cleanup(func() { watchBackoffBase, watchBackoffCap = base, cap })
}

func TestWatchInitialAndChanges(t *testing.T) {
	fastBackoff(t)
	for _, initial := range []bool{true, false} {
		t.Run(fmt.Sprint("initial=", initial), func(t *testing.T) {
			s := newFakeServer()
			s.set("a", "1")
			s.set("b", "1")
			w, err := newWatcher(context.Background(), s, WatchOptions{Initial: initial}, "ns")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			c := newClient(t, w)
			if initial {
				if w.InitialCount() != 2 {
					t.Errorf("InitialCount = %d, want 2", w.InitialCount())
				}
				c.catchUp(s)
			} else {
				c.state = map[string]string{"a": "1", "b": "1"} // what it starts from
			}
			s.set("a", "2")
			s.remove("b")
			s.set("c", "1")
			c.catchUp(s)
			c.quiet()
			want := map[string]int{Added: 1, Modified: 1, Deleted: 1}
			if initial {
				want[Added] = 3
			}
			if fmt.Sprint(c.counts) != fmt.Sprint(want) {
				t.Errorf("events %v, want %v", c.counts, want)
			}
		})
	}
}

func TestWatchResumesAfterDrop(t *testing.T) {
	fastBackoff(t)
	s := newFakeServer()
	s.set("a", "1")
	w, err := newWatcher(context.Background(), s, WatchOptions{Initial: true}, "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c := newClient(t, w)
	c.catchUp(s)
	s.set("a", "2")
	s.bookmark()
	c.catchUp(s)
	s.failWatches(apierrors.NewServiceUnavailable("restarting")) // the apiserver is away
	s.drop()
	s.set("a", "3") // changes while the watch is down
	s.set("b", "1")
	time.Sleep(30 * time.Millisecond)
	s.failWatches(nil)
	c.catchUp(s)
	c.quiet()
	if s.lists != 1 {
		t.Errorf("listed %d times, want 1: a resume needs no list", s.lists)
	}
	if c.counts[Added] != 2 || c.counts[Modified] != 2 {
		t.Errorf("events %v, want 2 ADDED and 2 MODIFIED", c.counts)
	}
}

func TestWatchRelistsAfterGone(t *testing.T) {
	fastBackoff(t)
	s := newFakeServer()
	for _, n := range []string{"same", "changed", "deleted", "reused"} {
		s.set(n, "1")
	}
	w, err := newWatcher(context.Background(), s, WatchOptions{Initial: true}, "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c := newClient(t, w)
	c.catchUp(s)
	s.failWatches(apierrors.NewServiceUnavailable("restarting"))
	s.drop()
	s.set("changed", "2")
	s.remove("deleted")
	s.remove("reused")
	s.set("reused", "new") // same name, new UID
	s.set("new", "1")
	s.compact() // what it would resume from is gone: 410
	s.failWatches(nil)

	var got []string
	for len(got) < 5 {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			c.apply(ev)
			got = append(got, ev.Type+" "+ev.Object.GetName())
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, then nothing", got)
		}
	}
	want := "[DELETED deleted DELETED reused MODIFIED changed ADDED new ADDED reused]"
	if fmt.Sprint(got) != want {
		t.Errorf("after 410 got %v, want %v", got, want)
	}
	c.quiet()
	if s.lists != 2 {
		t.Errorf("listed %d times, want 2", s.lists)
	}
	// And it watches on from the new list.
	s.set("same", "2")
	c.catchUp(s)
}

func TestWatchEndsOnForbidden(t *testing.T) {
	fastBackoff(t)
	s := newFakeServer()
	w, err := newWatcher(context.Background(), s, WatchOptions{}, "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s.failWatches(apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "", fmt.Errorf("no")))
	s.drop()
	select {
	case _, ok := <-w.Events():
		if ok {
			t.Fatal("an event, want the end")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a watch refused with 403 goes on")
	}
	if err := w.Err(); !apierrors.IsForbidden(err) {
		t.Errorf("Err() = %v, want Forbidden", err)
	}
}

func TestWatchStop(t *testing.T) {
	s := newFakeServer()
	s.set("a", "1")
	before := runtime.NumGoroutine()
	w, err := newWatcher(context.Background(), s, WatchOptions{Initial: true}, "ns")
	if err != nil {
		t.Fatal(err)
	}
	<-w.Events() // the initial ADDED; the watch is now open or opening
	for i := 0; s.open() == 0 && i < 100; i++ {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	w.Stop()
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Stop took %v", d)
	}
	if n := s.open(); n != 0 {
		t.Errorf("%d watches open after Stop", n)
	}
	if _, ok := <-w.Events(); ok {
		t.Error("an event after Stop")
	}
	if w.Err() != nil {
		t.Errorf("Err() = %v after Stop, want nil", w.Err())
	}
	time.Sleep(10 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines before, %d after Stop", before, after)
	}
}

// TestWatchNoLossNoRepeat mixes changes with dropped connections, server
// closes and compactions, and checks that the caller sees every change
// once, in order, ending in the server's state.
func TestWatchNoLossNoRepeat(t *testing.T) {
	fastBackoff(t)
	r := rand.New(rand.NewPCG(1, 2))
	s := newFakeServer()
	for i := 0; i < 5; i++ {
		s.set("o"+strconv.Itoa(i), "0")
	}
	w, err := newWatcher(context.Background(), s, WatchOptions{Initial: true}, "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	c := newClient(t, w)
	for round := 0; round < 30; round++ {
		for i := 0; i < 10; i++ {
			name := "o" + strconv.Itoa(r.IntN(8))
			if r.IntN(4) == 0 {
				s.remove(name)
			} else {
				s.set(name, strconv.Itoa(round*100+i))
			}
		}
		switch r.IntN(4) {
		case 0:
			s.drop()
		case 1:
			s.drop()
			s.compact()
		case 2:
			s.bookmark()
		}
		c.catchUp(s)
	}
	c.quiet()
}

func TestWatchBackoff(t *testing.T) {
	for n, want := range map[int][2]time.Duration{
		0:  {400 * time.Millisecond, 800 * time.Millisecond}, // below a second
		1:  {800 * time.Millisecond, 1600 * time.Millisecond},
		5:  {12800 * time.Millisecond, 25600 * time.Millisecond},
		6:  {15 * time.Second, 30 * time.Second},
		50: {15 * time.Second, 30 * time.Second}, // capped
	} {
		distinct := map[time.Duration]bool{}
		for range 20 {
			d := backoffDelay(n)
			if d < want[0] || d > want[1] {
				t.Errorf("after %d failures waited %v, want within %v", n, d, want)
			}
			distinct[d] = true
		}
		if len(distinct) < 2 {
			t.Errorf("after %d failures always waited %v: no jitter", n, distinct)
		}
	}
}

func TestWatchEndsOnUnauthorized(t *testing.T) {
	fastBackoff(t)
	s := newFakeServer()
	w, err := newWatcher(context.Background(), s, WatchOptions{}, "ns")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	s.failWatches(apierrors.NewUnauthorized("token expired"))
	s.drop()
	for range w.Events() {
	}
	if err := w.Err(); !apierrors.IsUnauthorized(err) || !strings.Contains(err.Error(), "you must be logged in to the server") {
		t.Errorf("Err() = %v, want Unauthorized in kubectl's words", err)
	}
}
