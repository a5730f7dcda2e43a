package kube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
)

// The journal: every run of k8sh that changes a cluster keeps, in a file of
// its own, what each object was before each change (or that it did not
// exist) and what the change left, so that `k8sh undo` can put it back.
//
// It is kept at the HTTP layer, as --record and -v are: a RoundTripper on
// every client made from the run's kubeconfig flags sees each request that
// persists a change (POST, PUT, PATCH, DELETE on a resource, its
// collection or a subresource that changes it), reads the object first with
// the same credentials (a LIST for a delete of a collection), appends that
// to the journal file and syncs it to disk, then sends the request, and
// appends what the answer says the change left. So every builtin that
// changes anything is journaled without knowing of it.
//
// Not journaled: server-side dry runs (dryRun=All: --dry-run, dry_run=True,
// plans); and the POSTs that persist nothing in the API: pods/exec,
// pods/attach, pods/portforward and the proxy subresources (streams),
// serviceaccounts/token (TokenRequest), and every resource of the
// authentication.k8s.io and authorization.k8s.io groups (TokenReview,
// SelfSubjectReview, SubjectAccessReview, SelfSubjectAccessReview,
// LocalSubjectAccessReview, SelfSubjectRulesReview).

// journalVersion is the format of the journal files this k8sh writes.
const journalVersion = 1

// JournalOptions are the k8sh config's journal settings.
type JournalOptions struct {
	// SecretData keeps Secrets' data and stringData in the journal, so that
	// undo can restore a Secret; without it they are left out and undo
	// says it cannot restore one.
	SecretData bool
	// Keep is how many runs the journal directory keeps: the oldest are
	// removed when a new run starts writing. 0 means DefaultJournalKeep.
	Keep int
}

// DefaultJournalKeep is how many runs the journal keeps by default.
const DefaultJournalKeep = 100

// RunInfo is the first line of a journal file: which run it is.
type RunInfo struct {
	Version   int       `json:"version"`
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Context   string    `json:"context"`
	Namespace string    `json:"namespace"`
	// Command is the command line, with the values of --token and
	// --password left out.
	Command []string `json:"command"`
	// Undoes is the run that this one undoes (k8sh undo RUN).
	Undoes string `json:"undoes,omitempty"`
}

