package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// A plan is a what-if run (k8sh --plan, k8s.plan): while a Planner plans,
// every change a client made from its flags sends goes to the server as a
// dry run (dryRun=All), and what the server answered is kept, in order, as
// the plan's changes and as an overlay that later reads of the same run see:
// a get of a planned object answers the dry-run object, a planned delete is
// a 404 as the server words it, a list has planned creations added and
// planned deletions dropped (tables too, their rows made by the server from
// a dry run). Reads the overlay cannot answer (a watch of a kind the plan
// touched, the logs of a planned pod) and calls with effects outside the
// API (exec, attach, port-forward, proxy) fail with a message that says so,
// and are listed in the plan. It is done here, at the HTTP layer, so that
// every builtin that changes the cluster is planned the same way.
//
// A plan is applied (ApplyPlan) by sending the requests it recorded again,
// for real, each after a check that its object is still as the plan saw it.

// PlanChange is one change of a plan: the request as the run sent it (without
// dryRun) and its object before and after, as the server's dry run made it.
type PlanChange struct {
	// Op is "create", "update" or "delete".
	Op string `json:"op"`
	// Group, Version and Resource name the object's resource; Kind its kind.
	Group    string `json:"group,omitempty"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	Kind     string `json:"kind,omitempty"`
	// Subresource is the subresource the request went to (status, scale,
	// eviction), if any.
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name"`
	// GenerateName is set when the server made the name (metadata.generateName):
	// the name is then the dry run's, and applying the plan uses the one the
	// real create makes in the changes that follow.
	GenerateName string `json:"generateName,omitempty"`
	// ResourceVersion is the object's resourceVersion on the server when the
	// plan was made ("" when it did not exist there): what applying the plan
	// checks before the object's first change.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Request is what to send to make the change; Host the server it went
	// to (a plan may hold changes of other contexts: context=).
	Request PlannedRequest `json:"request"`
	Host    string         `json:"host,omitempty"`
	// Before and After are the object before and after the change (nil for
	// none: before a create, after a delete).
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
}

