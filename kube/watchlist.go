package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	sigsjson "sigs.k8s.io/json"
)

// A streaming list (KEP-3157, "watch-list"): a watch with
// sendInitialEvents=true, resourceVersionMatch=NotOlderThan and
// allowWatchBookmarks=true, which the server answers with every object
// that exists now as an ADDED event, in the order a list gives them, then a
// bookmark annotated k8s.io/initial-events-end: "true". The server sends
// them from its watch cache one by one instead of building each page of a
// list in memory, and the client reads them one by one. StreamRows reads a
// collection this way where the server supports it.

// WatchListOff turns streaming lists off: StreamRows always says to read
// pages. K8SH_WATCHLIST=0 in the environment sets it (for measuring both
// ways, or for a server whose streaming misbehaves).
var WatchListOff = os.Getenv("K8SH_WATCHLIST") == "0"

// initialEventsEnd is the annotation of the bookmark that ends the initial
// events (metav1.InitialEventsAnnotationKey).
const initialEventsEnd = metav1.InitialEventsAnnotationKey

// watchListProbeName is a name no object can have (a name is one path
// segment): the probe's field selector matches nothing, so a server that
// streams lists answers it with the end bookmark alone.
const watchListProbeName = "k8sh/watch-list-probe"

// watchListProbeTimeout bounds the probe: a server that ignores
// sendInitialEvents sends nothing for it and ends it at its
// timeoutSeconds.
var watchListProbeTimeout = 2 // seconds

// RowStream is a streaming list being read: Next gives its objects a batch
// at a time, as RowLists of at most PageSize objects (with their rows of
// the server's table, when it sent one), each object kept as its JSON and
// decoded when looked at, as a page's are.
type RowStream struct {
	c      *Client
	ctx    context.Context
	opts   ListOptions
	r      Resource
	ns     string
	body   io.ReadCloser
	in     *bufio.Reader
	cols   []metav1.TableColumnDefinition
	read   int // objects given so far
	done   atomic.Bool
	once   sync.Once
	tables bool // the server sent tables
	// stall breaks the stream when no event came for stallTimeout(), as
	// the transport breaks a request that is not a stream.
	stall *time.Timer

	// last is the key (namespace/name) of the last object read; the
	// objects came in the order of their keys (a list's) as long as
	// sorted holds. After a broken stream, the objects are read on from
	// the paged list, after last (paging, cont).
	last   string
	sorted bool
	paging bool
	cont   string
}

// StreamRows starts reading the objects of kind that opts select as a
// streaming list, when the server streams lists of that resource. It
// returns nil and no error when it does not (it refused or ignored the
// probe, remembered for this client), when opts.Limit is set (a page of
// that size is what was asked), and when the stream could not be opened
// (say, watch is forbidden where list is not): the caller then reads
// pages, which give their own errors. An error is one that pages would
// give too: an unknown kind, a bad selector.
func (c *Client) StreamRows(ctx context.Context, kind string, opts ListOptions) (*RowStream, error) {
	if WatchListOff || opts.Limit > 0 || c.planning() {
		// While a plan runs, a watch of what it changed ends it (plan.go);
		// its overlay answers pages.
		return nil, nil
	}
	r, ns, err := c.collection(kind, opts)
	if err != nil {
		return nil, err
	}
	if r.GVR.GroupResource() == tableSorted {
		// Its table's order is not its list's: pages keep both.
		return nil, nil
	}
	if !c.streamsLists(ctx, r, ns) {
		return nil, nil
	}
	body, err := c.openWatchList(ctx, r, ns, metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector}, true)
	if err != nil {
		return nil, nil
	}
	s := &RowStream{c: c, ctx: ctx, opts: opts, r: r, ns: ns, body: body, in: bufio.NewReaderSize(body, 64<<10), sorted: true}
	s.stall = time.AfterFunc(stallTimeout(), s.closeBody)
	return s, nil
}

