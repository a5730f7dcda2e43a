package kube

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// RawObject is one object of a list as the server sent it: its JSON,
// checked whole when the page was read and split into its top-level
// fields, each decoded only when it is asked for. So a list of 10,000
// objects costs about its bytes until its objects are looked at, and a
// filter on labels decodes each object's metadata, never its data or spec.
//
// A field decodes to exactly what decoding the whole object would give
// (sigs.k8s.io/json, case-sensitive, integers as int64): the same decoder
// on the same bytes. The page's check refuses what that decoder would
// refuse (bad syntax, nesting deeper than 10,000, a number out of range),
// so that a field read later never fails.
type RawObject struct {
	data   []byte // the object's JSON, shared with its page
	fields []rawField
	// kind and apiVersion are the list's, for an item that has none of
	// its own (as client-go's list decoder gives them), when listed.
	kind, apiVersion string
	listed           bool
}

type rawField struct {
	key        string
	start, end int32 // of the value in data
}

// Keys are the object's top-level field names, in the order they came.
func (r *RawObject) Keys() []string {
	ks := make([]string, 0, len(r.fields)+2)
	for _, f := range r.fields {
		ks = append(ks, f.key)
	}
	if r.listed && r.find("kind") < 0 {
		ks = append(ks, "kind")
	}
	if r.listed && r.find("apiVersion") < 0 {
		ks = append(ks, "apiVersion")
	}
	return ks
}

// Len is how many top-level fields the object has.
func (r *RawObject) Len() int {
	n := len(r.fields)
	if r.listed && r.find("kind") < 0 {
		n++
	}
	if r.listed && r.find("apiVersion") < 0 {
		n++
	}
	return n
}

func (r *RawObject) find(k string) int {
	for i := range r.fields {
		if r.fields[i].key == k {
			return i
		}
	}
	return -1
}

// Has tells whether the object has field k.
func (r *RawObject) Has(k string) bool {
	if r.find(k) >= 0 {
		return true
	}
	return r.listed && (k == "kind" || k == "apiVersion")
}

// IsMap tells whether field k holds a JSON object, without decoding it.
func (r *RawObject) IsMap(k string) bool {
	if i := r.find(k); i >= 0 {
		return r.data[r.fields[i].start] == '{'
	}
	return false
}

// Field decodes field k; ok is false when the object has none.
func (r *RawObject) Field(k string) (v any, ok bool) {
	i := r.find(k)
	if i < 0 {
		switch {
		case k == "kind" && r.listed:
			return r.kind, true
		case k == "apiVersion" && r.listed:
			return r.apiVersion, true
		}
		return nil, false
	}
	f := r.fields[i]
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(r.data[f.start:f.end], &v); err != nil {
		// The page's check refused every input that fails here.
		panic(fmt.Sprintf("kube: decoding field %q of a checked object: %v", k, err))
	}
	return v, true
}

// FieldInto decodes field k into v (a pointer, as json.Unmarshal takes),
// with the decoder Field uses: a struct of the few subfields one needs
// (metadata's namespace and labels) costs a scan of the field's bytes,
// not the maps of all of it. It returns false when the object has no
// field k (or only the list's kind or apiVersion), or when it does not
// decode into v.
func (r *RawObject) FieldInto(k string, v any) bool {
	i := r.find(k)
	if i < 0 {
		return false
	}
	f := r.fields[i]
	return sigsjson.UnmarshalCaseSensitivePreserveInts(r.data[f.start:f.end], v) == nil
}

// Map decodes the whole object.
func (r *RawObject) Map() map[string]any {
	var m map[string]any
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(r.data, &m); err != nil {
		panic(fmt.Sprintf("kube: decoding a checked object: %v", err))
	}
	if _, ok := m["kind"]; !ok && r.listed {
		m["kind"] = r.kind
	}
	if _, ok := m["apiVersion"]; !ok && r.listed {
		m["apiVersion"] = r.apiVersion
	}
	return m
}

// JSON is the object's JSON as the server sent it (without the list's
// kind and apiVersion that Map adds). It shares its bytes with the page:
// do not change them.
func (r *RawObject) JSON() []byte { return r.data }

// NewRawObject checks data, one JSON object, and splits it into fields.
func NewRawObject(data []byte) (*RawObject, error) {
	s := &jsonScanner{data: data}
	s.ws()
	o := s.object()
	s.ws()
	if s.err == nil && s.pos < len(data) {
		s.fail("invalid character %q after top-level value", data[s.pos])
	}
	if s.err != nil {
		return nil, s.err
	}
	return o, nil
}