// PlannedRequest is a request of a plan, without its dryRun parameter.
type PlannedRequest struct {
	Method      string `json:"method"`
	Path        string `json:"path"`
	Query       string `json:"query,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Body        string `json:"body,omitempty"`
}

// Plan is what a planned run would change.
type Plan struct {
	Version   int          `json:"version"`
	Context   string       `json:"context"`
	Namespace string       `json:"namespace"`
	Server    string       `json:"server,omitempty"`
	Created   time.Time    `json:"created"`
	Command   string       `json:"command,omitempty"`
	Changes   []PlanChange `json:"changes"`
	// Unanswered lists what the run did that a plan cannot answer (a watch
	// of a planned kind, logs of a planned pod, exec), one line each.
	Unanswered []string `json:"unanswered,omitempty"`
}

const planVersion = 1

// Planner plans the requests of the clients made from the flags it was set
// up on (PlanRequests), while a plan is begun; otherwise it lets them
// through untouched.
type Planner struct {
	mu      sync.Mutex
	plan    *Plan
	overlay map[objKey]*overlayEntry
	kinds   map[kindKey]int // how many overlay entries each resource has
	host    string
	cancel  context.CancelCauseFunc // ends the run's context (Bind)
	stopped error                   // why it was ended
}

// objKey names an object of a plan's overlay; kindKey its resource.
type objKey struct{ group, resource, namespace, name string }

type kindKey struct{ group, resource string }

// overlayEntry is an object as the plan left it.
type overlayEntry struct {
	obj      map[string]any // nil when the plan deleted it
	onServer bool           // it exists on the server (writes to it go there as dry runs)
	serverRV string         // its resourceVersion there
	version  string         // the API version of the request that last changed it
}

// planners are the Planner of each flags PlanRequests was given, and of the
// flags of the other contexts made from them.
var planners sync.Map // *genericclioptions.ConfigFlags -> *Planner

// PlanRequests makes every client of flags (and of the contexts made from
// them) planned while the returned Planner has a plan begun.
func PlanRequests(flags *genericclioptions.ConfigFlags) *Planner {
	p := &Planner{}
	planners.Store(flags, p) // the journal passes planned requests over (journal.go)
	prev := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		if prev != nil {
			c = prev(c)
		}
		// After the retries: a planned request is planned once.
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &planTransport{rt: rt, p: p} })
		return c
	}
	return p
}

// Begin starts a plan of changes in context ctxName, namespace ns.
func (p *Planner) Begin(ctxName, ns string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plan != nil {
		return errors.New("a plan is already being made")
	}
	p.plan = &Plan{Version: planVersion, Context: ctxName, Namespace: ns, Created: time.Now().UTC()}
	p.stopped = nil
	p.overlay = map[objKey]*overlayEntry{}
	p.kinds = map[kindKey]int{}
	p.host = ""
	return nil
}

// Planning tells whether a plan is being made.
// planning tells whether a plan of c's flags is running (PlanRequests).
func (c *Client) planning() bool {
	p, ok := planners.Load(c.flags)
	return ok && p.(*Planner).Planning()
}

func (p *Planner) Planning() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.plan != nil
}

// Bind returns the context of the planned run, made from ctx: it ends
// when the plan meets a watch it cannot answer, which a call that waits
// (a rollout's status) would otherwise try again until its timeout.
// Stopped then says why.
func (p *Planner) Bind(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	p.mu.Lock()
	p.cancel, p.stopped = cancel, nil
	p.mu.Unlock()
	return ctx
}

// Stopped is why the plan ended the run's context (Bind), or nil.
func (p *Planner) Stopped() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

// stop ends the run's context with err.
func (p *Planner) stop(err error) {
	p.mu.Lock()
	cancel := p.cancel
	if p.stopped == nil {
		p.stopped = err
	}
	p.mu.Unlock()
	if cancel != nil {
		cancel(err)
	}
}

// End ends the plan begun and returns it.
func (p *Planner) End() *Plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	plan := p.plan
	if plan != nil {
		plan.Server = p.host
	}
	if p.cancel != nil {
		p.cancel(nil)
	}
	p.plan, p.overlay, p.kinds, p.cancel = nil, nil, nil, nil
	return plan
}

type planTransport struct {
	rt http.RoundTripper
	p  *Planner
}

// notPlanned lists the subresources whose effects are outside the API.
var notPlanned = map[string]string{
	"exec": "run a command in", "attach": "attach to", "portforward": "forward ports of", "proxy": "proxy to",
}

func (t *planTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.p.Planning() {
		return t.rt.RoundTrip(req)
	}
	info, ok := parseAPIPath(req.URL.Path)
	q := req.URL.Query()
	if !ok || q.Has("dryRun") {
		// Not a resource (discovery, /version), or a dry run the run asked
		// for itself (k8s.diff, dry_run=True): not a change of the plan.
		return t.rt.RoundTrip(req)
	}
	t.p.mu.Lock()
	if t.p.host == "" {
		t.p.host = req.URL.Host
	}
	t.p.mu.Unlock()
	if what, ok := notPlanned[info.sub]; ok {
		return t.refuse(req, info, fmt.Sprintf("cannot %s %s %q in a plan: what it does is not known before it runs", what, info.resource, info.name))
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return t.read(req, info, q)
	case http.MethodPost:
		if info.name == "" {
			return t.create(req, info)
		}
		if info.sub == "eviction" {
			return t.evict(req, info)
		}
		return t.refuse(req, info, fmt.Sprintf("cannot plan a POST to %s", req.URL.Path))
	case http.MethodPut, http.MethodPatch:
		if info.name == "" {
			break
		}
		return t.write(req, info)
	case http.MethodDelete:
		if info.name == "" {
			return t.deleteCollection(req, info, q)
		}
		return t.delete(req, info)
	}
	return t.refuse(req, info, fmt.Sprintf("cannot plan a %s of %s", req.Method, req.URL.Path))
}

// note adds a line to the plan's unanswered reads.
func (t *planTransport) note(line string) {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.p.plan != nil {
		t.p.plan.Unanswered = append(t.p.plan.Unanswered, line)
	}
}

// refuse answers req with a 400 that says what a plan cannot do, and notes
// it in the plan.
func (t *planTransport) refuse(req *http.Request, info apiTarget, msg string) (*http.Response, error) {
	t.note(msg)
	return statusResponse(req, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusBadRequest, Reason: metav1.StatusReasonBadRequest,
		Message: "k8sh plan: " + msg,
	}}), nil
}

// entry returns the overlay's entry of k (nil for none).
func (t *planTransport) entry(k objKey) *overlayEntry {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if e, ok := t.p.overlay[k]; ok {
		c := *e
		return &c
	}
	return nil
}

// touched tells whether the plan changed an object of k in namespace ns
// ("" for any).
func (t *planTransport) touched(k kindKey, ns string) bool {
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if ns == "" {
		return t.p.kinds[k] > 0
	}
	for ok := range t.p.overlay {
		if ok.group == k.group && ok.resource == k.resource && (ok.namespace == ns || ok.namespace == "") {
			return true
		}
	}
	return false
}

// record adds ch to the plan and sets the overlay's entry of its object.
// An update that changes nothing but what changes on every write
// (managedFields, resourceVersion, ...) is no change: kubectl says
// "unchanged" of it.
func (t *planTransport) record(ch PlanChange, k objKey, e *overlayEntry) {
	if ch.Op == "update" && ch.Before != nil && ch.After != nil {
		a, aerr := diffable(&unstructured.Unstructured{Object: ch.Before})
		b, berr := diffable(&unstructured.Unstructured{Object: ch.After})
		if aerr == nil && berr == nil && a == b {
			return
		}
	}
	t.p.mu.Lock()
	defer t.p.mu.Unlock()
	if t.p.plan == nil {
		return
	}
	t.p.plan.Changes = append(t.p.plan.Changes, ch)
	if _, ok := t.p.overlay[k]; !ok {
		t.p.kinds[kindKey{k.group, k.resource}]++
	}
	t.p.overlay[k] = e
}

// send makes a request like req (its headers: credentials, user agent) with
// another method, URL and body, and reads its answer.
func (t *planTransport) send(req *http.Request, method string, u *url.URL, body []byte, contentType, accept string) (int, []byte, http.Header, error) {
	r := req.Clone(req.Context())
	r.Method, r.URL, r.Host = method, u, u.Host
	r.Body, r.GetBody, r.ContentLength = http.NoBody, nil, 0
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", contentType)
	} else {
		r.Header.Del("Content-Type")
	}
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// urlFor is req's URL with path p and query q.
func urlFor(req *http.Request, p string, q url.Values) *url.URL {
	u := *req.URL
	u.Path, u.RawPath, u.RawQuery = p, "", q.Encode()
	return &u
}

// getReal reads the object of info from the server, as JSON: nil when it
// does not exist there.
func (t *planTransport) getReal(req *http.Request, info apiTarget) (map[string]any, error) {
	code, b, _, err := t.send(req, http.MethodGet, urlFor(req, info.objectPath(), nil), nil, "", "application/json")
	if err != nil {
		return nil, err
	}
	if code == http.StatusNotFound {
		return nil, nil
	}
	if code != http.StatusOK {
		return nil, statusError(code, b)
	}
	return decodeJSONObject(b)
}

// statusError is the error an answer of the server says.
func statusError(code int, b []byte) error {
	var st metav1.Status
	if json.Unmarshal(b, &st) == nil && st.Kind == "Status" {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return fmt.Errorf("the server answered %d: %s", code, strings.TrimSpace(string(b)))
}

// jsonResponse answers req with code and the JSON of v.
func jsonResponse(req *http.Request, code int, v any) *http.Response {
	b, _ := json.Marshal(v)
	return rawResponse(req, code, b, "application/json")
}

func rawResponse(req *http.Request, code int, b []byte, contentType string) *http.Response {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	return &http.Response{
		Status: fmt.Sprintf("%d %s", code, http.StatusText(code)), StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req,
	}
}

func statusResponse(req *http.Request, err *apierrors.StatusError) *http.Response {
	st := err.ErrStatus
	st.Kind, st.APIVersion = "Status", "v1"
	return jsonResponse(req, int(st.Code), st)
}

func notFound(req *http.Request, info apiTarget) *http.Response {
	return statusResponse(req, apierrors.NewNotFound(info.gr(), info.name))
}

// dryQuery is q with dryRun=All.
func dryQuery(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = v
	}
	out.Set("dryRun", metav1.DryRunAll)
	return out
}

// readBody reads req's body, leaving it readable again.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err == nil {
			defer b.Close()
			return io.ReadAll(b)
		}
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(b))
	return b, err
}

func plannedRequest(req *http.Request, info apiTarget, body []byte) PlannedRequest {
	q := req.URL.Query()
	q.Del("dryRun")
	return PlannedRequest{Method: req.Method, Path: req.URL.Path, Query: q.Encode(), ContentType: req.Header.Get("Content-Type"), Body: string(body)}
}

// decodeObject reads a JSON (or YAML: an apply patch may be) object,
// integers kept as integers.
func decodeObject(b []byte) (map[string]any, error) {
	m, err := decodeJSONObject(b)
	if err != nil {
		if js, yerr := yaml.YAMLToJSON(b); yerr == nil {
			if m, jerr := decodeJSONObject(js); jerr == nil {
				return m, nil
			}
		}
		return nil, err
	}
	return m, nil
}

func decodeJSONObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}

func metaString(m map[string]any, f string) string {
	s, _, _ := unstructured.NestedString(m, "metadata", f)
	return s
}

// newChange is a change of info's object.
func newChange(op string, info apiTarget, req *http.Request, body []byte, before, after map[string]any, serverRV string) PlanChange {
	ch := PlanChange{Op: op, Group: info.group, Version: info.version, Resource: info.resource, Subresource: info.sub,
		Namespace: info.namespace, Name: info.name, ResourceVersion: serverRV,
		Request: plannedRequest(req, info, body), Host: req.URL.Host, Before: before, After: after}
	for _, m := range []map[string]any{after, before} {
		if k, _ := m["kind"].(string); k != "" && ch.Kind == "" {
			ch.Kind = k
		}
	}
	return ch
}

// create plans a POST to a collection.
func (t *planTransport) create(req *http.Request, info apiTarget) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	obj, err := decodeObject(body)
	if err != nil {
		return t.refuse(req, info, fmt.Sprintf("cannot plan a create of %s whose body is not JSON (%s)", info.resource, req.Header.Get("Content-Type")))
	}
	info.name = metaString(obj, "name")
	if info.name != "" {
		if e := t.entry(info.key()); e != nil && e.obj != nil {
			return statusResponse(req, apierrors.NewAlreadyExists(info.gr(), info.name)), nil
		}
	}
	code, b, h, err := t.sendCreate(req, info, body, dryQuery(req.URL.Query()), req.Header.Get("Content-Type"), "application/json")
	if err != nil {
		return nil, err
	}
	if code >= 300 {
		return rawResponse(req, code, b, h.Get("Content-Type")), nil
	}
	after, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	info.name = metaString(after, "name")
	ch := newChange("create", info, req, body, nil, after, "")
	if metaString(obj, "name") == "" {
		ch.GenerateName = metaString(obj, "generateName")
	}
	t.record(ch, info.key(), &overlayEntry{obj: after, version: info.version})
	return t.answer(req, info, code, after)
}

// answer gives the client obj, as JSON or as the Table it asked for.
func (t *planTransport) answer(req *http.Request, info apiTarget, code int, obj map[string]any) (*http.Response, error) {
	if strings.Contains(req.Header.Get("Accept"), "as=Table") {
		return t.table(req, info, code, obj)
	}
	return jsonResponse(req, code, obj), nil
}

// table answers req with the server's Table of obj, made by a dry run of
// obj (a create when it is not on the server, else an update).
func (t *planTransport) table(req *http.Request, info apiTarget, code int, obj map[string]any) (*http.Response, error) {
	tb, err := t.tableOf(req, info, obj)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(tb)
	return rawResponse(req, code, b, "application/json"), nil
}

// tableOf is the server's Table of obj (one row), with the table options
// (includeObject) of req.
func (t *planTransport) tableOf(req *http.Request, info apiTarget, obj map[string]any) (map[string]any, error) {
	info.name = metaString(obj, "name")
	e := t.entry(info.key())
	o := (&unstructured.Unstructured{Object: obj}).DeepCopy()
	q := dryQuery(url.Values{})
	if v := req.URL.Query().Get("includeObject"); v != "" {
		q.Set("includeObject", v)
	}
	o.SetManagedFields(nil)
	accept := req.Header.Get("Accept")
	var code int
	var b []byte
	var err error
	if e != nil && e.onServer {
		o.SetResourceVersion(e.serverRV)
		body, _ := json.Marshal(o.Object)
		code, b, _, err = t.send(req, http.MethodPut, urlFor(req, info.objectPath(), q), body, "application/json", accept)
	} else {
		o.SetResourceVersion("")
		o.SetUID("")
		body, _ := json.Marshal(o.Object)
		code, b, _, err = t.sendCreate(req, info, body, q, "application/json", accept)
	}
	if err != nil {
		return nil, err
	}
	if code >= 300 {
		return nil, statusError(code, b)
	}
	return decodeJSONObject(b)
}

// write plans a PUT or a PATCH of an object (or of its status or scale).
func (t *planTransport) write(req *http.Request, info apiTarget) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	k := info.key()
	e := t.entry(k)
	if (e == nil && t.plannedNamespace(info.namespace) || e != nil && e.obj == nil) && info.sub == "" {
		// Not there (in a namespace the plan creates, or deleted by the
		// plan): only an apply makes it, a create.
		ct, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
		if ct != "application/apply-patch+yaml" {
			return notFound(req, info), nil
		}
		obj, err := decodeObject(body)
		if err != nil {
			return statusResponse(req, apierrors.NewBadRequest(err.Error())), nil
		}
		after, _, resp, err := t.dryWrite(req, info, &overlayEntry{}, obj, nil)
		if err != nil || resp != nil {
			return resp, err
		}
		t.record(newChange("create", info, req, body, nil, after, ""), k, &overlayEntry{obj: after, version: info.version})
		return t.answer(req, info, http.StatusCreated, after)
	}
	if e == nil && info.sub != "scale" {
		// The first change of an object the plan has not touched: the server
		// computes it, as a dry run.
		before, err := t.getReal(req, info)
		if err != nil {
			return nil, err
		}
		code, b, h, err := t.send(req, req.Method, urlFor(req, req.URL.Path, dryQuery(req.URL.Query())), body, req.Header.Get("Content-Type"), "application/json")
		if err != nil {
			return nil, err
		}
		if code >= 300 {
			return rawResponse(req, code, b, h.Get("Content-Type")), nil
		}
		after, err := decodeObject(b)
		if err != nil {
			return nil, err
		}
		op, rv := "update", ""
		if before == nil {
			op = "create" // an apply that creates
		} else {
			rv = metaString(before, "resourceVersion")
		}
		t.record(newChange(op, info, req, body, before, after, rv), k, &overlayEntry{obj: after, onServer: before != nil, serverRV: rv, version: info.version})
		return t.answer(req, info, code, after)
	}
	if info.sub == "scale" {
		return t.scale(req, info, body, e)
	}
	if info.sub != "" {
		return t.refuse(req, info, fmt.Sprintf("cannot plan a change of the %s of %s %q after another planned change of it", info.sub, info.resource, info.name))
	}
	// A later change of an object the plan changed: computed here from the
	// planned object, then sent to the server as a dry-run update (or create,
	// when the plan created it) for validation and defaults.
	cur := e.obj
	next, err := patched(req, cur, body)
	if err != nil {
		return statusResponse(req, apierrors.NewBadRequest(err.Error())), nil
	}
	after, code, resp, err := t.dryWrite(req, info, e, next, cur)
	if err != nil || resp != nil {
		return resp, err
	}
	rv := ""
	if e.onServer {
		rv = e.serverRV
	}
	t.record(newChange("update", info, req, body, cur, after, rv), k, &overlayEntry{obj: after, onServer: e.onServer, serverRV: e.serverRV, version: info.version})
	return t.answer(req, info, code, after)
}

// patched is cur after req (a PUT of body, or a PATCH of body) as JSON.
func patched(req *http.Request, cur map[string]any, body []byte) (map[string]any, error) {
	if req.Method == http.MethodPut {
		return decodeObject(body)
	}
	curJSON, err := json.Marshal(cur)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, err
	}
	ct, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
	var out []byte
	switch ct {
	case "application/json-patch+json":
		p, err := jsonpatch.DecodePatch(js)
		if err != nil {
			return nil, err
		}
		if out, err = p.Apply(curJSON); err != nil {
			return nil, err
		}
	case "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/apply-patch+cbor":
		// A server-side apply of an object the plan already changed is
		// merged into it as a strategic merge patch (by the keys of lists)
		// of the built-in kinds, a merge patch of the others: the fields the
		// applied configuration no longer holds are kept.
		u := &unstructured.Unstructured{Object: cur}
		typed, terr := scheme.Scheme.New(u.GroupVersionKind())
		if terr != nil {
			if out, err = jsonpatch.MergePatch(curJSON, js); err != nil {
				return nil, err
			}
			break
		}
		if out, err = strategicpatch.StrategicMergePatch(curJSON, js, typed); err != nil {
			return nil, err
		}
	default:
		if out, err = jsonpatch.MergePatch(curJSON, js); err != nil {
			return nil, err
		}
	}
	return decodeObject(out)
}

// dryWrite sends next, a new state of the planned object e (whose state is
// cur), to the server as a dry run: an update when it is on the server, a
// create when the plan created it. It returns the server's object, or the
// answer to give the client when the server refused it.
func (t *planTransport) dryWrite(req *http.Request, info apiTarget, e *overlayEntry, next, cur map[string]any) (map[string]any, int, *http.Response, error) {
	o := &unstructured.Unstructured{Object: next}
	if rv := o.GetResourceVersion(); cur != nil && rv != "" && rv != metaString(cur, "resourceVersion") && rv != e.serverRV {
		return nil, 0, statusResponse(req, apierrors.NewConflict(info.gr(), info.name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))), nil
	}
	q := url.Values{}
	if fm := req.URL.Query().Get("fieldManager"); fm != "" {
		q.Set("fieldManager", fm)
	}
	q = dryQuery(q)
	o.SetManagedFields(nil)
	var code int
	var b []byte
	var h http.Header
	var err error
	if e.onServer {
		o.SetResourceVersion(e.serverRV)
		body, _ := json.Marshal(o.Object)
		code, b, h, err = t.send(req, http.MethodPut, urlFor(req, info.objectPath(), q), body, "application/json", "application/json")
	} else {
		o.SetResourceVersion("")
		o.SetUID("")
		o.SetCreationTimestamp(metav1.Time{})
		body, _ := json.Marshal(o.Object)
		code, b, h, err = t.sendCreate(req, info, body, q, "application/json", "application/json")
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if code >= 300 {
		return nil, 0, rawResponse(req, code, b, h.Get("Content-Type")), nil
	}
	after, err := decodeObject(b)
	if err != nil {
		return nil, 0, nil, err
	}
	if code == http.StatusCreated {
		code = http.StatusOK // an update, as the client sees it
	}
	return after, code, nil, nil
}

// scale plans a change of the scale subresource: the server's dry run of
// it on an object the plan has not touched, else the replicas set in the
// planned object. The object's replicas follow the Scale's.
func (t *planTransport) scale(req *http.Request, info apiTarget, body []byte, e *overlayEntry) (*http.Response, error) {
	k := info.key()
	var before map[string]any
	var scaleObj map[string]any
	code := http.StatusOK
	if e == nil {
		var err error
		if before, err = t.getReal(req, info); err != nil {
			return nil, err
		}
		c, b, h, err := t.send(req, req.Method, urlFor(req, req.URL.Path, dryQuery(req.URL.Query())), body, req.Header.Get("Content-Type"), "application/json")
		if err != nil {
			return nil, err
		}
		if c >= 300 {
			return rawResponse(req, c, b, h.Get("Content-Type")), nil
		}
		if scaleObj, err = decodeObject(b); err != nil {
			return nil, err
		}
		code = c
		if before == nil {
			return notFound(req, info), nil
		}
		e = &overlayEntry{obj: before, onServer: true, serverRV: metaString(before, "resourceVersion"), version: info.version}
	} else {
		before = e.obj
		cur := map[string]any{"spec": map[string]any{}}
		if r, ok, _ := unstructured.NestedFieldNoCopy(before, "spec", "replicas"); ok {
			cur["spec"].(map[string]any)["replicas"] = r
		}
		next, err := patched(req, cur, body)
		if err != nil {
			return statusResponse(req, apierrors.NewBadRequest(err.Error())), nil
		}
		scaleObj = next
	}
	replicas, ok, _ := unstructured.NestedFieldNoCopy(scaleObj, "spec", "replicas")
	if !ok {
		return statusResponse(req, apierrors.NewBadRequest("the scale has no spec.replicas")), nil
	}
	next := (&unstructured.Unstructured{Object: before}).DeepCopy().Object
	unstructured.SetNestedField(next, replicas, "spec", "replicas")
	mainInfo := info
	mainInfo.sub = ""
	after, _, resp, err := t.dryWrite(req, mainInfo, e, next, before)
	if err != nil || resp != nil {
		return resp, err
	}
	rv := ""
	if e.onServer {
		rv = e.serverRV
	}
	t.record(newChange("update", info, req, body, before, after, rv), k, &overlayEntry{obj: after, onServer: e.onServer, serverRV: e.serverRV, version: e.version})
	if scaleObj["kind"] == nil {
		scaleObj = map[string]any{"kind": "Scale", "apiVersion": "autoscaling/v1",
			"metadata": map[string]any{"name": info.name, "namespace": info.namespace},
			"spec":     map[string]any{"replicas": replicas}}
	}
	return jsonResponse(req, code, scaleObj), nil
}

// delete plans a DELETE of one object.
func (t *planTransport) delete(req *http.Request, info apiTarget) (*http.Response, error) {
	if info.sub != "" {
		return t.refuse(req, info, fmt.Sprintf("cannot plan a DELETE of %s", req.URL.Path))
	}
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	k := info.key()
	e := t.entry(k)
	switch {
	case e != nil && e.obj == nil:
		return notFound(req, info), nil
	case e != nil && !e.onServer:
		// Created by the plan: gone again.
		t.record(newChange("delete", info, req, body, e.obj, nil, ""), k, &overlayEntry{version: info.version})
		return jsonResponse(req, http.StatusOK, e.obj), nil
	}
	var before map[string]any
	if e != nil {
		before = e.obj
	} else if before, err = t.getReal(req, info); err != nil {
		return nil, err
	}
	// The server reads a delete's options from its body when it has one,
	// and from the query only when it has none: dryRun goes in both.
	dryBody, err := dryDeleteBody(body)
	if err != nil {
		return t.refuse(req, info, fmt.Sprintf("cannot plan a delete of %s %q whose options are not JSON", info.resource, info.name))
	}
	code, b, h, err := t.send(req, http.MethodDelete, urlFor(req, req.URL.Path, dryQuery(req.URL.Query())), dryBody, "application/json", "application/json")
	if err != nil {
		return nil, err
	}
	if code >= 300 {
		return rawResponse(req, code, b, h.Get("Content-Type")), nil
	}
	rv := ""
	if e != nil {
		rv = e.serverRV
	} else if before != nil {
		rv = metaString(before, "resourceVersion")
	}
	// An object with finalizers stays, marked for deletion, until they are
	// done: the dry run answers it so.
	var after map[string]any
	if resp, err := decodeObject(b); err == nil && resp["kind"] != "Status" && metaString(resp, "deletionTimestamp") != "" {
		if f, _, _ := unstructured.NestedStringSlice(resp, "metadata", "finalizers"); len(f) > 0 {
			after = resp
		}
	}
	t.record(newChange("delete", info, req, body, before, after, rv), k, &overlayEntry{obj: after, onServer: true, serverRV: rv, version: info.version})
	return rawResponse(req, code, b, h.Get("Content-Type")), nil
}

// evict plans an eviction: the pod's deletion.
func (t *planTransport) evict(req *http.Request, info apiTarget) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	k := info.key()
	e := t.entry(k)
	if e != nil && e.obj == nil {
		return notFound(req, info), nil
	}
	if e != nil && !e.onServer {
		return t.refuse(req, info, fmt.Sprintf("cannot plan the eviction of pod %q, which the plan created", info.name))
	}
	before, err := t.getReal(req, info)
	if err != nil {
		return nil, err
	}
	code, b, h, err := t.send(req, http.MethodPost, urlFor(req, req.URL.Path, dryQuery(req.URL.Query())), body, req.Header.Get("Content-Type"), "application/json")
	if err != nil {
		return nil, err
	}
	if code < 300 && before != nil {
		rv := metaString(before, "resourceVersion")
		t.record(newChange("delete", info, req, body, before, nil, rv), k, &overlayEntry{onServer: true, serverRV: rv, version: info.version})
	}
	return rawResponse(req, code, b, h.Get("Content-Type")), nil
}

// deleteCollection plans a DELETE of a collection as the deletes of the
// objects it matches (each a change of its own, checked on its own when the
// plan is applied).
func (t *planTransport) deleteCollection(req *http.Request, info apiTarget, q url.Values) (*http.Response, error) {
	lq := url.Values{}
	for _, p := range []string{"labelSelector", "fieldSelector"} {
		if v := q.Get(p); v != "" {
			lq.Set(p, v)
		}
	}
	lr := req.Clone(req.Context())
	lr.Method, lr.URL, lr.Body, lr.GetBody, lr.ContentLength = http.MethodGet, urlFor(req, req.URL.Path, lq), http.NoBody, nil, 0
	lr.Header = req.Header.Clone()
	lr.Header.Set("Accept", "application/json")
	lr.Header.Del("Content-Type")
	resp, err := t.read(lr, info, lq)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return rawResponse(req, resp.StatusCode, b, resp.Header.Get("Content-Type")), nil
	}
	list, err := decodeJSONObject(b)
	if err != nil {
		return nil, err
	}
	items, _ := list["items"].([]any)
	for _, it := range items {
		o, _ := it.(map[string]any)
		oi := info
		oi.name, oi.namespace = metaString(o, "name"), metaString(o, "namespace")
		dr := req.Clone(req.Context())
		dr.Method, dr.URL = http.MethodDelete, urlFor(req, oi.objectPath(), url.Values{})
		body, _ := readBody(req)
		if body != nil {
			dr.Body, dr.GetBody = io.NopCloser(bytes.NewReader(body)), nil
		}
		r, err := t.delete(dr, oi)
		if err != nil {
			return nil, err
		}
		rb, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode >= 300 {
			return rawResponse(req, r.StatusCode, rb, r.Header.Get("Content-Type")), nil
		}
	}
	return jsonResponse(req, http.StatusOK, list), nil
}

// read answers a GET: from the overlay for a planned object, merged with
// it for a list of a kind the plan changed, else from the server.
func (t *planTransport) read(req *http.Request, info apiTarget, q url.Values) (*http.Response, error) {
	switch {
	case q.Get("watch") == "true" || q.Get("watch") == "1":
		if t.touched(info.kind(), info.namespace) {
			msg := fmt.Sprintf("cannot watch %s in a plan: the plan changes some of them, and what controllers would do with planned objects is not known", info.resource)
			resp, err := t.refuse(req, info, msg)
			t.p.stop(errors.New("k8sh plan: " + msg))
			return resp, err
		}
		return t.rt.RoundTrip(req)
	case info.name == "":
		if !t.touched(info.kind(), info.namespace) {
			return t.rt.RoundTrip(req)
		}
		return t.list(req, info, q)
	}
	e := t.entry(info.key())
	if e == nil {
		return t.rt.RoundTrip(req)
	}
	switch info.sub {
	case "":
		if e.obj == nil {
			return notFound(req, info), nil
		}
		return t.answer(req, info, http.StatusOK, e.obj)
	case "status":
		if e.obj == nil {
			return notFound(req, info), nil
		}
		return jsonResponse(req, http.StatusOK, e.obj), nil
	}
	return t.refuse(req, info, fmt.Sprintf("cannot read the %s of %s %q in a plan: the plan changes it", info.sub, info.resource, info.name))
}

// list answers a list of a kind the plan changed: the server's list (all of
// it: pages are not planned) with the plan's objects that match its
// selectors put in, in the server's order (namespace, then name).
func (t *planTransport) list(req *http.Request, info apiTarget, q url.Values) (*http.Response, error) {
	lq := url.Values{}
	for k, v := range q {
		if k != "limit" && k != "continue" {
			lq[k] = v
		}
	}
	isTable := strings.Contains(req.Header.Get("Accept"), "as=Table")
	accept := "application/json"
	if isTable {
		accept = req.Header.Get("Accept")
	}
	code, b, h, err := t.send(req, http.MethodGet, urlFor(req, req.URL.Path, lq), nil, "", accept)
	if err != nil {
		return nil, err
	}
	if code >= 300 {
		return rawResponse(req, code, b, h.Get("Content-Type")), nil
	}
	list, err := decodeJSONObject(b)
	if err != nil {
		return nil, err
	}
	match, err := listMatcher(q)
	if err != nil {
		return rawResponse(req, code, b, h.Get("Content-Type")), nil
	}
	// The plan's objects of this list: replaced, dropped or added.
	t.p.mu.Lock()
	planned := map[string]*overlayEntry{}
	for k, e := range t.p.overlay {
		if k.group == info.group && k.resource == info.resource && (info.namespace == "" || k.namespace == info.namespace) {
			c := *e
			planned[k.namespace+"/"+k.name] = &c
		}
	}
	t.p.mu.Unlock()
	field := "items"
	if list["kind"] == "Table" {
		field = "rows"
	}
	rowKey := func(it any) string {
		m, _ := it.(map[string]any)
		if field == "rows" {
			m, _ = m["object"].(map[string]any)
		}
		return metaString(m, "namespace") + "/" + metaString(m, "name")
	}
	entryRow := func(e *overlayEntry) (any, error) {
		if field == "items" {
			return e.obj, nil
		}
		oi := info
		oi.namespace = metaString(e.obj, "namespace")
		tb, err := t.tableOf(req, oi, e.obj)
		if err != nil {
			return nil, err
		}
		rows, _ := tb["rows"].([]any)
		if len(rows) != 1 {
			return nil, fmt.Errorf("the server's table of %s %q has %d rows", info.resource, metaString(e.obj, "name"), len(rows))
		}
		return rows[0], nil
	}
	items, _ := list[field].([]any)
	out := make([]any, 0, len(items))
	for _, it := range items {
		k := rowKey(it)
		e, ok := planned[k]
		if !ok {
			out = append(out, it)
			continue
		}
		delete(planned, k)
		if e.obj == nil || !match(e.obj) {
			continue
		}
		row, err := entryRow(e)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	var added []string
	for k, e := range planned {
		if e.obj != nil && match(e.obj) {
			added = append(added, k)
		}
	}
	sort.Strings(added)
	for _, k := range added {
		row, err := entryRow(planned[k])
		if err != nil {
			return nil, err
		}
		i := sort.Search(len(out), func(i int) bool { return rowKey(out[i]) > k })
		out = append(out[:i], append([]any{row}, out[i:]...)...)
	}
	list[field] = out
	if md, ok := list["metadata"].(map[string]any); ok {
		delete(md, "continue")
		delete(md, "remainingItemCount")
	}
	return jsonResponse(req, code, list), nil
}

// listMatcher tells whether an object matches a list's label and field
// selectors (a field selector's fields read from the object by path:
// metadata.name, status.phase, spec.nodeName).
func listMatcher(q url.Values) (func(map[string]any) bool, error) {
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, err
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, err
	}
	return func(o map[string]any) bool {
		l, _, _ := unstructured.NestedStringMap(o, "metadata", "labels")
		if !ls.Matches(labels.Set(l)) {
			return false
		}
		if fs.Empty() {
			return true
		}
		set := fields.Set{}
		for _, r := range fs.Requirements() {
			v, _, _ := unstructured.NestedFieldNoCopy(o, strings.Split(r.Field, ".")...)
			set[r.Field] = fmt.Sprint(v)
			if v == nil {
				set[r.Field] = ""
			}
		}
		return fs.Matches(set)
	}, nil
}

// SavePlan writes p to path, readable by its owner only: the requests of a
// plan hold the data they send, a Secret's too.
func SavePlan(p *Plan, path string) error {
	out, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("# A k8sh plan: the changes a run would make (k8sh --plan-out); k8sh --apply-plan applies it.\n"), out...), 0o600)
}

// LoadPlan reads a plan that SavePlan wrote.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var p Plan
	if err := d.Decode(&p); err != nil {
		return nil, fmt.Errorf("%s: not a k8sh plan: %w", path, err)
	}
	if p.Version != planVersion {
		return nil, fmt.Errorf("%s: a plan of format version %d, want %d", path, p.Version, planVersion)
	}
	return &p, nil
}

// plannedNamespace tells whether ns is a namespace the plan creates (and
// the server does not have).
func (t *planTransport) plannedNamespace(ns string) bool {
	if ns == "" {
		return false
	}
	e := t.entry(objKey{"", "namespaces", "", ns})
	return e != nil && e.obj != nil && !e.onServer
}

// planNamespaceStandIn is where the dry runs of creations in a namespace
// the plan creates are sent: the server refuses them in a namespace it
// does not have.
const planNamespaceStandIn = "default"

// sendCreate sends body, an object of info's resource, to its collection
// as a dry-run create (q holds dryRun). In a namespace the plan creates it
// is sent to the default namespace, under a name the server makes (so that
// it clashes with nothing there), and the answer (an object or a Table)
// is given the object's own name and namespace back.
func (t *planTransport) sendCreate(req *http.Request, info apiTarget, body []byte, q url.Values, contentType, accept string) (int, []byte, http.Header, error) {
	obj, err := decodeObject(body)
	if err != nil {
		return 0, nil, nil, err
	}
	u := &unstructured.Unstructured{Object: obj}
	name := u.GetName()
	standIn, trick := "", false
	switch {
	case t.plannedNamespace(info.namespace):
		standIn, trick = planNamespaceStandIn, true
	case name != "":
		// An object the plan deleted, made again: the server still has it.
		k := info.key()
		k.name = name
		if e := t.entry(k); e != nil && e.obj == nil && e.onServer {
			standIn, trick = info.namespace, true
		}
	}
	if !trick {
		return t.send(req, http.MethodPost, urlFor(req, info.collectionPath(), q), body, contentType, accept)
	}
	if name != "" {
		u.SetGenerateName("k8sh-plan-")
		u.SetName("")
	}
	if info.namespace != "" {
		u.SetNamespace(standIn)
	}
	body, _ = json.Marshal(u.Object)
	in := info
	in.namespace = standIn
	code, b, h, err := t.send(req, http.MethodPost, urlFor(req, in.collectionPath(), q), body, "application/json", accept)
	if err != nil || code >= 300 {
		return code, b, h, err
	}
	out, err := decodeJSONObject(b)
	if err != nil {
		return 0, nil, nil, err
	}
	restore := func(m map[string]any) {
		md, _ := m["metadata"].(map[string]any)
		if md == nil {
			return
		}
		made, _ := md["name"].(string)
		if name != "" {
			md["name"] = name
			delete(md, "generateName")
		}
		if info.namespace != "" {
			md["namespace"] = info.namespace
		}
		if cells, ok := m["cells"].([]any); ok {
			for i, c := range cells {
				if c == made && name != "" {
					cells[i] = name
				}
			}
		}
	}
	if rows, ok := out["rows"].([]any); ok {
		for _, r := range rows {
			if row, ok := r.(map[string]any); ok {
				if o, ok := row["object"].(map[string]any); ok {
					made := metaString(o, "name")
					restore(o)
					if cells, ok := row["cells"].([]any); ok {
						for i, c := range cells {
							if c == made && name != "" {
								cells[i] = name
							}
						}
					}
				}
			}
		}
	} else {
		restore(out)
	}
	b, _ = json.Marshal(out)
	return code, b, h, nil
}

// dryDeleteBody is the body of a delete (DeleteOptions, or nothing) with
// dryRun: [All].
func dryDeleteBody(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	m, err := decodeJSONObject(body)
	if err != nil {
		return nil, err
	}
	m["dryRun"] = []any{metav1.DryRunAll}
	return json.Marshal(m)
}
