package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kubectl/pkg/explain"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"
	"k8s.io/kubectl/pkg/util/openapi"
)

// ExplainOptions are kubectl explain's flags.
type ExplainOptions struct {
	Recursive bool
	MaxDepth  int // with Recursive: how deep; 0 for no limit
	// APIVersion is --api-version: the group/version whose schema to read.
	APIVersion string
	// Output is -o: "plaintext" (the default, from OpenAPI v3) or
	// "plaintext-openapiv2" (from the server's OpenAPI v2 document).
	Output string
}

// Explain returns the text kubectl explain prints for path, a kind and its
// fields as kubectl takes them ("deploy.spec.strategy",
// "deployments.apps.spec", "pods"), made by kubectl's own explain
// (k8s.io/kubectl/pkg/explain/v2) from the server's OpenAPI v3 document of
// the kind's group-version, which the disk cache keeps (openapi.go).
func (c *Client) Explain(ctx context.Context, path string, opts ExplainOptions) (string, error) {
	if err := c.init(); err != nil {
		return "", err
	}
	if err := checkExplainOptions(opts); err != nil {
		return "", err
	}
	gvr, fields, err := c.explainTarget(path, opts.APIVersion)
	if err != nil {
		return "", err
	}
	return c.explainGVR(ctx, gvr, fields, opts)
}

// ExplainField is Explain of the field at fields (a path of field names;
// "[]" for an item of a list, which explain steps through by itself) of the
// kind apiVersion and kind name: the field of an object that a script holds.
func (c *Client) ExplainField(ctx context.Context, apiVersion, kind string, fields []string, opts ExplainOptions) (string, error) {
	if err := checkExplainOptions(opts); err != nil {
		return "", err
	}
	r, err := c.ResolveGVK(apiVersion, kind)
	if err != nil {
		return "", err
	}
	var fs []string
	for _, f := range fields {
		if f != "[]" {
			fs = append(fs, f)
		}
	}
	return c.explainGVR(ctx, r.GVR, fs, opts)
}

func checkExplainOptions(opts ExplainOptions) error {
	switch opts.Output {
	case "", "plaintext", "plaintext-openapiv2":
	default:
		return fmt.Errorf("unsupported output format %q: want plaintext or plaintext-openapiv2", opts.Output)
	}
	if opts.MaxDepth < 0 {
		return fmt.Errorf("max_depth must be non-negative")
	}
	if opts.MaxDepth > 0 && !opts.Recursive {
		return fmt.Errorf("max_depth requires recursive=True")
	}
	return nil
}

// explainTarget resolves path as kubectl explain does: its first field is
// a resource; with an API version the resource as given, else the first
// resource whose group prefixes the path. A resource the cached discovery
// data does not know triggers one fresh discovery.
func (c *Client) explainTarget(path, apiVersion string) (schema.GroupVersionResource, []string, error) {
	split := func() (schema.GroupVersionResource, []string, error) {
		if apiVersion != "" {
			return explain.SplitAndParseResourceRequest(path, c.mapper)
		}
		return explain.SplitAndParseResourceRequestWithMatchingPrefix(path, c.mapper)
	}
	if strings.TrimSpace(path) == "" {
		return schema.GroupVersionResource{}, nil, fmt.Errorf("empty kind")
	}
	gvr, fields, err := split()
	if err != nil && meta.IsNoMatchError(err) {
		c.rediscover()
		gvr, fields, err = split()
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return gvr, nil, c.unknownKind(strings.SplitN(path, ".", 2)[0])
		}
		return gvr, nil, err
	}
	if gvr.Empty() {
		return gvr, nil, c.unknownKind(strings.SplitN(path, ".", 2)[0])
	}
	return gvr, fields, nil
}

func (c *Client) explainGVR(ctx context.Context, gvr schema.GroupVersionResource, fields []string, opts ExplainOptions) (string, error) {
	if opts.APIVersion != "" {
		gv, err := schema.ParseGroupVersion(opts.APIVersion)
		if err != nil {
			return "", err
		}
		gvr.Group, gvr.Version = gv.Group, gv.Version
	}
	if opts.Output == "plaintext-openapiv2" {
		return c.explainV2Document(gvr, fields, opts)
	}
	store, err := c.openAPI()
	if err != nil {
		return "", err
	}
	if _, err := store.list(ctx, false); err != nil {
		// As kubectl: a server without OpenAPI v3 is explained from v2.
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return c.explainV2Document(gvr, fields, opts)
	}
	for {
		var b strings.Builder
		err := explainv2.PrintModelDescription(fields, &b, store.client(ctx), gvr, opts.Recursive, opts.MaxDepth, "plaintext")
		if err == nil {
			return b.String(), nil
		}
		// Explain's own errors begin with kubectl's "error: ".
		err = trimErrorPrefix(err)
		// A list read from the disk cache may name a document the server
		// has replaced (a CRD changed since): ask the server, once.
		if !store.stale() {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", err
		}
	}
}