// rawPage is a list, or a Table with each row's object, as the server sent
// it: checked whole, its items split but not decoded.
type rawPage struct {
	APIVersion, Kind  string
	Metadata          map[string]any
	Items             []*RawObject
	ColumnDefinitions []metav1.TableColumnDefinition
	Rows              []rawRow
	hasItems, hasRows bool
}

type rawRow struct {
	Cells  []any
	Object *RawObject
}

// parsePage checks data, one JSON object, and splits a list's items or a
// Table's rows out of it. Fields it does not know are checked and skipped.
// A field given twice counts once, the last time, as when decoding.
func parsePage(data []byte) (*rawPage, error) {
	s := &jsonScanner{data: data}
	p := &rawPage{}
	s.ws()
	s.members(func(key string) bool {
		start := s.pos
		switch key {
		case "kind", "apiVersion":
			s.value()
			var str string
			s.decode(start, &str)
			if key == "kind" {
				p.Kind = str
			} else {
				p.APIVersion = str
			}
		case "metadata":
			s.value()
			p.Metadata = nil
			s.decode(start, &p.Metadata)
		case "columnDefinitions":
			s.value()
			p.ColumnDefinitions = nil
			if s.err == nil {
				if p.ColumnDefinitions, s.err = tableColumns(s.data[start:s.pos]); s.err != nil {
					s.pos = len(s.data)
				}
			}
		case "items":
			p.Items, p.hasItems = s.objects(), true
		case "rows":
			p.Rows, p.hasRows = s.rows(), true
		default:
			s.value()
		}
		return true
	})
	s.ws()
	if s.err == nil && s.pos < len(data) {
		s.fail("invalid character %q after top-level value", data[s.pos])
	}
	if s.err != nil {
		return nil, s.err
	}
	return p, nil
}

// columnCache holds the column definitions of the tables read, decoded,
// by their JSON: every page of a kind (and every context's, in a fan-out)
// sends the same ones, whose descriptions are long.
var columnCache struct {
	sync.Mutex
	m map[string][]metav1.TableColumnDefinition
}

// tableColumns decodes the columnDefinitions of a table (checked JSON),
// once for each text: a copy of the slice decoded before.
func tableColumns(raw []byte) ([]metav1.TableColumnDefinition, error) {
	columnCache.Lock()
	cols, ok := columnCache.m[string(raw)]
	columnCache.Unlock()
	if ok {
		return slices.Clone(cols), nil
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &cols); err != nil {
		return nil, err
	}
	columnCache.Lock()
	if len(columnCache.m) >= 256 { // kinds seen: start again
		columnCache.m = nil
	}
	if columnCache.m == nil {
		columnCache.m = map[string][]metav1.TableColumnDefinition{}
	}
	columnCache.m[string(raw)] = slices.Clone(cols)
	columnCache.Unlock()
	return cols, nil
}

// jsonScanner checks JSON as encoding/json's scanner does, and splits it.
type jsonScanner struct {
	data  []byte
	pos   int
	depth int
	err   error
}

// maxDepth is encoding/json's limit of nesting.
const maxDepth = 10000

func (s *jsonScanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("invalid JSON at offset %d: %s", s.pos, fmt.Sprintf(format, args...))
	}
	s.pos = len(s.data)
}

func (s *jsonScanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) expect(c byte) bool {
	if s.err != nil {
		return false
	}
	if s.pos >= len(s.data) {
		s.fail("unexpected end of JSON input")
		return false
	}
	if s.data[s.pos] != c {
		s.fail("invalid character %q, want %q", s.data[s.pos], c)
		return false
	}
	s.pos++
	return true
}

// more reads the "," or the closing byte after a member or element (after
// white space), and tells whether another one follows.
func (s *jsonScanner) more(closing byte) bool {
	if s.pos >= len(s.data) {
		s.fail("unexpected end of JSON input")
		return false
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return true
	case closing:
		s.pos++
		s.depth--
		return false
	}
	s.fail("invalid character %q after a value", s.data[s.pos])
	return false
}

// members reads an object, {"key": value, ...}: fn is called with each
// key, the scanner at its value, and reads the value (s.value(), or a
// reader of what it expects); it returns false to stop there, before the
// object's end (what follows is then not read). members tells whether the
// object was read to its end without an error.
func (s *jsonScanner) members(fn func(key string) bool) bool {
	if !s.expect('{') {
		return false
	}
	s.depth++
	s.ws()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return true
	}
	for s.err == nil {
		s.ws()
		k := s.key()
		s.ws()
		if !s.expect(':') {
			break
		}
		s.ws()
		if !fn(k) {
			return false
		}
		s.ws()
		if s.err != nil || !s.more('}') {
			break
		}
	}
	return s.err == nil
}