// streamsLists tells whether the server of r streams lists, asking it the
// first time (a watch-list whose field selector matches nothing): it does
// when it answers with the end bookmark; it does not when it refuses the
// request as invalid, unsupported or not acceptable, or ignores
// sendInitialEvents (no bookmark: the stream ends at its timeout). Any
// other answer (Forbidden in ns, a broken connection) is not remembered.
func (c *Client) streamsLists(ctx context.Context, r Resource, ns string) bool {
	key := r.GVR
	if v, ok := c.watchLists.Load(key); ok {
		return v.(bool)
	}
	pctx, cancel := context.WithTimeout(ctx, time.Duration(watchListProbeTimeout+3)*time.Second)
	defer cancel()
	timeout := int64(watchListProbeTimeout)
	body, err := c.openWatchList(pctx, r, ns, metav1.ListOptions{
		FieldSelector:  "metadata.name=" + watchListProbeName,
		TimeoutSeconds: &timeout,
	}, false)
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsMethodNotSupported(err) ||
			apierrors.IsNotAcceptable(err) || apierrors.IsUnsupportedMediaType(err) {
			c.watchLists.Store(key, false)
		}
		return false
	}
	defer body.Close()
	typ, obj, err := nextEvent(bufio.NewReader(body))
	if err != nil && pctx.Err() != nil {
		return false // too slow to tell: not remembered
	}
	ok := err == nil && typ == "BOOKMARK" && endsInitialEvents(obj)
	c.watchLists.Store(key, ok)
	return ok
}

// openWatchList sends a watch-list request for the collection of r in ns
// and returns its body, the events, one JSON object a line. With rows it
// asks for the server's table with each row's object, as ListRows does.
func (c *Client) openWatchList(ctx context.Context, r Resource, ns string, lo metav1.ListOptions, rows bool) (io.ReadCloser, error) {
	if err := checkSegments(ns, ""); err != nil {
		return nil, err
	}
	rc, err := c.rawClient()
	if err != nil {
		return nil, err
	}
	lo.Watch = true
	lo.SendInitialEvents = ptr.To(true)
	lo.ResourceVersionMatch = metav1.ResourceVersionMatchNotOlderThan
	lo.AllowWatchBookmarks = true
	req := rc.Get().AbsPath(resourcePath(r, ns)).SetHeader("Accept", "application/json")
	if rows {
		req = req.SetHeader("Accept", tableAccept).Param("includeObject", "Object")
	}
	return req.VersionedParams(&lo, metav1.ParameterCodec).Stream(ctx)
}

// maxEventBytes bounds one event of a stream (a line): the API server
// refuses objects over 3 MB (etcd's limit), and a table row adds little.
const maxEventBytes = 64 << 20

// nextEvent reads one event of a watch stream: its type and its object's
// JSON (in a buffer of its own). The API server writes one event a line;
// an event written over several lines is read until it is whole.
func nextEvent(in *bufio.Reader) (typ string, obj []byte, err error) {
	var line []byte
	for {
		part, err := in.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			line = append(line, part...)
			if len(line) > maxEventBytes {
				return "", nil, fmt.Errorf("a watch event over %d bytes", maxEventBytes)
			}
			continue
		}
		line = append(line, part...)
		if err != nil {
			if errors.Is(err, io.EOF) && len(trimSpace(line)) == 0 {
				return "", nil, io.EOF
			}
			if errors.Is(err, io.EOF) {
				return "", nil, io.ErrUnexpectedEOF
			}
			return "", nil, err
		}
		if len(trimSpace(line)) == 0 {
			line = line[:0]
			continue
		}
		typ, obj, perr := splitEvent(line)
		if perr == nil {
			return typ, obj, nil
		}
		if !incomplete(perr) || len(line) > maxEventBytes {
			return "", nil, fmt.Errorf("decoding a watch event: %w", perr)
		}
		// A pretty-printed event: read on.
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

var errEndOfInput = errors.New("unexpected end of JSON input")

func incomplete(err error) bool { return errors.Is(err, errEndOfInput) }

// splitEvent checks one watch event, {"type": ..., "object": {...}}, and
// returns its type and its object's bytes.
func splitEvent(data []byte) (typ string, obj []byte, err error) {
	s := &jsonScanner{data: data}
	s.ws()
	s.members(func(key string) bool {
		start := s.pos
		s.value()
		switch key {
		case "type":
			s.decode(start, &typ)
		case "object":
			obj = s.data[start:s.pos:s.pos]
		}
		return true
	})
	s.ws()
	if s.err == nil && s.pos < len(data) {
		s.fail("invalid character %q after top-level value", data[s.pos])
	}
	if s.err != nil {
		return "", nil, eventErr(s)
	}
	if typ == "" || obj == nil {
		return "", nil, fmt.Errorf("a watch event without type or object")
	}
	return typ, obj, nil
}

// eventErr is the scanner's error, marked when it ran out of input.
func eventErr(s *jsonScanner) error {
	if s.err != nil && strings.Contains(s.err.Error(), errEndOfInput.Error()) {
		return fmt.Errorf("%w: %v", errEndOfInput, s.err)
	}
	return s.err
}

// endsInitialEvents tells whether a bookmark's object (or its table's
// row's object) carries the annotation that ends the initial events.
func endsInitialEvents(obj []byte) bool {
	var o struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Rows []struct {
			Object struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			} `json:"object"`
		} `json:"rows"`
	}
	if sigsjson.UnmarshalCaseSensitivePreserveInts(obj, &o) != nil {
		return false
	}
	if o.Metadata.Annotations[initialEventsEnd] == "true" {
		return true
	}
	return len(o.Rows) == 1 && o.Rows[0].Object.Metadata.Annotations[initialEventsEnd] == "true"
}

