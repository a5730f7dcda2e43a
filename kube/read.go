package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// PageSize is how many objects one list request asks for.
const PageSize = 500

// ListOptions select the objects of one kind.
type ListOptions struct {
	// Namespace to list in; "" means the context's default namespace.
	Namespace string
	// AllNamespaces lists across every namespace.
	AllNamespaces bool
	// LabelSelector and FieldSelector, in the API's string syntax.
	LabelSelector, FieldSelector string
	// Limit caps how many objects are returned; 0 means all.
	Limit int64
	// Keep, when set (and Limit is 0), is called by ListRows with each page
	// as it comes, on the caller's goroutine while the next page is being
	// read, and returns the indexes of the page's items to keep, in
	// order: the others are dropped at once with their rows, so that a
	// filter over a big list holds only what it keeps. An error from it
	// ends the list with that error.
	Keep func(page *RowList) ([]int, error)
}

// validate checks the selectors before anything is sent.
func (o ListOptions) validate() error {
	if _, err := labels.Parse(o.LabelSelector); err != nil {
		return fmt.Errorf("invalid label selector %q: %w", o.LabelSelector, err)
	}
	if _, err := fields.ParseSelector(o.FieldSelector); err != nil {
		return fmt.Errorf("invalid field selector %q: %w", o.FieldSelector, err)
	}
	return nil
}

// collection checks opts' selectors, resolves kind and returns the
// namespace that opts select: none for all namespaces or a cluster-scoped
// kind.
func (c *Client) collection(kind string, opts ListOptions) (Resource, string, error) {
	if err := opts.validate(); err != nil {
		return Resource{}, "", err
	}
	r, err := c.Resolve(kind)
	if err != nil {
		return Resource{}, "", err
	}
	if opts.AllNamespaces {
		return r, "", nil
	}
	return r, c.namespaceFor(r, opts.Namespace), nil
}

// namespaceFor returns the namespace a request for r goes to: none for a
// cluster-scoped kind, ns if given, else the context's default.
func (c *Client) namespaceFor(r Resource, ns string) string {
	if !r.Namespaced {
		return ""
	}
	if ns == "" {
		return c.namespace
	}
	return ns
}

func (c *Client) resourceClient(r Resource, ns string) dynamic.ResourceInterface {
	return checked(c.dynamic.Resource(r.GVR), ns)
}

// Get reads one object of kind by name.
func (c *Client) Get(ctx context.Context, kind, name, namespace string) (*unstructured.Unstructured, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, namespace)
	obj, err := c.resourceClient(r, ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, c.missingNamespace(ctx, err, ns)
	}
	return obj, nil
}

// List reads every object of kind that opts select, page by page.
func (c *Client) List(ctx context.Context, kind string, opts ListOptions) (*unstructured.UnstructuredList, error) {
	l, err := c.list(ctx, kind, opts, false)
	if err != nil {
		return nil, err
	}
	l.decode()
	return l.List, nil
}

// ListRows is List with the server's table kept: the rows kubectl get
// prints, one per object, read in the same requests as the objects (the
// server's Table with each row's whole object), so that printing a list
// costs no second read and shows what was read. The objects are in Raw,
// each decoded when it is looked at.
func (c *Client) ListRows(ctx context.Context, kind string, opts ListOptions) (*RowList, error) {
	return c.list(ctx, kind, opts, true)
}