// decode decodes the value checked from start to the scanner's position.
func (s *jsonScanner) decode(start int, v any) {
	if s.err != nil {
		return
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(s.data[start:s.pos], v); err != nil {
		s.err = err
		s.pos = len(s.data)
	}
}

// value checks one value of any kind.
func (s *jsonScanner) value() {
	if s.err != nil {
		return
	}
	if s.pos >= len(s.data) {
		s.fail("unexpected end of JSON input")
		return
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		s.pos++
		if s.depth++; s.depth > maxDepth {
			s.fail("exceeded max depth")
			return
		}
		s.ws()
		if s.peek() == '}' {
			s.pos++
			s.depth--
			return
		}
		for s.err == nil {
			s.ws()
			s.str()
			s.ws()
			if !s.expect(':') {
				return
			}
			s.ws()
			s.value()
			s.ws()
			if s.err != nil || !s.more('}') {
				return
			}
		}
	case c == '[':
		s.pos++
		if s.depth++; s.depth > maxDepth {
			s.fail("exceeded max depth")
			return
		}
		s.ws()
		if s.peek() == ']' {
			s.pos++
			s.depth--
			return
		}
		for s.err == nil {
			s.ws()
			s.value()
			s.ws()
			if s.err != nil || !s.more(']') {
				return
			}
		}
	case c == '"':
		s.str()
	case c == '-' || c >= '0' && c <= '9':
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.fail("invalid character %q looking for beginning of value", c)
	}
}

func (s *jsonScanner) literal(lit string) {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		s.fail("invalid literal, want %s", lit)
		return
	}
	s.pos += len(lit)
}

// str checks a string and tells whether it holds an escape.
func (s *jsonScanner) str() (escaped bool) {
	if !s.expect('"') {
		return false
	}
	d := s.data
	for i := s.pos; i < len(d); i++ {
		for i < len(d) && !strSpecial[d[i]] { // the plain bytes, fast
			i++
		}
		if i >= len(d) {
			break
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return escaped
		case c == '\\':
			escaped = true
			i++
			if i >= len(d) {
				break
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) {
					s.pos = len(d)
					s.fail("unexpected end of JSON input")
					return
				}
				for _, h := range d[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						s.pos = i
						s.fail("invalid character %q in \\u hexadecimal character escape", h)
						return
					}
				}
				i += 4
			default:
				s.pos = i
				s.fail("invalid character %q in string escape code", d[i])
				return
			}
		case c < 0x20:
			s.pos = i
			s.fail("invalid character %q in string literal", c)
			return
		}
	}
	s.pos = len(d)
	s.fail("unexpected end of JSON input")
	return
}

// unquoteSimple decodes the inside of a checked JSON string with escapes
// as encoding/json decodes it, when it is valid UTF-8 and escapes no
// surrogate (the decoder pairs those, or makes a lone one U+FFFD): the
// servers' "\u003cnone\u003e" of a table's cells, which encoding/json
// writes for "<none>". ok is false for any other string.
func unquoteSimple(in []byte) (string, bool) {
	if !utf8.Valid(in) {
		return "", false
	}
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++ // the checked string has a byte after each backslash
		switch in[i] {
		case '"', '\\', '/':
			out = append(out, in[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			var r rune
			for _, h := range in[i+1 : i+5] { // hex digits, checked
				switch {
				case h <= '9':
					r = r<<4 | rune(h-'0')
				case h >= 'a':
					r = r<<4 | rune(h-'a'+10)
				default:
					r = r<<4 | rune(h-'A'+10)
				}
			}
			if utf16.IsSurrogate(r) {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default:
			return "", false
		}
	}
	return string(out), true
}

// strSpecial are the bytes that end a string's run of plain bytes: its
// closing quote, an escape, a control byte (an error).
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// number checks a number, and that it decodes: an integer of int64 or a
// float64 in range, as sigs.k8s.io/json's PreserveInts decodes it.
func (s *jsonScanner) number() {
	d := s.data
	start, i := s.pos, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		digits()
	default:
		s.pos = i
		s.fail("invalid number")
		return
	}
	plain := i-start <= 18 // fits an int64, whatever its digits
	if i < len(d) && d[i] == '.' {
		i++
		plain = false
		if digits() == 0 {
			s.pos = i
			s.fail("invalid number: no digits after the decimal point")
			return
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		plain = false
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.pos = i
			s.fail("invalid number: no digits in the exponent")
			return
		}
	}
	s.pos = i
	if plain {
		return
	}
	if _, err := strconv.ParseInt(string(d[start:i]), 10, 64); err == nil {
		return
	}
	if _, err := strconv.ParseFloat(string(d[start:i]), 64); err != nil {
		s.pos = start
		s.fail("number %s: %v", d[start:i], errors.Unwrap(err))
	}
}

// key reads an object's key.
func (s *jsonScanner) key() string {
	start := s.pos
	escaped := s.str()
	if s.err != nil {
		return ""
	}
	raw := s.data[start+1 : s.pos-1]
	if !escaped && utf8.Valid(raw) {
		if k, ok := commonKeys[string(raw)]; ok {
			return k
		}
		return string(raw)
	}
	var k string
	s.decode(start, &k)
	return k
}

// commonKeys are the top-level fields of most objects, kept once rather
// than once an object.
var commonKeys = map[string]string{}

func init() {
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "status", "data", "binaryData",
		"stringData", "type", "immutable", "cells", "object", "conditions", "secrets", "subsets",
		"rules", "roleRef", "subjects", "webhooks", "items"} {
		commonKeys[k] = k
	}
}