// Next reads the next batch of objects, at most PageSize, as a RowList
// like a page of ListRows (its List has no continue token); nil at the
// end of the initial events. The server's further events are not read:
// the stream is closed at the end, after an error, or by Close.
//
// A stream that breaks (a cut connection, the server ending it early)
// after objects that came in the order of a list is read on from the
// paged list, from after the last object read: those objects are as they
// are then, the ones before as they were when the stream began. An error
// of the server (an ERROR event) ends it.
func (s *RowStream) Next() (*RowList, error) {
	if s.paging {
		return s.nextPage()
	}
	if s.done.Load() {
		return nil, nil
	}
	out := s.Empty()
	var cells [][]any
	for len(out.Raw) < PageSize {
		typ, obj, err := nextEvent(s.in)
		if err == nil {
			s.stall.Reset(stallTimeout())
		} else {
			closed := s.done.Load()
			s.closeBody()
			if s.ctx.Err() != nil {
				s.done.Store(true)
				return nil, s.ctx.Err()
			}
			if closed {
				return nil, nil
			}
			if s.sorted && (s.read > 0 || len(out.Raw) > 0) {
				s.paging = true
				if len(out.Raw) > 0 {
					return s.finish(out, cells), nil
				}
				return s.nextPage()
			}
			s.done.Store(true)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = fmt.Errorf("the server ended the streaming list of %s after %d objects, before its end", s.r, s.read+len(out.Raw))
			}
			return nil, apiError(err, s.ns)
		}
		switch typ {
		case "ADDED":
			o, row, err := s.object(obj)
			if err != nil {
				s.Close()
				return nil, err
			}
			if k := o.storageKey(); k <= s.last && (s.read > 0 || len(out.Raw) > 0) {
				s.sorted = false
			} else {
				s.last = k
			}
			out.Raw = append(out.Raw, o)
			if row != nil || s.tables {
				cells = append(cells, row)
			}
		case "BOOKMARK":
			if endsInitialEvents(obj) {
				s.Close()
				if len(out.Raw) == 0 {
					return nil, nil
				}
				return s.finish(out, cells), nil
			}
		case "ERROR":
			s.Close()
			st := &metav1.Status{}
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(obj, st); err != nil {
				return nil, fmt.Errorf("decoding an error of the streaming list of %s: %w", s.r, err)
			}
			return nil, apiError(&apierrors.StatusError{ErrStatus: *st}, s.ns)
		default:
			// MODIFIED or DELETED come only after the end bookmark.
			s.Close()
			return nil, fmt.Errorf("the streaming list of %s sent a %s event before its end", s.r, typ)
		}
	}
	return s.finish(out, cells), nil
}

