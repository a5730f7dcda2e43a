package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	sigsjson "sigs.k8s.io/json"
)

// tableSource is a watchSource that lists and watches the server's Table
// of a resource, with each row's whole object, as kubectl get -w does: the
// watch delivers the objects, and each one's row is kept for WatchEvent.
type tableSource struct {
	c  *Client
	r  Resource
	ns string

	mu      sync.Mutex
	columns []metav1.TableColumnDefinition
	rows    map[string][]any // by rowKey, until the event is delivered
}

func newTableSource(c *Client, r Resource, ns string) *tableSource {
	return &tableSource{c: c, r: r, ns: ns, rows: map[string][]any{}}
}

// rowKey names one version of an object.
func rowKey(obj *unstructured.Unstructured) string {
	return objectKey(obj) + "@" + obj.GetResourceVersion()
}

func (s *tableSource) keep(obj *unstructured.Unstructured, cols []metav1.TableColumnDefinition, cells []any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cols != nil {
		s.columns = cols
	}
	s.rows[rowKey(obj)] = cells
}

// dropRows forgets every row kept.
func (s *tableSource) dropRows() {
	s.mu.Lock()
	s.rows = map[string][]any{}
	s.mu.Unlock()
}

// row returns, once, the row kept for obj.
func (s *tableSource) row(obj *unstructured.Unstructured) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := rowKey(obj)
	cells := s.rows[k]
	delete(s.rows, k)
	return cells
}

func (s *tableSource) Columns() []metav1.TableColumnDefinition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.columns
}

func (s *tableSource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	l, err := s.c.read(ctx, s.r, s.ns, "", opts, true)
	if err != nil {
		return nil, err
	}
	if opts.Continue == "" {
		// A list starts the watch over (at its start, or after a 410):
		// the rows of what was read before and never delivered (the
		// first list without Initial, events already seen) go.
		s.dropRows()
	}
	l.decode()
	if l.Rows != nil {
		for i := range l.List.Items {
			s.keep(&l.List.Items[i], l.Rows.Columns, l.Rows.Cells[i])
		}
	}
	return l.List, nil
}

func (s *tableSource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	if err := checkSegments(s.ns, ""); err != nil {
		return nil, err
	}
	rc, err := s.c.rawClient()
	if err != nil {
		return nil, err
	}
	opts.Watch = true
	body, err := rc.Get().AbsPath(resourcePath(s.r, s.ns)).
		SetHeader("Accept", tableAccept).Param("includeObject", "Object").
		VersionedParams(&opts, metav1.ParameterCodec).
		Stream(ctx)
	if err != nil {
		return nil, err
	}
	w := &tableWatch{body: body, ch: make(chan watch.Event), done: make(chan struct{})}
	go w.run(s)
	return w, nil
}

// tableWatch decodes a watch stream of Tables into events of their objects.
type tableWatch struct {
	body io.ReadCloser
	ch   chan watch.Event
	done chan struct{}
	once sync.Once
}

func (w *tableWatch) Stop() {
	w.once.Do(func() {
		close(w.done)
		w.body.Close()
	})
}

func (w *tableWatch) ResultChan() <-chan watch.Event { return w.ch }

func (w *tableWatch) run(s *tableSource) {
	defer close(w.ch)
	defer w.body.Close()
	dec := json.NewDecoder(w.body)
	for {
		var raw struct {
			Type   watch.EventType `json:"type"`
			Object json.RawMessage `json:"object"`
		}
		if err := dec.Decode(&raw); err != nil {
			if !errors.Is(err, io.EOF) {
				w.send(watch.Event{Type: watch.Error, Object: &metav1.Status{
					Status: metav1.StatusFailure, Message: fmt.Sprintf("decoding the watch of %s: %v", s.r, err)}})
			}
			return
		}
		ev, err := s.event(raw.Type, raw.Object)
		if err != nil {
			ev = watch.Event{Type: watch.Error, Object: &metav1.Status{Status: metav1.StatusFailure, Message: err.Error()}}
		}
		if !w.send(ev) {
			return
		}
	}
}

func (w *tableWatch) send(ev watch.Event) bool {
	select {
	case w.ch <- ev:
		return true
	case <-w.done:
		return false
	}
}

// event turns one event of the stream into an event of its object, keeping
// the object's row.
func (s *tableSource) event(typ watch.EventType, data []byte) (watch.Event, error) {
	if typ == watch.Error {
		st := &metav1.Status{}
		if err := json.Unmarshal(data, st); err != nil {
			return watch.Event{}, fmt.Errorf("decoding a watch error of %s: %w", s.r, err)
		}
		return watch.Event{Type: typ, Object: st}, nil
	}
	var t tableJSON
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &t); err != nil {
		return watch.Event{}, fmt.Errorf("decoding the watch of %s: %w", s.r, err)
	}
	if !t.isTable() {
		// A bookmark, or a server without tables: the object itself.
		var obj map[string]any
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &obj); err != nil {
			return watch.Event{}, fmt.Errorf("decoding the watch of %s: %w", s.r, err)
		}
		return watch.Event{Type: typ, Object: &unstructured.Unstructured{Object: obj}}, nil
	}
	if len(t.Rows) != 1 || t.Rows[0].Object == nil {
		if typ == watch.Bookmark {
			return watch.Event{Type: typ, Object: &unstructured.Unstructured{Object: map[string]any{"metadata": t.Metadata}}}, nil
		}
		return watch.Event{}, fmt.Errorf("the watch of %s sent a table of %d rows", s.r, len(t.Rows))
	}
	obj := &unstructured.Unstructured{Object: t.Rows[0].Object}
	if obj.GetKind() == "" {
		obj.SetKind(s.r.GVK.Kind)
	}
	if obj.GetAPIVersion() == "" {
		obj.SetAPIVersion(s.r.GVK.GroupVersion().String())
	}
	if typ != watch.Bookmark {
		s.keep(obj, t.ColumnDefinitions, t.Rows[0].Cells)
	}
	return watch.Event{Type: typ, Object: obj}, nil
}
