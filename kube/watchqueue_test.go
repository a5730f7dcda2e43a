package kube

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/k8sh/k8sh/kube/fake"
)

// endlessWatch serves a kube/fake server, but for watches of ConfigMaps:
// those get an endless stream of MODIFIED events of one ConfigMap, each
// written (one event a Write) only when the client reads: the fake's
// transport is a pipe. written counts the events the client took.
type endlessWatch struct {
	srv     *fake.Server
	written atomic.Int64
	rows    bool // send each event as a Table of one row, as the apiserver does for k8s.watch
}

func (h *endlessWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("watch") != "true" || !strings.HasSuffix(r.URL.Path, "/configmaps") {
		h.srv.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	pad := strings.Repeat("x", 1000)
	for i := 1000; ; i++ {
		obj := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"default","uid":"u1","resourceVersion":"%d"},"data":{"pad":%q}}`, i, pad)
		if h.rows {
			obj = fmt.Sprintf(`{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"%d"},"columnDefinitions":[{"name":"Name","type":"string"}],"rows":[{"cells":["cm"],"object":%s}]}`, i, obj)
		}
		if _, err := fmt.Fprintf(w, `{"type":"MODIFIED","object":%s}`+"\n", obj); err != nil {
			return // the client went
		}
		h.written.Add(1)
	}
}

// TestWatchQueueBounded: when the reader of a watch is slower than the
// stream, what the watch holds between the HTTP stream and the reader
// stays bounded: with the reader stopped, the stream is read no further
// (the back-pressure reaches the server through the connection's flow
// control, as for kubectl). In a synctest bubble, so that "everything is
// blocked" is a fact, not a timing: after the reader took k events, the
// server could write at most k plus a few (one being decoded, one waiting
// in each of the two hand-overs), whatever the k.
func TestWatchQueueBounded(t *testing.T) {
	for _, rows := range []bool{true, false} {
		t.Run(fmt.Sprintf("rows=%v", rows), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv, err := fake.New()
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.Add(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": "cm", "namespace": "default"}}); err != nil {
					t.Fatal(err)
				}
				h := &endlessWatch{srv: srv, rows: rows}
				flags, closeFn, err := inProcessFlags(fake.Transport(h), "fake")
				if err != nil {
					t.Fatal(err)
				}
				defer closeFn()
				c := NewClient(flags)
				w, err := c.Watch(context.Background(), "cm", WatchOptions{ListOptions: ListOptions{Namespace: "default"}, Rows: rows})
				if err != nil {
					t.Fatal(err)
				}
				defer w.Stop() // before the bubble ends, whatever fails
				events := w.Events()
				const bound = 4
				taken := 0
				for _, k := range []int{0, 1, 10, 500, 2000} {
					for ; taken < k; taken++ {
						ev, ok := <-events
						if !ok {
							t.Fatalf("the watch ended: %v", w.Err())
						}
						if ev.Type != Modified || (rows && ev.Cells == nil) {
							t.Fatalf("event %+v", ev)
						}
					}
					synctest.Wait() // every goroutine of the watch is blocked now
					if got := h.written.Load(); got > int64(k)+bound {
						t.Fatalf("the reader took %d events and the watch read %d from the stream: a queue grows", k, got)
					}
					if rows {
						ts := w.src.(*tableSource)
						ts.mu.Lock()
						n := len(ts.rows)
						ts.mu.Unlock()
						if n > bound {
							t.Fatalf("the watch keeps %d rows after %d events", n, k)
						}
					}
				}
			})
		})
	}
}
