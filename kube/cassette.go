package kube

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// A cassette holds the API requests of a run and their answers, recorded
// (--record) to be answered again with no cluster (--replay, k8s.replay).

// Cassette is a recorded run: the context it ran in and its requests.
type Cassette struct {
	Version   int    `json:"version"`
	Context   string `json:"context"`
	Namespace string `json:"namespace"`
	// Clock holds the times the run read (time.now()), in order, so that a
	// replay reads them again.
	Clock        []time.Time   `json:"clock,omitempty"`
	Interactions []Interaction `json:"interactions"`
}

// Clocked returns a clock that gives the cassette's times in order, then the
// real time.
func (c *Cassette) Clocked() func() (time.Time, error) {
	var mu sync.Mutex
	i := 0
	return func() (time.Time, error) {
		mu.Lock()
		defer mu.Unlock()
		if i < len(c.Clock) {
			i++
			return c.Clock[i-1], nil
		}
		return time.Now(), nil
	}
}

// Interaction is one request and its answer. Bodies are kept as text; a
// watch's answer is its events, one a line, as they came.
type Interaction struct {
	Request struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		ContentType string `json:"contentType,omitempty"`
		Body        string `json:"body,omitempty"`
	} `json:"request"`
	Response struct {
		Status      int    `json:"status"`
		ContentType string `json:"contentType,omitempty"`
		Body        string `json:"body,omitempty"`
	} `json:"response"`
}

// cassetteVersion is the format of the cassettes this k8sh writes.
const cassetteVersion = 1

// Recorder records the requests of every client made from the flags it
// was set up on (Record) until Save.
type Recorder struct {
	mu    sync.Mutex
	c     Cassette
	open  sync.WaitGroup // answers whose bodies are still being read
	cache string         // the discovery cache of its own, removed by Save
}

// Record makes every client of flags (and of the contexts made from them)
// record its requests and answers, after k8sh's retries: a cassette of the
// run. Discovery starts from a cache of its own, so that the cassette holds
// the discovery requests a replay needs. Secrets' data and tokens are
// never recorded: Authorization headers are not kept, and the values of a
// Secret's data and stringData, and a TokenRequest's token, are replaced by
// "REDACTED" (in base64 where the field is).
func Record(flags *genericclioptions.ConfigFlags) (*Recorder, error) {
	dir, err := os.MkdirTemp("", "k8sh-record-")
	if err != nil {
		return nil, err
	}
	r := &Recorder{c: Cassette{Version: cassetteVersion}, cache: dir}
	flags.CacheDir = &dir
	raw, err := flags.ToRawKubeConfigLoader().RawConfig()
	if err == nil {
		info := contextInfo(&raw, raw.CurrentContext)
		if flags.Context != nil && *flags.Context != "" {
			info = contextInfo(&raw, *flags.Context)
		}
		r.c.Context, r.c.Namespace = info.Name, info.Namespace
		if flags.Namespace != nil && *flags.Namespace != "" {
			r.c.Namespace = *flags.Namespace
		}
	}
	prev := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		if prev != nil {
			c = prev(c)
		}
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return recordingTransport{rt, r} })
		return c
	}
	return r, nil
}

// Now is the real time, kept in the cassette.
func (r *Recorder) Now() (time.Time, error) {
	t := time.Now()
	r.mu.Lock()
	r.c.Clock = append(r.c.Clock, t)
	r.mu.Unlock()
	return t, nil
}

// Save writes the cassette to path, once the answers being read are done.
func (r *Recorder) Save(path string) error {
	r.open.Wait()
	defer os.RemoveAll(r.cache)
	r.mu.Lock()
	defer r.mu.Unlock()
	out, err := yaml.Marshal(&r.c)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte("# A k8sh cassette: the API requests of a run and their answers (k8sh --record).\n"), out...), 0o644)
}

type recordingTransport struct {
	rt http.RoundTripper
	r  *Recorder
}

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if journalRead(req) {
		return t.rt.RoundTrip(req) // the journal's (journal.go): no replay sends it
	}
	var in Interaction
	in.Request.Method = req.Method
	in.Request.URL = req.URL.RequestURI()
	in.Request.ContentType = req.Header.Get("Content-Type")
	switch {
	case req.Body != nil && req.GetBody != nil:
		if b, err := req.GetBody(); err == nil {
			body, _ := io.ReadAll(b)
			b.Close()
			in.Request.Body = redact(string(body))
		}
	case req.Body != nil && req.Body != http.NoBody:
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		in.Request.Body = redact(string(body))
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	in.Response.Status = resp.StatusCode
	in.Response.ContentType = resp.Header.Get("Content-Type")
	t.r.open.Add(1)
	resp.Body = &recordedBody{ReadCloser: resp.Body, done: func(body []byte) {
		in.Response.Body = redact(string(body))
		t.r.mu.Lock()
		t.r.c.Interactions = append(t.r.c.Interactions, in)
		t.r.mu.Unlock()
		t.r.open.Done()
	}}
	return resp, nil
}

