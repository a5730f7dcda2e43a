package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/util/homedir"
	"k8s.io/kube-openapi/pkg/handler3"
)

// openAPITTL is how long the server's list of OpenAPI v3 documents, read
// from the disk cache, is trusted without asking the server: as long as
// kubectl trusts its discovery cache. It is asked again sooner when the
// discovery cache was written after it (a rediscovery found a new kind), and
// when a kind is not in the document the list points to.
const openAPITTL = 6 * time.Hour

// openAPIStore is the server's OpenAPI v3 documents (/openapi/v3 and one
// document per group-version), read through a disk cache beside the
// discovery cache: <cache-dir>/openapi/<host>/. The list (paths.json) maps
// each group-version to its URL, which carries the hash of the document's
// content (?hash=...); a document is kept under that hash, so it is never
// read again from the server until the server's hash changes. A warm
// process reads both from disk and makes no request; a cold one reads the
// list and only the documents it needs.
type openAPIStore struct {
	c   *Client
	dir string // "" when there is no cache directory

	mu       sync.Mutex
	paths    map[string]string // group-version path ("apis/apps/v1") -> server-relative URL
	fromDisk bool              // paths came from the disk cache, not from the server
	docs     map[string]*schemaDoc
}

// openAPI is this client's store of OpenAPI documents.
func (c *Client) openAPI() (*openAPIStore, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	c.openapiOnce.Do(func() {
		c.openapi = &openAPIStore{c: c, dir: c.openAPICacheDir(), docs: map[string]*schemaDoc{}}
	})
	return c.openapi, nil
}

// illegalFileChars is cli-runtime's collapse of a host into a directory
// name (computeDiscoverCacheDir).
var illegalFileChars = regexp.MustCompile(`[^(\w/.)]`)

// openAPICacheDir is <cache-dir>/openapi/<host>, beside kubectl's
// <cache-dir>/discovery/<host>.
func (c *Client) openAPICacheDir() string {
	base := ""
	if c.flags.CacheDir != nil {
		base = *c.flags.CacheDir
	}
	if base == "" {
		base = os.Getenv("KUBECACHEDIR")
	}
	if base == "" {
		if h := homedir.HomeDir(); h != "" {
			base = filepath.Join(h, ".kube", "cache")
		}
	}
	if base == "" {
		return ""
	}
	host := strings.Replace(strings.Replace(c.config.Host, "https://", "", 1), "http://", "", 1)
	return filepath.Join(base, "openapi", illegalFileChars.ReplaceAllString(host, "_"))
}

// discoveryCacheFile is the discovery cache's list of groups, whose time
// says when discovery was last read from the server.
func (s *openAPIStore) discoveryCacheFile() string {
	return filepath.Join(filepath.Dir(filepath.Dir(s.dir)), "discovery", filepath.Base(s.dir), "servergroups.json")
}

// list returns the group-version paths and their URLs: from memory, else
// from the disk cache when fresh, else from the server (refresh forces it).
func (s *openAPIStore) list(ctx context.Context, refresh bool) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paths != nil && !refresh {
		return s.paths, nil
	}
	if !refresh && s.dir != "" {
		if p, ok := s.readList(); ok {
			s.paths, s.fromDisk = p, true
			return p, nil
		}
	}
	rc, err := s.c.rawClient()
	if err != nil {
		return nil, err
	}
	body, err := doRaw(ctx, rc.Get().AbsPath("/openapi/v3").SetHeader("Accept", runtime.ContentTypeJSON))
	if err != nil {
		return nil, apiError(err, "")
	}
	var disco handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(body, &disco); err != nil {
		return nil, fmt.Errorf("decoding /openapi/v3: %w", err)
	}
	// As client-go's openapi client: URLs relative to the client's prefix.
	prefix := strings.TrimSuffix(rc.Get().AbsPath("/").URL().Path, "/")
	p := make(map[string]string, len(disco.Paths))
	for k, v := range disco.Paths {
		p[k] = strings.TrimPrefix(v.ServerRelativeURL, prefix)
	}
	s.paths, s.fromDisk = p, false
	if s.dir != "" {
		if b, err := json.Marshal(p); err == nil {
			writeFileAtomic(filepath.Join(s.dir, "paths.json"), b) // a cache that cannot be written is no error
		}
	}
	return p, nil
}