// explainV2Document is kubectl explain -o plaintext-openapiv2: kubectl's
// older explain, from the OpenAPI v2 document.
func (c *Client) explainV2Document(gvr schema.GroupVersionResource, fields []string, opts ExplainOptions) (string, error) {
	gvk, _ := c.mapper.KindFor(gvr)
	if gvk.Empty() {
		var err error
		if gvk, err = c.mapper.KindFor(gvr.GroupResource().WithVersion("")); err != nil {
			return "", err
		}
	}
	if opts.APIVersion != "" {
		gv, _ := schema.ParseGroupVersion(opts.APIVersion)
		gvk = gv.WithKind(gvk.Kind)
	}
	resources, err := openapi.NewOpenAPIParser(c.discovery).Parse()
	if err != nil {
		return "", apiError(err, "")
	}
	s := resources.LookupResource(gvk)
	if s == nil {
		return "", fmt.Errorf("couldn't find resource for %q", gvk)
	}
	var b strings.Builder
	if err := explain.PrintModelDescription(fields, &b, s, gvk, opts.Recursive, opts.MaxDepth); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Schema is one node of a kind's OpenAPI v3 schema, read from the cached
// document of its group-version: the kind itself, or a field at Path.
type Schema struct {
	APIVersion, Kind string
	// Path is the field names from the kind to this node; "[]" stands for
	// an item of a list or a value of a map.
	Path []string
	// Required says whether the object that has this field requires it.
	Required bool

	doc  *schemaDoc     // the document's components.schemas
	node map[string]any // as written at its place: a $ref, an allOf, ...
}

// gvPath is the OpenAPI v3 path of the documents of apiVersion: "api/v1",
// "apis/apps/v1".
func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// SchemaOf returns the schema of the kind named exactly by apiVersion and
// kind ("apps/v1", "Deployment"), from the cached document: no discovery.
func (c *Client) SchemaOf(ctx context.Context, apiVersion, kind string) (*Schema, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid apiVersion %q: %w", apiVersion, err)
	}
	store, err := c.openAPI()
	if err != nil {
		return nil, err
	}
	for {
		s, err := store.kindSchema(ctx, gv.WithKind(kind))
		if err == nil {
			return s, nil
		}
		if !store.stale() {
			return nil, err
		}
	}
}

// KindSchema returns the schema of a kind as a user types it ("deploy",
// "Deployment", "widgets.example.com"), resolved as kubectl resolves it;
// apiVersion, when not "", chooses the group-version as explain's
// --api-version does.
func (c *Client) KindSchema(ctx context.Context, kind, apiVersion string) (*Schema, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	gvk := r.GVK
	if apiVersion != "" {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return nil, fmt.Errorf("invalid apiVersion %q: %w", apiVersion, err)
		}
		gvk.Group, gvk.Version = gv.Group, gv.Version
	}
	return c.SchemaOf(ctx, gvk.GroupVersion().String(), gvk.Kind)
}

func (s *openAPIStore) kindSchema(ctx context.Context, gvk schema.GroupVersionKind) (*Schema, error) {
	missing := fmt.Errorf("the server has no schema for kind %q in %s", gvk.Kind, gvk.GroupVersion())
	d, err := s.doc(ctx, gvPath(gvk.GroupVersion()))
	if errors.Is(err, errNoGroupVersion) {
		return nil, missing
	}
	if err != nil {
		return nil, err
	}
	// Only the schemas that name the kind are decoded to look.
	quoted := []byte(strconv.Quote(gvk.Kind))
	for name, raw := range d.raw {
		if !bytes.Contains(raw, quoted) {
			continue
		}
		m := d.get(name)
		gvks, _ := m["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			g, _ := g.(map[string]any)
			if g["group"] == gvk.Group && g["version"] == gvk.Version && g["kind"] == gvk.Kind {
				return &Schema{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, doc: d, node: m}, nil
			}
		}
	}
	return nil, missing
}

// resolve follows a node's $ref, and an allOf of one element without
// properties of its own, as kubectl's explain does.
func (s *Schema) resolve(n map[string]any) map[string]any {
	for i := 0; i < 32 && n != nil; i++ {
		if ref, ok := n["$ref"].(string); ok {
			n = s.doc.get(strings.TrimPrefix(ref, "#/components/schemas/"))
			continue
		}
		if all, ok := n["allOf"].([]any); ok && len(all) == 1 && n["properties"] == nil {
			n, _ = all[0].(map[string]any)
			continue
		}
		break
	}
	return n
}