// recordedBody keeps what is read of an answer and hands it over when the
// answer is closed (once).
type recordedBody struct {
	io.ReadCloser
	buf  bytes.Buffer
	once sync.Once
	done func([]byte)
}

func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.buf.Write(p[:n])
	if err == io.EOF {
		b.finish()
	}
	return n, err
}

func (b *recordedBody) Close() error {
	err := b.ReadCloser.Close()
	b.finish()
	return err
}

func (b *recordedBody) finish() { b.once.Do(func() { b.done(b.buf.Bytes()) }) }

// redactedValue replaces a secret value; "UkVEQUNURUQ=" is base64("REDACTED").
const (
	redactedValue  = "REDACTED"
	redactedBase64 = "UkVEQUNURUQ="
)

// redact replaces the secrets of a JSON body (an object, a list, or watch
// events one a line): the values of a Secret's data and stringData, and a
// TokenRequest's token. Text that is not JSON is kept as it is.
func redact(body string) string {
	if !strings.Contains(body, `"Secret`) && !strings.Contains(body, `"token"`) {
		return body
	}
	var v any
	if json.Unmarshal([]byte(body), &v) == nil {
		b, _ := json.Marshal(redactValue(v))
		return string(b)
	}
	// Watch events, one a line.
	lines := strings.Split(body, "\n")
	for i, line := range lines {
		var v any
		if json.Unmarshal([]byte(line), &v) == nil {
			b, _ := json.Marshal(redactValue(v))
			lines[i] = string(b)
		}
	}
	return strings.Join(lines, "\n")
}

// redactValue redacts, wherever they are in v (an object, a list's items,
// a Table's rows, a watch event), the Secrets and TokenRequests it holds.
func redactValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		switch v["kind"] {
		case "Secret":
			redactSecret(v)
		case "SecretList":
			if items, ok := v["items"].([]any); ok {
				for _, it := range items {
					if m, ok := it.(map[string]any); ok {
						redactSecret(m) // items of a list have no kind of their own
					}
				}
			}
		case "TokenRequest":
			if st, ok := v["status"].(map[string]any); ok && st["token"] != nil {
				st["token"] = redactedValue
			}
		}
		for _, x := range v {
			redactValue(x)
		}
	case []any:
		for _, x := range v {
			redactValue(x)
		}
	}
	return v
}

func redactSecret(m map[string]any) {
	for _, f := range []string{"data", "stringData"} {
		if d, ok := m[f].(map[string]any); ok {
			for k := range d {
				if f == "data" {
					d[k] = redactedBase64
				} else {
					d[k] = redactedValue
				}
			}
		}
	}
	// kubectl's last-applied annotation holds the data too.
	if md, ok := m["metadata"].(map[string]any); ok {
		if an, ok := md["annotations"].(map[string]any); ok {
			if _, ok := an["kubectl.kubernetes.io/last-applied-configuration"]; ok {
				an["kubectl.kubernetes.io/last-applied-configuration"] = redactedValue
			}
		}
	}
}

// ParseCassette reads a cassette written by Recorder.Save; path names it
// in errors.
func ParseCassette(data []byte, path string) (*Cassette, error) {
	var c Cassette
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s: not a k8sh cassette: %v", path, err)
	}
	if c.Version != cassetteVersion {
		return nil, fmt.Errorf("%s: a cassette of version %d; this k8sh reads version %d", path, c.Version, cassetteVersion)
	}
	return &c, nil
}

// NewReplay returns a client whose requests the cassette answers, under
// the context and namespace it was recorded in: no connection is made. A
// request the cassette does not hold fails, naming it, the request the
// cassette has in its place, and how their bodies differ.
func NewReplay(c *Cassette) (*Client, *Clients, func(), error) {
	name := c.Context
	if name == "" {
		name = "replay"
	}
	flags, closeFn, err := inProcessFlags(newReplayer(c), name)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.Namespace != "" {
		ns := c.Namespace
		flags.Namespace = &ns
	}
	return NewClient(flags), NewClients(flags), closeFn, nil
}