// object checks an object and splits it into its fields.
func (s *jsonScanner) object() *RawObject {
	start := s.pos
	o := &RawObject{fields: make([]rawField, 0, 6)} // 6: a pod's 5 fit
	s.members(func(k string) bool {
		vs := s.pos
		s.value()
		f := rawField{key: k, start: int32(vs - start), end: int32(s.pos - start)}
		if i := o.find(k); i >= 0 {
			o.fields[i] = f // the last one counts, as when decoding
		} else {
			o.fields = append(o.fields, f)
		}
		return true
	})
	if s.err != nil {
		return nil
	}
	o.data = s.data[start:s.pos:s.pos]
	return o
}

// objects checks an array of objects and splits each; null is no array.
func (s *jsonScanner) objects() []*RawObject {
	if s.peek() == 'n' {
		s.literal("null")
		return nil
	}
	if !s.expect('[') {
		return nil
	}
	s.depth++
	s.ws()
	out := []*RawObject{}
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return out
	}
	for s.err == nil {
		s.ws()
		if s.peek() != '{' {
			s.fail("an item of a list is not an object")
			return nil
		}
		out = append(out, s.object())
		s.ws()
		if s.err != nil || !s.more(']') {
			break
		}
	}
	return out
}

// rows checks a Table's rows and splits each row's cells and object.
func (s *jsonScanner) rows() []rawRow {
	if s.peek() == 'n' {
		s.literal("null")
		return nil
	}
	if !s.expect('[') {
		return nil
	}
	s.depth++
	s.ws()
	out := []rawRow{}
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return out
	}
	for s.err == nil {
		s.ws()
		var row rawRow
		if !s.members(func(k string) bool {
			switch k {
			case "cells":
				row.Cells = s.cells()
			case "object":
				if s.peek() == 'n' {
					s.literal("null")
					row.Object = nil
				} else {
					row.Object = s.object()
				}
			default:
				s.value()
			}
			return true
		}) {
			return nil
		}
		out = append(out, row)
		s.ws()
		if s.err != nil || !s.more(']') {
			break
		}
	}
	return out
}

// cells checks and decodes a row's cells: plain strings and integers here,
// anything else through the decoder.
func (s *jsonScanner) cells() []any {
	if s.peek() == 'n' {
		s.literal("null")
		return nil
	}
	start := s.pos
	if !s.expect('[') {
		return nil
	}
	s.depth++
	out := make([]any, 0, 8)
	s.ws()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return out
	}
	for s.err == nil {
		s.ws()
		vs := s.pos
		s.value()
		if s.err != nil {
			return nil
		}
		out = append(out, s.scalar(vs))
		s.ws()
		if s.err != nil || !s.more(']') {
			break
		}
	}
	if s.err != nil {
		return nil
	}
	_ = start
	return out
}

// scalar decodes the value checked from start to the scanner's position.
func (s *jsonScanner) scalar(start int) any {
	raw := s.data[start:s.pos]
	switch c := raw[0]; {
	case c == '"':
		in := raw[1 : len(raw)-1]
		plain := utf8.Valid(in)
		for _, b := range in {
			if b == '\\' {
				plain = false
				break
			}
		}
		if plain {
			return string(in)
		}
		if str, ok := unquoteSimple(in); ok {
			return str
		}
	case c == '-' || c >= '0' && c <= '9':
		if i, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			return i
		}
	case c == 't':
		return true
	case c == 'f':
		return false
	case c == 'n':
		return nil
	}
	var v any
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, &v); err != nil {
		s.err = err
		s.pos = len(s.data)
	}
	return v
}