// JournalChange is one object about to be changed: where it is, what it was.
type JournalChange struct {
	Seq     int       `json:"seq"`
	Time    time.Time `json:"time"`
	Context string    `json:"context"`
	Server  string    `json:"server"`
	// Method and Path are the request's (the path without its query).
	Method string `json:"method"`
	Path   string `json:"path"`
	// Where the object is: its resource, subresource ("" for the object
	// itself), namespace ("" when cluster-scoped) and name ("" until the
	// answer names an object created with generateName).
	Group       string `json:"group,omitempty"`
	Version     string `json:"version"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	// Existed tells whether the object existed before; Before is what it
	// was then (nil when it did not exist, or could not be read: then
	// BeforeError says why).
	Existed     bool           `json:"existed"`
	Before      map[string]any `json:"before,omitempty"`
	BeforeError string         `json:"beforeError,omitempty"`
	// SecretDataOmitted: Before and the result's After lack a Secret's
	// data (journal.secret_data is off in the k8sh config).
	SecretDataOmitted bool `json:"secretDataOmitted,omitempty"`
	// Undo is the run whose undo made this change.
	Undo string `json:"undo,omitempty"`

	// Result is what the change left, once known (the "result" line).
	Result *JournalResult `json:"-"`
}

// JournalResult is what a change left, from the server's answer.
type JournalResult struct {
	Seq int `json:"seq"`
	// Status is the HTTP status (0: the request failed with no answer).
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Gone: the object no longer exists (it was deleted, without
	// finalizers to wait for).
	Gone bool `json:"gone,omitempty"`
	// Name is the object's name (the server's, for generateName).
	Name string `json:"name,omitempty"`
	// After is the object as the change left it (nil when Gone).
	After map[string]any `json:"after,omitempty"`
}

// Failed tells whether the server refused the change: it changed nothing.
func (r *JournalResult) Failed() bool { return r != nil && r.Status >= 400 && r.Status < 500 }

// Known tells whether the outcome of the change is known: it was made, or
// refused.
func (r *JournalResult) Known() bool { return r != nil && r.Status >= 200 && r.Status < 500 }

// Undone marks changes of a run as undone (a line of the run that undid
// them).
type Undone struct {
	Run  string `json:"run"`
	Seqs []int  `json:"seqs"`
}

// journalLine is one line of a journal file: exactly one field is set.
type journalLine struct {
	Run    *RunInfo       `json:"run,omitempty"`
	Change *JournalChange `json:"change,omitempty"`
	Result *JournalResult `json:"result,omitempty"`
	Undone *Undone        `json:"undone,omitempty"`
}

// Journal is the journal of the running process's run: its file is made
// at the first change.
type Journal struct {
	dir  string
	opts JournalOptions

	mu      sync.Mutex
	info    RunInfo
	f       *os.File
	path    string
	seq     int
	run     Run // what the file holds, for k8s.undo
	changed bool
	err     error
}

// NewJournal returns the journal of a new run in dir: its file is written
// at the first change. info's ID, Time and Version are set here.
func NewJournal(dir string, info RunInfo, opts JournalOptions) *Journal {
	now := time.Now().UTC()
	var b [2]byte
	rand.Read(b[:])
	info.Version = journalVersion
	info.ID = now.Format("20060102-150405.000") + "-" + hex.EncodeToString(b[:])
	info.Time = now
	info.Command = redactCommand(info.Command)
	if opts.Keep <= 0 {
		opts.Keep = DefaultJournalKeep
	}
	j := &Journal{dir: dir, opts: opts, info: info}
	j.run.RunInfo = info
	return j
}

// ID is the run's id.
func (j *Journal) ID() string { return j.info.ID }

// SetUndoes records that this run undoes run id.
func (j *Journal) SetUndoes(id string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.info.Undoes = id
	j.run.Undoes = id
}

// Path is the journal file ("" while nothing was changed).
func (j *Journal) Path() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.path
}

// Run is a copy of what the journal holds of this run so far.
func (j *Journal) Run() *Run {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.run
	r.Changes = slices.Clone(j.run.Changes)
	r.Marks = slices.Clone(j.run.Marks)
	r.File = j.path
	return &r
}

// Close closes the journal file; a run that changed nothing (every
// change refused by the server, or an apply that left the object as it
// was) leaves no file.
func (j *Journal) Close() error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return j.err
	}
	err := j.f.Close()
	j.f = nil
	if !j.changed && len(j.run.Marks) == 0 {
		os.Remove(j.path)
		j.path = ""
	}
	return errors.Join(j.err, err)
}

var journals sync.Map // *genericclioptions.ConfigFlags -> *Journal

// Attach makes every client made from flags (and from the flags of the
// other contexts made from them) journal its changes in j.
func (j *Journal) Attach(flags *genericclioptions.ConfigFlags) { journals.Store(flags, j) }

// inheritJournal makes the clients of to, flags made from from for another
// context, journal where from's do, and know when from's plan (a planned
// change is a dry run: nothing to journal).
func inheritJournal(from, to *genericclioptions.ConfigFlags) {
	if j, ok := journals.Load(from); ok {
		journals.Store(to, j)
	}
	if p, ok := planners.Load(from); ok {
		planners.Store(to, p)
	}
}

// wrapJournal wraps cfg, the config of a client of context name made from
// flags, with the journal of flags, if there is one.
func wrapJournal(flags *genericclioptions.ConfigFlags, cfg *rest.Config, name string) {
	v, ok := journals.Load(flags)
	if !ok {
		return
	}
	j, server := v.(*Journal), cfg.Host
	var planner *Planner
	if p, ok := planners.Load(flags); ok {
		planner = p.(*Planner)
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &journalTransport{rt: rt, j: j, planner: planner, context: name, server: server}
	})
}

type undoKey struct{}

// journalReadKey marks the journal's own reads: --record leaves them out of
// the cassette, which a replay (with no journal) would otherwise answer
// the script's own reads from.
type journalReadKey struct{}

// journalRead tells whether req is a read of the journal's.
func journalRead(req *http.Request) bool { return req.Context().Value(journalReadKey{}) != nil }

// WithUndo marks the requests made with ctx as the undo of run id.
func WithUndo(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, undoKey{}, id)
}

// open makes the journal file, once; j.mu is held.
func (j *Journal) open() error {
	if j.f != nil || j.err != nil {
		return j.err
	}
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		j.err = fmt.Errorf("journal: %w", err)
		return j.err
	}
	pruneJournal(j.dir, j.opts.Keep-1)
	p := filepath.Join(j.dir, j.info.ID+".jsonl")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		j.err = fmt.Errorf("journal: %w", err)
		return j.err
	}
	j.f, j.path = f, p
	if err := j.write(true, journalLine{Run: &j.info}); err != nil {
		return err
	}
	return nil
}

// write appends lines to the file, and syncs it when sync is set; j.mu is
// held.
func (j *Journal) write(sync bool, lines ...journalLine) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	if _, err := j.f.Write(buf.Bytes()); err != nil {
		j.err = fmt.Errorf("journal %s: %w", j.path, err)
		return j.err
	}
	if sync {
		if err := j.f.Sync(); err != nil {
			j.err = fmt.Errorf("journal %s: %w", j.path, err)
			return j.err
		}
	}
	return nil
}

// record appends changes, about to be made, and syncs the file: only then
// may the request go. It numbers them.
func (j *Journal) record(changes []*JournalChange) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.open(); err != nil {
		return err
	}
	lines := make([]journalLine, len(changes))
	for i, c := range changes {
		j.seq++
		c.Seq = j.seq
		if !j.opts.SecretData && c.Group == "" && c.Resource == "secrets" {
			c.SecretDataOmitted = true
			omitSecretData(c.Before)
		}
		lines[i] = journalLine{Change: c}
	}
	if err := j.write(true, lines...); err != nil {
		return err
	}
	for _, c := range changes {
		j.run.Changes = append(j.run.Changes, c)
	}
	return nil
}

// result appends what the change c left. It is not synced: a process
// killed after the write still leaves it in the file; the next change's
// sync, or Close, puts it on disk.
func (j *Journal) result(c *JournalChange, r *JournalResult) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r.Seq = c.Seq
	if c.SecretDataOmitted {
		omitSecretData(r.After)
	}
	if r.Name != "" && c.Name == "" {
		c.Name = r.Name
	}
	c.Result = r
	if r.Status >= 200 && r.Status < 300 && !unchanged(c, r) || !r.Known() {
		j.changed = true
	}
	if j.f != nil {
		j.write(false, journalLine{Result: r})
	}
}

// MarkUndone records that the changes seqs of run id are undone, by this
// run.
func (j *Journal) MarkUndone(id string, seqs []int) error {
	if len(seqs) == 0 {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.open(); err != nil {
		return err
	}
	m := Undone{Run: id, Seqs: seqs}
	j.run.Marks = append(j.run.Marks, m)
	return j.write(true, journalLine{Undone: &m})
}

// unchanged tells whether a successful change left its object as it was
// (an apply of what was there already): the same resourceVersion.
func unchanged(c *JournalChange, r *JournalResult) bool {
	if !c.Existed || r.Gone || c.Before == nil || r.After == nil {
		return false
	}
	b, a := &unstructured.Unstructured{Object: c.Before}, &unstructured.Unstructured{Object: r.After}
	return b.GetUID() == a.GetUID() && b.GetResourceVersion() != "" && b.GetResourceVersion() == a.GetResourceVersion()
}

// omitSecretData removes a Secret's data from obj: data, stringData, and
// kubectl apply's last-applied-configuration annotation, which holds them
// too.
func omitSecretData(obj map[string]any) {
	if obj == nil {
		return
	}
	delete(obj, "data")
	delete(obj, "stringData")
	if md, ok := obj["metadata"].(map[string]any); ok {
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		}
	}
}

// redactCommand is args without the values of the flags that carry
// credentials.
func redactCommand(args []string) []string {
	out := slices.Clone(args)
	secret := func(f string) bool {
		f = strings.TrimLeft(f, "-")
		return f == "token" || f == "password"
	}
	for i := 0; i < len(out); i++ {
		a := out[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		if a == "--" {
			break
		}
		name, _, hasValue := strings.Cut(a, "=")
		if !secret(name) {
			continue
		}
		if hasValue {
			out[i] = name + "=REDACTED"
		} else if i+1 < len(out) {
			out[i+1] = "REDACTED"
			i++
		}
	}
	return out
}

// pruneJournal removes the oldest runs of dir beyond the newest keep.
func pruneJournal(dir string, keep int) {
	names, err := runFiles(dir)
	if err != nil || len(names) <= keep {
		return
	}
	for _, n := range names[:len(names)-keep] {
		os.Remove(filepath.Join(dir, n))
	}
}

// runFiles are the journal files of dir, oldest first.
func runFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".jsonl") && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // ids begin with the time
	return names, nil
}

// notPersisting are the subresources whose POSTs change nothing in the
// API: streams, proxies, TokenRequest.
var notPersisting = map[string]bool{"exec": true, "attach": true, "portforward": true, "proxy": true, "token": true}

// reviewGroups are the groups whose resources are all reviews: created,
// answered, never stored.
var reviewGroups = map[string]bool{"authentication.k8s.io": true, "authorization.k8s.io": true}

// Irreversible are the subresources whose changes undo cannot take back,
// with why.
var Irreversible = map[string]string{
	"ephemeralcontainers": "ephemeral containers cannot be removed from a pod",
	"binding":             "a pod's binding to a node cannot be changed",
	"approval":            "a certificate signing request's approval cannot be withdrawn",
}

// journaled tells whether req persists a change the journal keeps, and
// what it names.
func journaled(req *http.Request) (apiTarget, bool) {
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return apiTarget{}, false
	}
	q := req.URL.Query()
	if len(q["dryRun"]) > 0 && q.Get("dryRun") != "" {
		return apiTarget{}, false
	}
	t, ok := parseAPIPath(req.URL.Path)
	if !ok || reviewGroups[t.group] || notPersisting[t.sub] {
		return t, false
	}
	if (req.Method == http.MethodDelete || t.sub == "eviction") && dryRunBody(req) {
		return t, false
	}
	if t.name == "" && (req.Method == http.MethodPut || req.Method == http.MethodPatch) {
		return t, false // no such request: let the server say so
	}
	if t.name != "" && t.sub == "" && req.Method == http.MethodPost {
		return t, false
	}
	return t, true
}

// dryRunBody tells whether req's body, DeleteOptions (or an Eviction's),
// asks for a dry run: a delete says so in its body, not in its query.
func dryRunBody(req *http.Request) bool {
	body := requestBody(req)
	if len(body) == 0 {
		return false
	}
	var opts struct {
		DryRun        []string `json:"dryRun"`
		DeleteOptions *struct {
			DryRun []string `json:"dryRun"`
		} `json:"deleteOptions"`
	}
	if json.Unmarshal(body, &opts) != nil {
		return false
	}
	return len(opts.DryRun) > 0 || opts.DeleteOptions != nil && len(opts.DeleteOptions.DryRun) > 0
}

// journalTransport journals the changes of one context's clients.
type journalTransport struct {
	rt              http.RoundTripper
	j               *Journal
	planner         *Planner // its changes are dry runs while it plans (plan.go)
	context, server string
}

func (t *journalTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	target, ok := journaled(req)
	if !ok || t.planner.Planning() {
		return t.rt.RoundTrip(req)
	}
	changes, err := t.before(req, target)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		return t.rt.RoundTrip(req) // a delete of a collection that holds nothing
	}
	undo, _ := req.Context().Value(undoKey{}).(string)
	for _, c := range changes {
		c.Undo = undo
	}
	if err := t.j.record(changes); err != nil {
		return nil, fmt.Errorf("%w: the change was not sent", err)
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		for _, c := range changes {
			t.j.result(c, &JournalResult{Error: err.Error()})
		}
		return nil, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		for _, c := range changes {
			t.j.result(c, &JournalResult{Status: resp.StatusCode, Error: "reading the answer: " + rerr.Error()})
		}
		return resp, nil
	}
	t.after(req, target, changes, resp, body)
	return resp, nil
}

// before reads what req is about to change: the object (nil if it does
// not exist), or the objects of a collection being deleted.
func (t *journalTransport) before(req *http.Request, target apiTarget) ([]*JournalChange, error) {
	now := time.Now().UTC()
	c := &JournalChange{
		Time: now, Context: t.context, Server: t.server, Method: req.Method, Path: req.URL.Path,
		Group: target.group, Version: target.version, Resource: target.resource, Subresource: target.sub,
		Namespace: target.namespace, Name: target.name,
	}
	switch {
	case req.Method == http.MethodDelete && target.name == "":
		// A delete of a collection: each object it holds that the
		// selectors match.
		q := url.Values{}
		for _, k := range []string{"labelSelector", "fieldSelector"} {
			if v := req.URL.Query().Get(k); v != "" {
				q.Set(k, v)
			}
		}
		body, status, err := t.get(req, target.collectionPath(), q)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			c.BeforeError = fmt.Sprintf("listing the collection answered %d", status)
			return []*JournalChange{c}, nil
		}
		var list struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("journal: reading the objects about to be deleted: %w", err)
		}
		var out []*JournalChange
		for _, it := range list.Items {
			cc := *c
			u := &unstructured.Unstructured{Object: it}
			cc.Name, cc.Existed, cc.Before = u.GetName(), true, it
			if cc.Namespace == "" {
				cc.Namespace = u.GetNamespace()
			}
			fillTypeFromList(it, body) // a list's items may lack their kind
			out = append(out, &cc)
		}
		return out, nil
	case req.Method == http.MethodPost && target.name == "":
		// A create: nothing of that name exists (or the server refuses).
		c.Name = createdName(req)
		return []*JournalChange{c}, nil
	}
	body, status, err := t.get(req, target.objectPath(), nil)
	if err != nil {
		return nil, err
	}
	switch status {
	case http.StatusOK:
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil {
			return nil, fmt.Errorf("journal: reading %s before changing it: %w", target.objectPath(), err)
		}
		c.Existed, c.Before = true, obj
	case http.StatusNotFound:
	default:
		c.Existed = true // not known: undo cannot restore it
		c.BeforeError = fmt.Sprintf("reading it before the change answered %d %s", status, http.StatusText(status))
	}
	return []*JournalChange{c}, nil
}

// fillTypeFromList gives an item of a list the apiVersion and kind of
// the list's items ("ConfigMapList" has "ConfigMap"s).
func fillTypeFromList(item map[string]any, listBody []byte) {
	if _, ok := item["kind"]; ok {
		return
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if json.Unmarshal(listBody, &head) == nil && strings.HasSuffix(head.Kind, "List") {
		item["apiVersion"] = head.APIVersion
		item["kind"] = strings.TrimSuffix(head.Kind, "List")
	}
}

// createdName is the metadata.name of the object a create sends, when its
// body is JSON that names one.
func createdName(req *http.Request) string {
	body := requestBody(req)
	var obj struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	return obj.Metadata.Name
}

// requestBody is what req sends, read again through GetBody (client-go's
// requests have it), or nil.
func requestBody(req *http.Request) []byte {
	if req.GetBody == nil {
		return nil
	}
	b, err := req.GetBody()
	if err != nil {
		return nil
	}
	defer b.Close()
	body, _ := io.ReadAll(b)
	return body
}

// get reads path (with query q) with req's credentials and context, as
// JSON: its body and status; an error when there was no answer.
func (t *journalTransport) get(req *http.Request, path string, q url.Values) ([]byte, int, error) {
	u := *req.URL
	u.Path, u.RawPath, u.RawQuery = path, "", q.Encode()
	g, err := http.NewRequestWithContext(context.WithValue(req.Context(), journalReadKey{}, true), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	g.Header = req.Header.Clone()
	g.Header.Del("Content-Type")
	g.Header.Set("Accept", "application/json")
	resp, err := t.rt.RoundTrip(g)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: reading %s before changing it: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("journal: reading %s before changing it: %w", path, err)
	}
	return body, resp.StatusCode, nil
}

// after records what the answer to req says it left of each change.
func (t *journalTransport) after(req *http.Request, target apiTarget, changes []*JournalChange, resp *http.Response, body []byte) {
	status := resp.StatusCode
	if status < 200 || status >= 300 {
		msg := http.StatusText(status)
		var st struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &st) == nil && st.Message != "" {
			msg = st.Message
		}
		for _, c := range changes {
			t.j.result(c, &JournalResult{Status: status, Error: msg})
		}
		return
	}
	var obj map[string]any
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(body, &obj) == nil
	if isJSON && obj["kind"] == "Status" {
		obj = nil // a delete's answer when the object is gone at once
	}
	switch {
	case req.Method == http.MethodDelete && target.name == "":
		// The answer lists what was deleted; an item still there waits
		// for its finalizers.
		left := map[string]map[string]any{}
		if items, ok := obj["items"].([]any); ok {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					u := &unstructured.Unstructured{Object: m}
					left[u.GetNamespace()+"/"+u.GetName()] = m
				}
			}
		}
		for _, c := range changes {
			r := &JournalResult{Status: status, Name: c.Name, Gone: true}
			if m := left[c.Namespace+"/"+c.Name]; m != nil && deletionPending(m) {
				r.Gone, r.After = false, m
			}
			t.j.result(c, r)
		}
		return
	case req.Method == http.MethodDelete || target.sub == "eviction":
		r := &JournalResult{Status: status, Name: target.name, Gone: true}
		if obj != nil && deletionPending(obj) {
			r.Gone, r.After = false, obj
		}
		t.j.result(changes[0], r)
		return
	}
	c := changes[0]
	r := &JournalResult{Status: status, Name: c.Name}
	if obj != nil && target.sub == "" {
		r.After = obj
	} else {
		// A subresource answers with itself (a Scale) or in protobuf:
		// read the object the change left.
		name := c.Name
		if name == "" && obj != nil {
			name = (&unstructured.Unstructured{Object: obj}).GetName()
		}
		tt := target
		tt.name = name
		if b, st, err := t.get(req, tt.objectPath(), nil); err == nil && st == http.StatusOK {
			json.Unmarshal(b, &r.After)
		}
	}
	if r.After != nil {
		r.Name = (&unstructured.Unstructured{Object: r.After}).GetName()
	}
	t.j.result(c, r)
}

// deletionPending tells whether obj, the answer to a delete, is still
// there: it has a deletionTimestamp (finalizers, a grace period).
func deletionPending(obj map[string]any) bool {
	md, _ := obj["metadata"].(map[string]any)
	_, ok := md["deletionTimestamp"]
	return ok
}

// Run is a journal file read back: the run, its changes in order (each
// with its result, once known) and the changes of other runs (or of
// itself) that it marks undone.
type Run struct {
	RunInfo
	Changes []*JournalChange
	Marks   []Undone
	File    string
}

// ReadRun reads the journal file path. A last line cut short (a run
// killed while writing it) is left out.
func ReadRun(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := &Run{File: path}
	bySeq := map[int]*JournalChange{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<30)
	n := 0
	for sc.Scan() {
		n++
		var l journalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			continue // a line cut short by a kill
		}
		switch {
		case l.Run != nil:
			r.RunInfo = *l.Run
		case l.Change != nil:
			r.Changes = append(r.Changes, l.Change)
			bySeq[l.Change.Seq] = l.Change
		case l.Result != nil:
			if c := bySeq[l.Result.Seq]; c != nil {
				c.Result = l.Result
				if c.Name == "" {
					c.Name = l.Result.Name
				}
			}
		case l.Undone != nil:
			r.Marks = append(r.Marks, *l.Undone)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.ID == "" {
		return nil, fmt.Errorf("%s: not a k8sh journal file", path)
	}
	return r, nil
}

// Made are the changes of the run that changed something (or may have:
// their outcome is unknown): not those the server refused, nor applies
// that left their object as it was.
func (r *Run) Made() []*JournalChange {
	var out []*JournalChange
	for _, c := range r.Changes {
		if c.Result.Failed() || c.Result != nil && c.Result.Status < 300 && c.Result.Status >= 200 && unchanged(c, c.Result) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// ReadRuns reads every run of the journal directory dir, oldest first.
// A missing directory holds no run.
func ReadRuns(dir string) ([]*Run, error) {
	names, err := runFiles(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []*Run
	for _, n := range names {
		r, err := ReadRun(filepath.Join(dir, n))
		if err != nil {
			continue // not ours, or unreadable: history lists the rest
		}
		runs = append(runs, r)
	}
	sort.SliceStable(runs, func(i, k int) bool { return runs[i].Time.Before(runs[k].Time) })
	return runs, nil
}

// UndoneSeqs are the changes of run id that runs mark undone.
func UndoneSeqs(runs []*Run, id string) map[int]string {
	out := map[int]string{}
	for _, r := range runs {
		for _, m := range r.Marks {
			if m.Run == id {
				for _, s := range m.Seqs {
					out[s] = r.ID
				}
			}
		}
	}
	return out
}

// FindRun picks run of runs (oldest first) that id names: its id or a
// unique prefix of it; "" is the last run.
func FindRun(runs []*Run, id string) (*Run, error) {
	if len(runs) == 0 {
		return nil, errors.New("the journal holds no run")
	}
	if id == "" {
		return runs[len(runs)-1], nil
	}
	var found []*Run
	for _, r := range runs {
		if r.ID == id {
			return r, nil
		}
		if strings.HasPrefix(r.ID, id) {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no run %q in the journal (k8sh history lists them)", id)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, r := range found {
		ids[i] = r.ID
	}
	return nil, fmt.Errorf("run %q is ambiguous: it begins %s", id, strings.Join(ids, ", "))
}