func (c *Client) list(ctx context.Context, kind string, opts ListOptions, rows bool) (*RowList, error) {
	var out *RowList
	add := func(page *RowList) error {
		if opts.Keep != nil && opts.Limit == 0 {
			if err := keepOnly(page, opts.Keep); err != nil {
				return err
			}
		}
		if out == nil {
			out = page
			return nil
		}
		if out.Rows != nil && page.Rows != nil {
			if out.Rows.Positions != nil || page.Rows.Positions != nil {
				out.Rows.Positions = append(positions(out.Rows), positions(page.Rows)...)
				for i := len(out.Raw); i < len(out.Rows.Positions); i++ {
					out.Rows.Positions[i] += len(out.Raw)
				}
			}
			out.Rows.Cells = append(out.Rows.Cells, page.Rows.Cells...)
		}
		out.Raw = append(out.Raw, page.Raw...)
		return nil
	}
	cont := ""
	if opts.Limit == 0 {
		// Pages read ahead, as long as each one's continue token is
		// found before its items.
		r, ns, err := c.collection(kind, opts)
		if err != nil {
			return nil, err
		}
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		for b := range c.bodies(actx, r, ns, opts, rows) {
			if b.err != nil {
				return nil, apiError(b.err, ns)
			}
			page, err := pageOf(b.raw, r, ns, "")
			if err != nil {
				return nil, err
			}
			page.AllNamespaces = opts.AllNamespaces
			cont = page.List.GetContinue()
			if err := add(page); err != nil {
				return nil, err
			}
			if cont == "" {
				out.List.SetContinue("")
				return out, nil
			}
			if cont != b.next {
				break // the token was not found ahead: page by page
			}
		}
		cancel()
		if out == nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	for {
		page, err := c.listPage(ctx, kind, opts, cont, out.have(), rows)
		if err != nil {
			return nil, err
		}
		cont = page.List.GetContinue()
		if err := add(page); err != nil {
			return nil, err
		}
		if cont == "" {
			break
		}
	}
	out.List.SetContinue("")
	return out, nil
}

// keepOnly drops the items of page (and their rows) that keep does not
// keep. The rows of a table in another order than the list's keep their
// order among themselves (Positions, renumbered from 0).
func keepOnly(page *RowList, keep func(*RowList) ([]int, error)) error {
	idx, err := keep(page)
	if err != nil {
		return err
	}
	raw := make([]*RawObject, 0, len(idx))
	for _, i := range idx {
		raw = append(raw, page.Raw[i])
	}
	page.Raw = raw
	rows := page.Rows
	if rows == nil || len(rows.Cells) == 0 {
		return nil
	}
	cells := make([][]any, 0, len(idx))
	for _, i := range idx {
		if i < len(rows.Cells) {
			cells = append(cells, rows.Cells[i])
		}
	}
	if rows.Positions != nil {
		pos := make([]int, len(idx))
		for k, i := range idx {
			pos[k] = rows.Positions[i]
		}
		order := make([]int, len(pos))
		for k := range order {
			order[k] = k
		}
		slices.SortFunc(order, func(a, b int) int { return pos[a] - pos[b] })
		for rank, k := range order {
			pos[k] = rank
		}
		rows.Positions = pos
	}
	rows.Cells = cells
	return nil
}

// body is one page's body as bodies read it, and the continue token found
// at its start ("" when it has none, or when it was not found there).
type body struct {
	raw  []byte
	next string
	err  error
}

// bodies reads the pages of the collection of r in ns that opts select,
// one GET after another, each sent as soon as the page before has come
// (its continue token is at the start of its body: metadata comes before
// the items), while the caller splits that page: the server prepares page
// N+1 while the client reads page N. It holds at most one page that the
// caller has not taken, and stops after a page whose token it did not
// find, after an error, or when ctx ends.
func (c *Client) bodies(ctx context.Context, r Resource, ns string, opts ListOptions, rows bool) <-chan body {
	ch := make(chan body, 1)
	go func() {
		defer close(ch)
		lo := metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector, Limit: PageSize}
		for {
			raw, err := c.get(ctx, r, ns, "", lo, rows)
			b := body{raw: raw, err: err}
			if err == nil {
				b.next = peekContinue(raw)
			}
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
			if b.next == "" {
				return
			}
			lo.Continue = b.next
		}
	}()
	return ch
}