// readList reads the cached list when it is younger than openAPITTL and not
// older than the discovery cache.
func (s *openAPIStore) readList() (map[string]string, bool) {
	f := filepath.Join(s.dir, "paths.json")
	fi, err := os.Stat(f)
	if err != nil || time.Since(fi.ModTime()) > openAPITTL {
		return nil, false
	}
	if di, err := os.Stat(s.discoveryCacheFile()); err == nil && di.ModTime().After(fi.ModTime()) {
		return nil, false
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, false
	}
	var p map[string]string
	if err := json.Unmarshal(b, &p); err != nil || len(p) == 0 {
		return nil, false
	}
	return p, true
}

// stale forgets a list that came from disk, so that the next use asks the
// server; it reports whether there was one to forget.
func (s *openAPIStore) stale() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fromDisk {
		return false
	}
	s.paths, s.fromDisk = nil, false
	return true
}

// docFile is where the document at u (a URL with ?hash=) is kept.
func (s *openAPIStore) docFile(gvPath, u string) string {
	hash := ""
	if pu, err := url.Parse(u); err == nil {
		hash = pu.Query().Get("hash")
	}
	if hash == "" || s.dir == "" {
		return ""
	}
	return filepath.Join(s.dir, strings.ReplaceAll(gvPath, "/", "_")+"@"+illegalFileChars.ReplaceAllString(hash, "_")+".json")
}

// raw returns the JSON document of group-version path gvPath ("api/v1",
// "apis/apps/v1"): from disk when its hash is cached, else from the server.
func (s *openAPIStore) raw(ctx context.Context, gvPath string) ([]byte, error) {
	paths, err := s.list(ctx, false)
	if err != nil {
		return nil, err
	}
	u, ok := paths[gvPath]
	if !ok {
		return nil, errNoGroupVersion
	}
	file := s.docFile(gvPath, u)
	if file != "" {
		// Written whole (writeFileAtomic): a document read is complete.
		if b, err := os.ReadFile(file); err == nil && bytes.HasSuffix(bytes.TrimSpace(b), []byte("}")) {
			return b, nil
		}
	}
	rc, err := s.c.rawClient()
	if err != nil {
		return nil, err
	}
	loc, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document URL %q: %w", u, err)
	}
	req := rc.Get().AbsPath(loc.Path).SetHeader("Accept", runtime.ContentTypeJSON)
	for k, vs := range loc.Query() {
		for _, v := range vs {
			req.Param(k, v)
		}
	}
	b, err := doRaw(ctx, req)
	if err != nil {
		return nil, apiError(err, "")
	}
	if file != "" {
		// The documents of this group-version under other hashes are out of date.
		old, _ := filepath.Glob(filepath.Join(s.dir, strings.ReplaceAll(gvPath, "/", "_")+"@*.json"))
		for _, o := range old {
			os.Remove(o)
		}
		writeFileAtomic(file, b)
	}
	return b, nil
}

var errNoGroupVersion = fmt.Errorf("no OpenAPI document")

// doc returns the schemas of the document of gvPath, read once per
// client and decoded schema by schema as they are used (schemaDoc).
func (s *openAPIStore) doc(ctx context.Context, gvPath string) (*schemaDoc, error) {
	s.mu.Lock()
	u := s.paths[gvPath]
	d, ok := s.docs[gvPath+"?"+u]
	s.mu.Unlock()
	if ok && u != "" {
		return d, nil
	}
	b, err := s.raw(ctx, gvPath)
	if err != nil {
		return nil, err
	}
	schemas, err := componentSchemas(b)
	if err != nil {
		return nil, fmt.Errorf("decoding the OpenAPI document of %s: %w", gvPath, err)
	}
	d = &schemaDoc{raw: schemas, decoded: map[string]map[string]any{}}
	s.mu.Lock()
	s.docs[gvPath+"?"+s.paths[gvPath]] = d
	s.mu.Unlock()
	return d, nil
}

// schemaDoc is the components.schemas of one OpenAPI document, each schema
// decoded when first used: a TAB needs a few of core/v1's hundreds, and
// decoding all of its 1.6 MB costs more than the completion may take.
type schemaDoc struct {
	raw map[string]json.RawMessage

	mu      sync.Mutex
	decoded map[string]map[string]any
}