// nextPage reads the objects after s.last from the paged list, a page at
// a time (each page read again by the transport when its connection is
// cut, as ListRows' are).
func (s *RowStream) nextPage() (*RowList, error) {
	for !s.done.Load() {
		lo := metav1.ListOptions{LabelSelector: s.opts.LabelSelector, FieldSelector: s.opts.FieldSelector, Limit: PageSize, Continue: s.cont}
		page, err := s.c.read(s.ctx, s.r, s.ns, "", lo, true)
		if err != nil {
			return nil, apiError(err, s.ns)
		}
		page.AllNamespaces = s.opts.AllNamespaces
		s.cont = page.List.GetContinue()
		if s.cont == "" {
			s.done.Store(true)
		}
		prev, keep := "", 0
		for i, o := range page.Raw {
			k := o.storageKey()
			if k <= prev && i > 0 {
				return nil, fmt.Errorf("the list of %s is not in the order of its names: the streaming list that broke cannot be read on", s.r)
			}
			prev = k
			if k <= s.last {
				continue
			}
			page.Raw[keep] = o
			if page.Rows != nil {
				page.Rows.Cells[keep] = page.Rows.Cells[i]
			}
			keep++
		}
		if keep == 0 {
			continue
		}
		page.Raw = page.Raw[:keep]
		if page.Rows != nil {
			page.Rows.Cells = page.Rows.Cells[:keep]
		}
		s.last = prev
		s.read += keep
		page.List.SetContinue("")
		return page, nil
	}
	return nil, nil
}

// storageKey is the object's namespace/name ("/name" without a
// namespace), whose order is the order of a list (etcd's keys), read
// from its metadata without decoding the rest of it.
func (r *RawObject) storageKey() string {
	i := r.find("metadata")
	if i < 0 || r.data[r.fields[i].start] != '{' {
		return ""
	}
	f := r.fields[i]
	s := &jsonScanner{data: r.data[f.start:f.end]}
	var name, ns string
	s.members(func(k string) bool {
		start := s.pos
		s.value()
		switch k {
		case "name":
			s.decode(start, &name)
		case "namespace":
			s.decode(start, &ns)
		case "uid":
			// The apiserver writes name and namespace before uid.
			return name == ""
		}
		return true
	})
	return ns + "/" + name
}

// Empty is a RowList of none of the stream's objects, as a page of none.
func (s *RowStream) Empty() *RowList {
	return &RowList{
		Resource: s.r, Namespace: s.ns, AllNamespaces: s.opts.AllNamespaces,
		List: &unstructured.UnstructuredList{Object: map[string]any{
			"apiVersion": s.r.GVK.GroupVersion().String(), "kind": s.r.GVK.Kind + "List", "metadata": map[string]any{},
		}},
	}
}

func (s *RowStream) finish(out *RowList, cells [][]any) *RowList {
	s.read += len(out.Raw)
	if s.tables {
		out.Rows = &Rows{Columns: s.cols, Cells: cells}
	}
	return out
}

// object splits one ADDED event's object: a Table of one row with its
// object, or the object itself from a server without tables.
func (s *RowStream) object(data []byte) (*RawObject, []any, error) {
	page, err := parsePage(data)
	if err != nil {
		return nil, nil, fmt.Errorf("decoding the streaming list of %s: %w", s.r, err)
	}
	var o *RawObject
	var cells []any
	if (&tableJSON{Kind: page.Kind, APIVersion: page.APIVersion}).isTable() {
		if len(page.Rows) != 1 || page.Rows[0].Object == nil {
			return nil, nil, fmt.Errorf("the streaming list of %s sent a table of %d rows", s.r, len(page.Rows))
		}
		if s.cols == nil && page.ColumnDefinitions != nil {
			s.cols = page.ColumnDefinitions
		}
		s.tables = true
		o, cells = page.Rows[0].Object, page.Rows[0].Cells
		if cells == nil {
			cells = []any{}
		}
	} else if o, err = NewRawObject(data); err != nil {
		return nil, nil, fmt.Errorf("decoding the streaming list of %s: %w", s.r, err)
	}
	o.kind, o.apiVersion, o.listed = s.r.GVK.Kind, s.r.GVK.GroupVersion().String(), true
	return o, cells, nil
}

// Close ends the stream; it may be called more than once, and from
// another goroutine than Next's.
func (s *RowStream) Close() {
	s.done.Store(true)
	s.closeBody()
}

// closeBody closes the stream's connection only.
func (s *RowStream) closeBody() {
	s.once.Do(func() {
		s.stall.Stop()
		s.body.Close()
	})
}