// peekContinue returns the continue token of a list's body when its
// metadata comes before anything long (the items, the rows), as the API
// server sends it; "" otherwise.
func peekContinue(raw []byte) string {
	s := &jsonScanner{data: raw}
	s.ws()
	var cont string
	s.members(func(key string) bool {
		switch key {
		case "metadata":
			start := s.pos
			s.value()
			var md struct {
				Continue string `json:"continue"`
			}
			s.decode(start, &md)
			cont = md.Continue
			return false
		case "items", "rows":
			return false
		}
		s.value()
		return true
	})
	if s.err != nil {
		return ""
	}
	return cont
}

// ListRowsPage reads one page (at most PageSize objects) of the objects of
// kind that opts select, with their rows as ListRows keeps them, from the
// continue token cont ("" for the first page). have is how many objects
// earlier pages returned, so that opts.Limit is honoured across pages: the
// last page's continue token is cleared once the limit is reached.
func (c *Client) ListRowsPage(ctx context.Context, kind string, opts ListOptions, cont string, have int64) (*RowList, error) {
	return c.listPage(ctx, kind, opts, cont, have, true)
}

func (c *Client) listPage(ctx context.Context, kind string, opts ListOptions, cont string, have int64, rows bool) (*RowList, error) {
	r, ns, err := c.collection(kind, opts)
	if err != nil {
		return nil, err
	}
	lo := metav1.ListOptions{
		LabelSelector: opts.LabelSelector,
		FieldSelector: opts.FieldSelector,
		Limit:         PageSize,
		Continue:      cont,
	}
	if opts.Limit > 0 && opts.Limit-have < PageSize {
		lo.Limit = opts.Limit - have
	}
	page, err := c.read(ctx, r, ns, "", lo, rows)
	if err != nil {
		return nil, apiError(err, ns)
	}
	page.AllNamespaces = opts.AllNamespaces
	if opts.Limit > 0 && have+int64(len(page.Raw)) >= opts.Limit {
		page.List.SetContinue("")
	}
	return page, nil
}

// RowList is a list of objects of one resource as it was read, with the
// server's table rows of them when they were asked for and given.
type RowList struct {
	// List holds the list's kind, apiVersion and metadata (its continue
	// token); its Items are empty until decode() fills them from Raw.
	List *unstructured.UnstructuredList
	// Raw holds the objects as they were read, each decoded when it is
	// looked at.
	Raw      []*RawObject
	Resource Resource
	// Namespace is the namespace read: "" for all namespaces or a
	// cluster-scoped resource.
	Namespace     string
	AllNamespaces bool
	// Rows holds one row per item, or is nil when the server sent no
	// table (an aggregated API without tables) or none was asked for.
	Rows *Rows
}

// positions is rows.Positions, or the identity when the table was in list
// order.
func positions(rows *Rows) []int {
	if rows.Positions != nil {
		return rows.Positions
	}
	p := make([]int, len(rows.Cells))
	for i := range p {
		p[i] = i
	}
	return p
}

func (l *RowList) have() int64 {
	if l == nil {
		return 0
	}
	return int64(len(l.Raw))
}

// decode decodes Raw into List.Items.
func (l *RowList) decode() {
	l.List.Items = make([]unstructured.Unstructured, len(l.Raw))
	for i, o := range l.Raw {
		l.List.Items[i].Object = o.Map()
	}
}

// Rows are the server's table of a list: its columns, and each object's
// cells in the order of the columns (JSON values, integers as int64).
type Rows struct {
	Columns []metav1.TableColumnDefinition
	Cells   [][]any
	// Positions, when not nil, is each item's position in the server's
	// table, which the server ordered otherwise than the list it stores
	// (FlowSchemas by precedence): the items are in the list's order, as
	// kubectl get -o name and -o yaml print them, and the rows are printed
	// in the table's, as kubectl get prints them.
	Positions []int
}

// tableSorted is the one resource whose server sorts its table otherwise
// than its list (kubernetes' pkg/printers sorts FlowSchemas by matching
// precedence).
var tableSorted = schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"}