func (s *Schema) resolved() map[string]any { return s.resolve(s.node) }

// Type is the field's type as kubectl explain names it: "Object",
// "string", "integer", "[]Container", "map[string]string", "ObjectMeta",
// "IntOrString"...
func (s *Schema) Type() string { return s.typeName(s.node, 0) }

func (s *Schema) typeName(n map[string]any, depth int) string {
	if n == nil || depth > 32 {
		return "Object"
	}
	if items, ok := n["items"].(map[string]any); ok {
		return "[]" + s.typeName(items, depth+1)
	}
	if ap, ok := n["additionalProperties"].(map[string]any); ok {
		return "map[string]" + s.typeName(ap, depth+1)
	}
	if all, ok := n["allOf"].([]any); ok && len(all) == 1 && n["properties"] == nil {
		a, _ := all[0].(map[string]any)
		return s.typeName(a, depth+1)
	}
	if ref, ok := n["$ref"].(string); ok {
		rs := s.resolve(n)
		t, _ := rs["type"].(string)
		if rs == nil || t == "" || t == "object" {
			name := ref[strings.LastIndex(ref, "/")+1:]
			if name = name[strings.LastIndex(name, ".")+1:]; name != "" {
				return name
			}
			return "Object"
		}
		return t
	}
	t, _ := n["type"].(string)
	if t == "" || t == "object" {
		return "Object"
	}
	return t
}

// Description is the field's documentation: its own, else its type's.
func (s *Schema) Description() string {
	if d, ok := s.node["description"].(string); ok && d != "" {
		return d
	}
	d, _ := s.resolved()["description"].(string)
	return d
}

// Enum lists the values the field may take, when the schema says.
func (s *Schema) Enum() []any {
	if e, ok := s.node["enum"].([]any); ok {
		return e
	}
	e, _ := s.resolved()["enum"].([]any)
	return e
}

// Default is the field's default value, nil when it has none.
func (s *Schema) Default() any {
	if d, ok := s.node["default"]; ok {
		return d
	}
	return s.resolved()["default"]
}

// Fields lists the names of the node's fields, sorted; none for a scalar,
// a list or a map (see Items).
func (s *Schema) Fields() []string {
	props, _ := s.resolved()["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// RequiredFields lists the fields the node requires.
func (s *Schema) RequiredFields() []string {
	req, _ := s.resolved()["required"].([]any)
	out := make([]string, 0, len(req))
	for _, r := range req {
		if r, ok := r.(string); ok {
			out = append(out, r)
		}
	}
	return out
}

// Field is the schema of field name, nil when the node has no such field.
func (s *Schema) Field(name string) *Schema {
	r := s.resolved()
	props, _ := r["properties"].(map[string]any)
	n, ok := props[name].(map[string]any)
	if !ok {
		return nil
	}
	req := false
	if rs, ok := r["required"].([]any); ok {
		for _, x := range rs {
			req = req || x == name
		}
	}
	return &Schema{APIVersion: s.APIVersion, Kind: s.Kind, Path: appendPath(s.Path, name), Required: req, doc: s.doc, node: n}
}

// Items is the schema of an item of a list or a value of a map, nil for
// anything else.
func (s *Schema) Items() *Schema {
	r := s.resolved()
	n, ok := r["items"].(map[string]any)
	if !ok {
		n, ok = r["additionalProperties"].(map[string]any)
	}
	if !ok {
		return nil
	}
	return &Schema{APIVersion: s.APIVersion, Kind: s.Kind, Path: appendPath(s.Path, "[]"), doc: s.doc, node: n}
}

// Lookup follows path from this node: field names, and "[]" for an item;
// a field name on a list is looked up in its items, as explain does. It is
// nil when the schema has no such path.
func (s *Schema) Lookup(path []string) *Schema {
	cur := s
	for _, p := range path {
		if cur == nil {
			return nil
		}
		if p == "[]" {
			cur = cur.Items()
			continue
		}
		next := cur.Field(p)
		for it := cur.Items(); next == nil && it != nil; it = it.Items() {
			next = it.Field(p)
		}
		cur = next
	}
	return cur
}

func appendPath(p []string, name string) []string {
	out := make([]string, len(p), len(p)+1)
	copy(out, p)
	return append(out, name)
}

// trimErrorPrefix takes the "error: " kubectl's explain templates begin
// their messages with off err: the builtin's name takes its place.
func trimErrorPrefix(err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "error: "); ok {
		return errors.New(msg)
	}
	return err
}
