package kube

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k8sh/k8sh/kube/fake"
)

// streamTestServer is a fake API server holding n ConfigMaps in "default"
// (and two elsewhere), behind handler wrap, and a client of it.
func streamTestServer(t *testing.T, n int, wrap func(http.Handler) http.Handler) *Client {
	t.Helper()
	srv, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	cm := func(ns, name string, labels map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": labels},
			"data":     map[string]any{"k": strings.Repeat("v", 100)}}
	}
	for i := range n {
		// Added out of order: both reads must give the list's order.
		j := (i * 7919) % n
		objs = append(objs, cm("default", fmt.Sprintf("cm-%05d", j), map[string]any{"even": fmt.Sprint(j%2 == 0)}))
	}
	objs = append(objs, cm("other", "a", nil), cm("other", "b", nil))
	if err := srv.Add(objs...); err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	flags, closeFn, err := inProcessFlags(fake.Transport(h), "fake")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return NewClient(flags)
}

// readStream reads a whole streaming list, checking the batches' sizes.
func readStream(t *testing.T, s *RowStream) []*RawObject {
	t.Helper()
	var out []*RawObject
	for {
		l, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if l == nil {
			return out
		}
		if len(l.Raw) == 0 || len(l.Raw) > PageSize {
			t.Fatalf("a batch of %d objects, want 1 to %d", len(l.Raw), PageSize)
		}
		out = append(out, l.Raw...)
	}
}

// TestStreamRowsAsPages: a streaming list gives the objects that the
// paged list gives, in the same order, each decoding to the same map.
func TestStreamRowsAsPages(t *testing.T) {
	c := streamTestServer(t, 1234, nil)
	ctx := context.Background()
	for _, opts := range []ListOptions{
		{Namespace: "default"},
		{AllNamespaces: true},
		{Namespace: "default", LabelSelector: "even=true"},
		{Namespace: "default", FieldSelector: "metadata.name=cm-00042"},
		{Namespace: "none"},
	} {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			s, err := c.StreamRows(ctx, "cm", opts)
			if err != nil {
				t.Fatal(err)
			}
			if s == nil {
				t.Fatal("the fake streams lists, StreamRows said to read pages")
			}
			got := readStream(t, s)
			want, err := c.ListRows(ctx, "cm", opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want.Raw) {
				t.Fatalf("streamed %d objects, the list has %d", len(got), len(want.Raw))
			}
			for i := range got {
				if g, w := got[i].Map(), want.Raw[i].Map(); !reflect.DeepEqual(g, w) {
					t.Fatalf("object %d: streamed %v, listed %v", i, g, w)
				}
			}
		})
	}
}

// cutAfter is a ResponseWriter that ends a watch after n events.
type cutAfter struct {
	http.ResponseWriter
	n int
}

func (w *cutAfter) Write(b []byte) (int, error) {
	if w.n <= 0 {
		return 0, fmt.Errorf("cut")
	}
	w.n -= strings.Count(string(b), "\n")
	return w.ResponseWriter.Write(b)
}