// inListOrder puts items and their rows in the order the server lists
// objects in (by name, its storage order) when the table's rows came in
// another, and records the table's order in rows.Positions.
func inListOrder(items []*RawObject, rows *Rows) {
	keys := make([]string, len(items))
	for i, o := range items {
		v, _ := o.Field("metadata")
		md, _ := v.(map[string]any)
		ns, _ := md["namespace"].(string)
		name, _ := md["name"].(string)
		keys[i] = ns + "/" + name
	}
	sorted := true
	for i := 1; i < len(items) && sorted; i++ {
		sorted = keys[i-1] <= keys[i]
	}
	if sorted {
		return
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
	its, cells := slices.Clone(items), slices.Clone(rows.Cells)
	rows.Positions = make([]int, len(items))
	for i, j := range idx {
		items[i], rows.Cells[i], rows.Positions[i] = its[j], cells[j], j
	}
}

// GetRow reads one object of kind by name with its row of the server's
// table, as kubectl get KIND NAME prints it (Rows nil when the server sent
// no table).
func (c *Client) GetRow(ctx context.Context, kind, name, namespace string) (*RowList, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, namespace)
	l, err := c.read(ctx, r, ns, name, metav1.ListOptions{}, true)
	if err != nil {
		return nil, c.missingNamespace(ctx, err, ns)
	}
	return l, nil
}

// tableJSON is a Table of one row (includeObject=Object: the row with its
// whole object), or an object, as a watch sends it, decoded in one pass.
type tableJSON struct {
	APIVersion        string                         `json:"apiVersion"`
	Kind              string                         `json:"kind"`
	Metadata          map[string]any                 `json:"metadata"`
	ColumnDefinitions []metav1.TableColumnDefinition `json:"columnDefinitions"`
	Rows              []struct {
		Cells  []any          `json:"cells"`
		Object map[string]any `json:"object"`
	} `json:"rows"`
}

func (t *tableJSON) isTable() bool {
	return t.Kind == "Table" && strings.HasPrefix(t.APIVersion, "meta.k8s.io/")
}

// tableAccept asks the server for the Table that kubectl get prints: the
// kind's own columns (a Deployment's READY, UP-TO-DATE, ...; a CRD's printer
// columns), with the plain object or list as a fallback for servers without
// tables.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// read sends one GET of the collection of r in ns (or of its object name
// when name is not "") and reads the answer in one pass (parsePage): the
// page is checked whole and its items split, each kept as its JSON and
// decoded field by field when it is looked at (RawObject), with the list's
// kind and apiVersion for an item that has none, as client-go's
// unstructured decoder gives them. With rows, it asks for the server's
// Table with each row's whole object (includeObject=Object): the objects
// and the rows kubectl prints in one response. The items are in l.Raw;
// decode() puts them, decoded, in l.List.Items.
func (c *Client) read(ctx context.Context, r Resource, ns, name string, lo metav1.ListOptions, rows bool) (*RowList, error) {
	raw, err := c.get(ctx, r, ns, name, lo, rows)
	if err != nil {
		return nil, err
	}
	return pageOf(raw, r, ns, name)
}

// get sends the GET of read and returns the body of its answer.
func (c *Client) get(ctx context.Context, r Resource, ns, name string, lo metav1.ListOptions, rows bool) ([]byte, error) {
	rc, err := c.rawClient()
	if err != nil {
		return nil, err
	}
	if err := checkSegments(ns, name); err != nil {
		return nil, err
	}
	p := resourcePath(r, ns)
	if name != "" {
		p = path.Join(p, name)
	}
	req := rc.Get().AbsPath(p).SetHeader("Accept", "application/json")
	if rows {
		req = req.SetHeader("Accept", tableAccept).Param("includeObject", "Object")
	}
	if name == "" {
		req = listParams(req, lo)
	}
	// A connection cut while the body came is read again by the
	// transport (retry.go), from the same continue token. Stream, not Do:
	// Do copies the body that the transport read whole into a buffer
	// grown from 512 bytes (io.ReadAll), most of what a list of 20
	// contexts allocated; an error answer is made the error Do makes
	// (its Status), the same.
	body, err := req.Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return readAll(body)
}