// replayer answers requests from a cassette: each with the first
// interaction not answered yet that matches it (method, path, query and
// body, what varies between runs aside); a read may be answered again
// (discovery is read again by a new client).
type replayer struct {
	mu   sync.Mutex
	c    *Cassette
	urls []string // each interaction's URL, normalized (normalizeURL)
	used []bool
	next int // the first interaction not yet used, for messages
}

func newReplayer(c *Cassette) *replayer {
	r := &replayer{c: c, urls: make([]string, len(c.Interactions)), used: make([]bool, len(c.Interactions))}
	for i, in := range c.Interactions {
		r.urls[i] = normalizeURL(mustParse(in.Request.URL))
	}
	return r
}

func (r *replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = string(b)
	}
	url := normalizeURL(req.URL)
	r.mu.Lock()
	found := -1
	for i, in := range r.c.Interactions {
		if !r.used[i] && in.Request.Method == req.Method && r.urls[i] == url && sameBody(in.Request.Body, body) {
			found = i
			break
		}
	}
	if found < 0 && req.Method == http.MethodGet {
		for i, in := range r.c.Interactions {
			if in.Request.Method == req.Method && r.urls[i] == url {
				found = i
				break
			}
		}
	}
	if found < 0 {
		err := r.missing(req.Method, req.URL.RequestURI(), url, body)
		r.mu.Unlock()
		return nil, err
	}
	r.used[found] = true
	for r.next < len(r.used) && r.used[r.next] {
		r.next++
	}
	in := r.c.Interactions[found]
	r.mu.Unlock()
	resp := &http.Response{
		Status: http.StatusText(in.Response.Status), StatusCode: in.Response.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Request: req, ContentLength: -1,
	}
	if in.Response.ContentType != "" {
		resp.Header.Set("Content-Type", in.Response.ContentType)
	}
	if q := req.URL.Query(); q.Get("watch") == "true" || q.Get("watch") == "1" {
		// A watch's recorded events, then the stream stays open, as a live
		// one does, until the client ends it.
		pr, pw := io.Pipe()
		go func() {
			if _, err := io.WriteString(pw, in.Response.Body); err != nil {
				return
			}
			<-req.Context().Done()
			pw.CloseWithError(req.Context().Err())
		}()
		resp.Body = pr
		return resp, nil
	}
	resp.Body = io.NopCloser(strings.NewReader(in.Response.Body))
	return resp, nil
}

// missing is the error of a request the cassette does not hold.
func (r *replayer) missing(method, uri, url, body string) error {
	msg := fmt.Sprintf("replay: the cassette holds no request %s %s", method, uri)
	if r.next < len(r.c.Interactions) {
		want := r.c.Interactions[r.next].Request
		msg += fmt.Sprintf("; its next one is %s %s", want.Method, want.URL)
		if want.Method == method && r.urls[r.next] == url {
			diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
				A: difflib.SplitLines(indentJSON(want.Body)), B: difflib.SplitLines(indentJSON(body)),
				FromFile: "recorded", ToFile: "sent", Context: 2})
			msg += ", whose body differs:\n" + strings.TrimRight(diff, "\n")
		}
	} else {
		msg += "; it has no more requests"
	}
	return &replayError{msg}
}

// replayError is a request the cassette cannot answer: not retried.
type replayError struct{ msg string }

func (e *replayError) Error() string { return e.msg }

func mustParse(uri string) *url.URL {
	u, _ := url.Parse(uri)
	if u == nil {
		u = &url.URL{Path: uri}
	}
	return u
}

// varyingParams are the query parameters that differ between two runs of
// the same program: where a watch resumes and for how long it lasts.
var varyingParams = []string{"resourceVersion", "timeoutSeconds", "resourceVersionMatch"}

func normalizeURL(u *url.URL) string {
	q := u.Query()
	for _, p := range varyingParams {
		q.Del(p)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(u.Path)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + strings.Join(q[k], ","))
	}
	return b.String()
}

// timestampRE is an RFC 3339 time, as the API writes them.
var timestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// sameBody tells whether two request bodies are the same but for what
// varies between runs: metadata.resourceVersion (what a read answered) and
// times.
func sameBody(a, b string) bool {
	if a == b {
		return true
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(normalizeBody(x), normalizeBody(y))
}

func normalizeBody(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if md, ok := v["metadata"].(map[string]any); ok {
			delete(md, "resourceVersion")
		}
		for k, x := range v {
			v[k] = normalizeBody(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalizeBody(x)
		}
	case string:
		if timestampRE.MatchString(v) {
			return "<time>"
		}
	}
	return v
}

func indentJSON(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b) + "\n"
}