func (w *cutAfter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// TestStreamRowsCut: a streaming list cut after 700 objects is read on
// from the paged list, from after the last object read: every object
// once, in order.
func TestStreamRowsCut(t *testing.T) {
	var cuts atomic.Int32
	c := streamTestServer(t, 1234, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("sendInitialEvents") != "" && r.URL.Query().Get("fieldSelector") == "" {
				cuts.Add(1)
				w = &cutAfter{ResponseWriter: w, n: 700}
			}
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	s, err := c.StreamRows(ctx, "cm", ListOptions{Namespace: "default"})
	if err != nil || s == nil {
		t.Fatalf("StreamRows: %v, %v", s, err)
	}
	got := readStream(t, s)
	want, err := c.ListRows(ctx, "cm", ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want.Raw) || cuts.Load() != 1 {
		t.Fatalf("read %d objects (%d cut streams), the list has %d", len(got), cuts.Load(), len(want.Raw))
	}
	for i := range got {
		if g, w := got[i].Map(), want.Raw[i].Map(); !reflect.DeepEqual(g, w) {
			t.Fatalf("object %d: read %v, listed %v", i, g, w)
		}
	}
}

// TestStreamRowsFallback: a server that refuses a streaming list (as one
// without the WatchList feature does: 422) or ignores sendInitialEvents
// (no end bookmark) is read by pages; the verdict is remembered, so that
// it is asked once per client and resource. Limit asks for pages.
func TestStreamRowsFallback(t *testing.T) {
	old := watchListProbeTimeout
	watchListProbeTimeout = 1
	t.Cleanup(func() { watchListProbeTimeout = old })
	for _, tc := range []struct {
		name string
		wrap func(probes *atomic.Int32) func(http.Handler) http.Handler
	}{
		{"refuses", func(probes *atomic.Int32) func(http.Handler) http.Handler {
			return func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("sendInitialEvents") != "" {
						probes.Add(1)
						err := apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "ListOptions"}, "", nil)
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusUnprocessableEntity)
						fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":%q,"reason":"Invalid","code":422}`, err.Error())
						return
					}
					h.ServeHTTP(w, r)
				})
			}
		}},
		{"ignores", func(probes *atomic.Int32) func(http.Handler) http.Handler {
			return func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					q := r.URL.Query()
					if q.Get("sendInitialEvents") != "" {
						probes.Add(1)
						// A server that does not know the parameters: a
						// watch from now, its ADDED events and no bookmark
						// of their end.
						q.Del("sendInitialEvents")
						q.Del("resourceVersionMatch")
						r = r.Clone(r.Context())
						r.URL.RawQuery = q.Encode()
					}
					h.ServeHTTP(w, r)
				})
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var probes atomic.Int32
			c := streamTestServer(t, 10, tc.wrap(&probes))
			ctx := context.Background()
			for range 2 {
				s, err := c.StreamRows(ctx, "cm", ListOptions{Namespace: "default"})
				if err != nil {
					t.Fatal(err)
				}
				if s != nil {
					t.Fatalf("StreamRows streams from a server that %s it", tc.name)
				}
			}
			if n := probes.Load(); n != 1 {
				t.Errorf("%d watch-list requests, want one probe", n)
			}
			// And k8s.iter's paged read still works there.
			l, err := c.ListRowsPage(ctx, "cm", ListOptions{Namespace: "default"}, "", 0)
			if err != nil || len(l.Raw) != 10 {
				t.Fatalf("pages: %v objects, %v", l, err)
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		c := streamTestServer(t, 3, nil)
		s, err := c.StreamRows(context.Background(), "cm", ListOptions{Namespace: "default", Limit: 2})
		if s != nil || err != nil {
			t.Errorf("with a limit: %v, %v; want pages", s, err)
		}
	})
	t.Run("unknown kind", func(t *testing.T) {
		c := streamTestServer(t, 0, nil)
		_, err := c.StreamRows(context.Background(), "nosuchkind", ListOptions{})
		if err == nil || !strings.Contains(err.Error(), "nosuchkind") {
			t.Errorf("unknown kind: %v", err)
		}
	})
}

// TestNextEvent: events one a line as the apiserver writes them, one
// written over several lines, an error event, and a cut stream.
func TestNextEvent(t *testing.T) {
	in := bufio.NewReader(strings.NewReader(
		`{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a"}}}` + "\n" +
			"{\n  \"type\": \"BOOKMARK\",\n  \"object\": {\"metadata\": {\"annotations\": {\"k8s.io/initial-events-end\": \"true\"}}}\n}\n" +
			`{"type":"ERROR","object":{"kind":"Status","code":410}}` + "\n" +
			`{"type":"ADDED","object":{"kind":"Con`))
	typ, obj, err := nextEvent(in)
	if err != nil || typ != "ADDED" || string(obj) != `{"kind":"ConfigMap","metadata":{"name":"a"}}` {
		t.Fatalf("first: %q %s %v", typ, obj, err)
	}
	typ, obj, err = nextEvent(in)
	if err != nil || typ != "BOOKMARK" || !endsInitialEvents(obj) {
		t.Fatalf("second: %q %s %v", typ, obj, err)
	}
	typ, _, err = nextEvent(in)
	if err != nil || typ != "ERROR" {
		t.Fatalf("third: %q %v", typ, err)
	}
	if _, _, err = nextEvent(in); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("a cut event: %v", err)
	}
	if _, _, err := nextEvent(bufio.NewReader(strings.NewReader("{\"type\":1}\n"))); err == nil {
		t.Error("a bad event was read")
	}
}