// readAll reads r to its end into a buffer of the size it says it has
// (the transport's body read whole, retry.go), or grown as io.ReadAll
// grows one.
func readAll(r io.Reader) ([]byte, error) {
	l, ok := r.(interface{ Len() int })
	if !ok {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, l.Len()+1) // +1: the read that sees the end
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// listParams adds lo to req as VersionedParams does, without its
// reflection for the fields k8sh sets (the selectors, limit, continue).
func listParams(req *rest.Request, lo metav1.ListOptions) *rest.Request {
	plain := metav1.ListOptions{LabelSelector: lo.LabelSelector, FieldSelector: lo.FieldSelector, Limit: lo.Limit, Continue: lo.Continue}
	if lo != plain {
		return req.VersionedParams(&lo, metav1.ParameterCodec)
	}
	if lo.LabelSelector != "" {
		req = req.Param("labelSelector", lo.LabelSelector)
	}
	if lo.FieldSelector != "" {
		req = req.Param("fieldSelector", lo.FieldSelector)
	}
	if lo.Limit != 0 {
		req = req.Param("limit", strconv.FormatInt(lo.Limit, 10))
	}
	if lo.Continue != "" {
		req = req.Param("continue", lo.Continue)
	}
	return req
}

// pageOf reads the body of one GET of read.
func pageOf(raw []byte, r Resource, ns, name string) (*RowList, error) {
	page, err := parsePage(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding the list of %s: %w", r, err)
	}
	out := &RowList{Resource: r, Namespace: ns}
	list := &unstructured.UnstructuredList{Object: map[string]any{
		"apiVersion": page.APIVersion, "kind": page.Kind, "metadata": page.Metadata,
	}}
	out.List = list
	itemKind, itemVersion := strings.TrimSuffix(page.Kind, "List"), page.APIVersion
	items := page.Items
	switch {
	case (&tableJSON{Kind: page.Kind, APIVersion: page.APIVersion}).isTable():
		out.Rows = &Rows{Columns: page.ColumnDefinitions, Cells: make([][]any, len(page.Rows))}
		list.Object["apiVersion"], list.Object["kind"] = r.GVK.GroupVersion().String(), r.GVK.Kind+"List"
		items = make([]*RawObject, len(page.Rows))
		for i, row := range page.Rows {
			if row.Object == nil {
				return nil, fmt.Errorf("decoding the table of %s: row %d holds no object", r, i)
			}
			items[i] = row.Object
			out.Rows.Cells[i] = row.Cells
		}
		if r.GVR.GroupResource() == tableSorted {
			inListOrder(items, out.Rows)
		}
		itemKind, itemVersion = r.GVK.Kind, r.GVK.GroupVersion().String()
	case name != "":
		// One object, sent as itself by a server without tables.
		obj, err := NewRawObject(raw)
		if err != nil {
			return nil, fmt.Errorf("decoding %s %q: %w", r, name, err)
		}
		items = []*RawObject{obj}
		list.Object = map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}
	}
	for _, item := range items {
		item.kind, item.apiVersion, item.listed = itemKind, itemVersion, true
	}
	out.Raw = items
	return out, nil
}