// get is the schema called name, nil when there is none.
func (d *schemaDoc) get(name string) map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.decoded[name]; ok {
		return m
	}
	var m map[string]any
	if r, ok := d.raw[name]; ok {
		json.Unmarshal(r, &m) // the document decoded as a whole before: valid
	}
	d.decoded[name] = m
	return m
}

// client is the store as client-go's openapi.Client, which kubectl's
// explain reads.
func (s *openAPIStore) client(ctx context.Context) openapi.Client { return openAPIClient{s, ctx} }

type openAPIClient struct {
	s   *openAPIStore
	ctx context.Context
}

func (c openAPIClient) Paths() (map[string]openapi.GroupVersion, error) {
	paths, err := c.s.list(c.ctx, false)
	if err != nil {
		return nil, err
	}
	out := make(map[string]openapi.GroupVersion, len(paths))
	for k, u := range paths {
		out[k] = openAPIGroupVersion{c, k, u}
	}
	return out, nil
}

type openAPIGroupVersion struct {
	c         openAPIClient
	path, url string
}

func (g openAPIGroupVersion) Schema(contentType string) ([]byte, error) {
	if contentType != runtime.ContentTypeJSON {
		return nil, fmt.Errorf("OpenAPI document of %s: content type %q: only JSON is read", g.path, contentType)
	}
	return g.c.s.raw(g.c.ctx, g.path)
}

func (g openAPIGroupVersion) ServerRelativeURL() string { return g.url }

// writeFileAtomic writes b to file through a temporary file and a rename,
// so that a reader never sees half a file; errors are ignored (a cache).
func writeFileAtomic(file string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".tmp-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), file) != nil {
		os.Remove(tmp.Name())
	}
}

// componentSchemas splits the components.schemas of an OpenAPI document
// into each schema's JSON, in one pass that only follows strings and
// brackets (encoding/json would scan the 1.6 MB of core/v1 twice and keep
// nothing of it). Each schema is decoded, and so checked, when used.
func componentSchemas(b []byte) (map[string]json.RawMessage, error) {
	top, err := jsonMembers(b)
	if err != nil {
		return nil, err
	}
	comps, err := jsonMembers(top["components"])
	if err != nil {
		return nil, fmt.Errorf("components: %w", err)
	}
	schemas, err := jsonMembers(comps["schemas"])
	if err != nil {
		return nil, fmt.Errorf("components.schemas: %w", err)
	}
	out := make(map[string]json.RawMessage, len(schemas))
	for k, v := range schemas {
		out[k] = v
	}
	return out, nil
}

// jsonMembers returns the members of the JSON object b, each value as its
// JSON text.
func jsonMembers(b []byte) (map[string][]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := map[string][]byte{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, fmt.Errorf("a key expected at offset %d", i)
		}
		end, err := skipValue(b, i)
		if err != nil {
			return nil, err
		}
		var key string
		if err := json.Unmarshal(b[i:end], &key); err != nil {
			return nil, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, fmt.Errorf("':' expected at offset %d", i)
		}
		start := skipSpace(b, i+1)
		if end, err = skipValue(b, start); err != nil {
			return nil, err
		}
		out[key] = b[start:end]
		i = skipSpace(b, end)
		if i < len(b) && b[i] == '}' {
			return out, nil
		}
		if i >= len(b) || b[i] != ',' {
			return nil, fmt.Errorf("',' expected at offset %d", i)
		}
		i = skipSpace(b, i+1)
	}
	return nil, fmt.Errorf("unexpected end of JSON")
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the offset after the JSON value that starts at i.
func skipValue(b []byte, i int) (int, error) {
	var open []byte // the brackets open, innermost last
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return 0, fmt.Errorf("unexpected end of JSON in a string")
			}
			if depth == 0 {
				return i + 1, nil
			}
		case '{', '[':
			open = append(open, b[i]+2) // '{'+2 is '}', '['+2 is ']'
			depth++
		case '}', ']':
			if depth == 0 || open[depth-1] != b[i] {
				return 0, fmt.Errorf("unbalanced %q at offset %d", b[i], i)
			}
			open, depth = open[:depth-1], depth-1
			if depth == 0 {
				return i + 1, nil
			}
		case ',', ' ', '\n', '\t', '\r':
			if depth == 0 {
				return i, nil // the end of a number, true, false or null
			}
		}
	}
	if depth != 0 {
		return 0, fmt.Errorf("unexpected end of JSON")
	}
	return i, nil
}