// Exists tells whether the object of kind called name exists.
func (c *Client) Exists(ctx context.Context, kind, name, namespace string) (bool, error) {
	_, err := c.Get(ctx, kind, name, namespace)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// apiError rewords an API error in kubectl's words. An error the server
// sent ends with kubectl's reason class in parentheses, as kubectl's "Error
// from server (NotFound): ..." gives it: `pods "x" not found in namespace
// "default" (NotFound)`; a not-found names the namespace it was looked for
// in, so that a user who was in the wrong namespace sees it at once. A
// server that cannot be reached is said as kubectl says it: "the connection
// to the server HOST was refused - ..." or "unable to connect to the
// server: ..." (a name that does not resolve, a certificate that is not
// trusted).
func apiError(err error, ns string) error {
	if reworded(err) {
		return err
	}
	switch {
	case apierrors.IsNotFound(err) && ns != "" && !namespaceNotFound(err):
		return withReason(fmt.Errorf("%w in namespace %q", err, ns), err)
	case apierrors.IsUnauthorized(err):
		// kubectl: "You must be logged in to the server (Unauthorized)".
		return &reasonError{msg: fmt.Sprintf("you must be logged in to the server (%v)", err), err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	var unknown *OutcomeUnknownError
	if errors.As(err, &unknown) {
		return unknown // the request reached the server: no "unable to connect"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		host := "the server"
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil {
				host = "the server " + u.Host
			}
		}
		return &refusedError{host: host, err: err}
	}
	var re *replayError
	if errors.As(err, &re) {
		return re // a replay's own words: the request the cassette lacks
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &connectError{err: ue}
	}
	return withReason(err, err)
}

// withReason adds to err's message the reason class of the API status that
// cause holds, if any: "... (NotFound)".
func withReason(err, cause error) error {
	var st apierrors.APIStatus
	if !errors.As(cause, &st) {
		return err
	}
	reason := st.Status().Reason
	if reason == "" {
		return err
	}
	return &reasonError{msg: fmt.Sprintf("%v (%s)", err, reason), err: err}
}

// reworded tells whether err is already in the words of apiError.
func reworded(err error) bool {
	var (
		re *reasonError
		rf *refusedError
		ce *connectError
	)
	return errors.As(err, &re) || errors.As(err, &rf) || errors.As(err, &ce)
}

// reasonError is an error from the server, with its reason class.
type reasonError struct {
	msg string
	err error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.err }

// namespaceNotFound reports whether err says that a namespace is missing:
// "namespaces "x" not found" needs no "in namespace "x"".
func namespaceNotFound(err error) bool {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		if d := st.Status().Details; d != nil {
			return d.Kind == "namespaces"
		}
	}
	return false
}

// missingNamespace is what a read of one object that was not found in
// namespace ns says, as kubectl says it: when ns itself does not exist,
// `namespaces "ns" not found`; otherwise the object's not-found. Like
// kubectl, it asks only for a namespace other than "default".
func (c *Client) missingNamespace(ctx context.Context, err error, ns string) error {
	if !apierrors.IsNotFound(err) || ns == "" || ns == metav1.NamespaceDefault || namespaceNotFound(err) {
		return apiError(err, ns)
	}
	rc, rerr := c.rawClient()
	if rerr != nil {
		return apiError(err, ns)
	}
	if nerr := rc.Get().AbsPath("/api/v1/namespaces", ns).Do(ctx).Error(); apierrors.IsNotFound(nerr) {
		return apiError(nerr, "")
	}
	return apiError(err, ns)
}

// refusedError is kubectl's message for a server that is not there.
type refusedError struct {
	host string
	err  error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("the connection to %s was refused - did you specify the right host or port?", e.host)
}

func (e *refusedError) Unwrap() error { return e.err }

// connectError is kubectl's message for a server that could not be reached
// for another reason than a refused connection: a host name that does not
// resolve, a TLS handshake that fails.
type connectError struct{ err *url.Error }

func (e *connectError) Error() string {
	return fmt.Sprintf("unable to connect to the server: %v", e.err.Err)
}

func (e *connectError) Unwrap() error { return e.err }

// connectionError tells whether err says that the server could not be
// reached at all, the same for every request of a call.
func connectionError(err error) bool {
	var (
		rf *refusedError
		ce *connectError
	)
	return errors.As(err, &rf) || errors.As(err, &ce)
}

// NamespaceOf returns the namespace a request for kind with namespace ns
// ("" for the context's default) goes to: "" for a cluster-scoped kind.
func (c *Client) NamespaceOf(kind, ns string) (string, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return "", err
	}
	return c.namespaceFor(r, ns), nil
}
