package repl

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
)

// Source is what completion knows of the world outside Starlark; the REPL's
// caller provides it (the cluster, the kubeconfig, the builtins' docs).
type Source interface {
	// Kinds lists every name a kind can be given: "pods", "po", "Pod", ...
	Kinds() []string
	// Names lists the objects of kind in namespace ("" for the session's).
	Names(kind, namespace string) []string
	Namespaces() []string
	Contexts() []string
	// Params lists the keyword parameters of the builtin called fn.
	Params(fn string) []string
}

// FieldSource is a Source that knows the schemas of kinds, for the
// completion of fields. apiVersion and kind name a kind exactly
// ("apps/v1", "Deployment"), or apiVersion is "" and kind is what a user
// types ("deploy"); path is the field names below the kind, "[]" for an
// item of a list or a value of a map. It returns every field the schema
// allows there, each with its type as kubectl explain names it.
type FieldSource interface {
	Fields(apiVersion, kind string, path []string) (names, types []string)
}

// EnumSource is a FieldSource that also knows the values a string field
// may take (its schema's enum), for the completion of dict values.
type EnumSource interface {
	Enum(apiVersion, kind string, path []string) []string
}

// schemaPather is a value that knows where its schema is: the object it is
// part of and the fields it was reached by (builtins' k8s.object).
type schemaPather interface {
	SchemaPath() (apiVersion, kind string, path []string)
}

// Completer completes what the user types: names, module members,
// attributes of bound values, keyword arguments, and inside the string
// arguments of the k8s builtins, kinds, object names, namespaces and
// contexts. It evaluates only name, attribute and index chains, never a
// call, so pressing TAB has no side effect.
type Completer struct {
	Globals starlark.StringDict
	Source  Source
	// Turn, if set, is taken while completion reads values, which
	// background work may be changing; when it is not free within
	// turnWait, values are not completed.
	Turn Turn

	mu      sync.Mutex
	pending string            // the statement's lines before the one typed
	hints   map[string]string // the last candidates shown with their types
}

// SetPending gives completion the lines of the statement typed before the
// current one (a dict literal over several lines), "" for none.
func (c *Completer) SetPending(text string) {
	c.mu.Lock()
	c.pending = text
	c.mu.Unlock()
}

// turnWait is how long completion waits for the turn (Completer.Turn).
const turnWait = 100 * time.Millisecond

var (
	kindFuncs = map[string]bool{
		"k8s.get": true, "k8s.list": true, "k8s.iter": true, "k8s.exists": true,
		"k8s.events": true, "k8s.watch": true, "k8s.wait": true, "k8s.delete": true,
		"k8s.scale": true, "k8s.restart": true, "k8s.patch": true,
		"k8s.label": true, "k8s.annotate": true, "k8s.set_image": true, "k8s.set_env": true,
		"k8s.set_resources": true, "k8s.expose": true,
		"k8s.rollout.status": true, "k8s.rollout.history": true, "k8s.rollout.undo": true,
		"k8s.rollout.pause": true, "k8s.rollout.resume": true, "k8s.rollout.restart": true,
	}
	reKindArg   = lazyRE(`(k8s\.[\w.]+)\(\s*$`)
	reNameArg   = lazyRE(`(k8s\.[\w.]+)\(\s*["']([^"']+)["']\s*,\s*$`)
	reNodeArg   = lazyRE(`k8s\.(drain|cordon|uncordon)\(\s*$`)
	reLogsArg   = lazyRE(`k8s\.(?:logs|exec|shell|attach|read_file|write_file)\(\s*$`)
	reNSArg     = lazyRE(`(\bnamespace\s*=|\bctx\.namespace\()\s*$`)
	reCtxArg    = lazyRE(`(\bcontext\s*=|\bctx\.use\(|(\bcontexts\s*=|\bctx\.each\()\s*\[?(\s*["'][^"']*["']\s*,)*)\s*$`)
	reNSValue   = lazyRE(`\bnamespace\s*=\s*["']([^"']*)["']`)
	reNameKw    = lazyRE(`\bname\s*=\s*$`)
	reKindCall  = lazyRE(`(k8s\.[\w.]+)\(\s*["']([^"']+)["']`)
	reChain     = lazyRE(`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]]*\])*)\.(\w*)$`)
	reIdent     = lazyRE(`[A-Za-z_]\w*$`)
	reCallee    = lazyRE(`([A-Za-z_][\w.]*)\s*$`)
	reChainPart = lazyRE(`^(?:\.([A-Za-z_]\w*)|\[([^\[\]]*)\])`)
	// reCallChain is a chain on the value of a call that names a kind:
	// k8s.get("deploy", "web").spec.template.spec.<TAB>.
	reCallChain = lazyRE(`(k8s\.\w+)\(\s*["']([^"']+)["']([^()]*)\)((?:\.[A-Za-z_]\w*|\[[^\[\]]*\])*)\.(\w*)$`)
	// reNamedArgs is the rest of a k8s.get call that names an object.
	reNamedArgs = lazyRE(`^\s*,\s*["']|\bname\s*=`)
)

// Complete returns the candidates for the text before the cursor, each a
// whole word, and how many characters of before they replace.
func (c *Completer) Complete(before string) ([]string, int) {
	cands, _, n := c.complete(before)
	return cands, n
}

// complete is Complete with the types of the candidates that are fields of
// a schema.
func (c *Completer) complete(before string) ([]string, map[string]string, int) {
	if cands, types, n, ok := c.dictKeys(before); ok {
		return cands, types, n
	}
	if start, quote, ok := openString(before); ok {
		prefix := before[start+1:]
		return withSuffix(filter(c.stringCandidates(before[:start]), prefix), string(quote)), nil, len(prefix)
	}
	if m := reCallChain.FindStringSubmatch(before); m != nil && (m[1] == "k8s.get" || m[1] == "k8s.list") {
		kind, args, path := m[2], m[3], chainPath(m[4])
		named := strings.Contains(kind, "/") || reNamedArgs.MatchString(args)
		if i := strings.Index(kind, "/"); i >= 0 {
			kind = kind[:i] // "deploy/web"
		}
		if m[1] == "k8s.list" || !named {
			// A list: its items are objects of the kind.
			if len(path) == 0 || path[0] != "[]" {
				return nil, nil, 0
			}
			path = path[1:]
		}
		if len(path) > 0 && path[0] == "[]" {
			return nil, nil, 0
		}
		names, types := c.fields("", kind, path)
		return filterTyped(names, types, m[5])
	}
	if m := reChain.FindStringSubmatch(before); m != nil {
		if c.Turn != nil {
			if !c.Turn.TryLock(turnWait) {
				return nil, nil, 0
			}
		}
		v, rest, ok := c.evalPartial(m[1])
		var names []string
		var apiVersion, kind string
		var path []string
		if ok {
			if ha, isHA := v.(starlark.HasAttrs); isHA && len(rest) == 0 {
				names = ha.AttrNames()
			}
			if sp, isSP := v.(schemaPather); isSP {
				apiVersion, kind, path = sp.SchemaPath()
			}
		}
		if c.Turn != nil {
			c.Turn.Unlock()
		}
		if !ok {
			return nil, nil, 0
		}
		var types []string
		if kind != "" && apiVersion != "" {
			fn, ft := c.fields(apiVersion, kind, append(path, rest...))
			names, types = append(names, fn...), append(make([]string, len(names)), ft...)
		}
		if types == nil && len(rest) > 0 {
			return nil, nil, 0
		}
		return filterTyped(names, types, m[2])
	}
	prefix := reIdent.FindString(before)
	var cands []string
	if fn, ok := callee(before[:len(before)-len(prefix)]); ok && c.Source != nil {
		for _, p := range c.Source.Params(fn) {
			cands = append(cands, p+"=")
		}
	}
	cands = append(cands, c.names()...)
	return filter(cands, prefix), nil, len(prefix)
}

// fields asks the source for the fields of a schema, when it knows schemas.
func (c *Completer) fields(apiVersion, kind string, path []string) ([]string, []string) {
	fs, ok := c.Source.(FieldSource)
	if !ok || kind == "" {
		return nil, nil
	}
	return fs.Fields(apiVersion, kind, path)
}

// filterTyped filters names by prefix (keeping the first of a name given
// twice: a field set and the same field of the schema) and returns the
// types of those that have one.
func filterTyped(names, types []string, prefix string) ([]string, map[string]string, int) {
	hints := map[string]string{}
	for i, n := range names {
		if i < len(types) && types[i] != "" && strings.HasPrefix(n, prefix) {
			hints[n] = types[i]
		}
	}
	return filter(names, prefix), hints, len(prefix)
}

// chainPath turns a chain of attributes and indexes (".spec.containers[0]")
// into schema path segments ("spec", "containers", "[]").
func chainPath(chain string) []string {
	var path []string
	for chain != "" {
		m := reChainPart.FindStringSubmatch(chain)
		if m == nil {
			return path
		}
		chain = chain[len(m[0]):]
		if m[1] != "" {
			path = append(path, m[1])
		} else if s, err := strconv.Unquote(strings.TrimSpace(m[2])); err == nil {
			path = append(path, s)
		} else {
			path = append(path, "[]")
		}
	}
	return path
}

// stringCandidates is what may go in a string that starts after pre.
func (c *Completer) stringCandidates(pre string) []string {
	if c.Source == nil {
		return nil
	}
	switch {
	case reNSArg.MatchString(pre):
		return c.Source.Namespaces()
	case reCtxArg.MatchString(pre):
		return c.Source.Contexts()
	case reLogsArg.MatchString(pre):
		return c.Source.Names("pods", c.namespaceIn(pre))
	case reNodeArg.MatchString(pre):
		return c.Source.Names("nodes", "")
	}
	if m := reKindArg.FindStringSubmatch(pre); m != nil && kindFuncs[m[1]] {
		return c.Source.Kinds()
	}
	if m := reNameArg.FindStringSubmatch(pre); m != nil && kindFuncs[m[1]] {
		return c.Source.Names(m[2], c.namespaceIn(pre))
	}
	if reNameKw.MatchString(pre) {
		if ms := reKindCall.FindAllStringSubmatch(pre, -1); ms != nil {
			if m := ms[len(ms)-1]; kindFuncs[m[1]] {
				return c.Source.Names(m[2], c.namespaceIn(pre))
			}
		}
	}
	return nil
}

// namespaceIn finds a namespace="..." already typed in the call that pre
// ends inside.
func (c *Completer) namespaceIn(pre string) string {
	if i := strings.LastIndex(pre, "("); i >= 0 {
		pre = pre[i:]
	}
	if m := reNSValue.FindStringSubmatch(pre); m != nil {
		return m[1]
	}
	return ""
}

// names is every name a bare identifier can complete to.
func (c *Completer) names() []string {
	var out []string
	for n := range c.Globals {
		out = append(out, n)
	}
	for n := range starlark.Universe {
		out = append(out, n)
	}
	for _, k := range []string{"and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda", "load", "not", "or", "pass", "return", "while"} {
		out = append(out, k)
	}
	return out
}

// evalPartial evaluates a chain as far as its value exists, and returns
// the rest as schema path segments: d.spec.strategy.rollingUpdate on a
// Deployment without a rollingUpdate is d.spec.strategy and
// ["rollingUpdate"], whose fields the schema knows.
func (c *Completer) evalPartial(chain string) (starlark.Value, []string, bool) {
	if v, ok := c.eval(chain); ok {
		return v, nil, true
	}
	parts := chainParts(chain)
	for i := len(parts) - 1; i > 0; i-- {
		v, ok := c.eval(strings.Join(parts[:i], ""))
		if !ok {
			continue
		}
		if _, ok := v.(schemaPather); !ok {
			return nil, nil, false
		}
		return v, chainPath(strings.Join(parts[i:], "")), true
	}
	return nil, nil, false
}

// chainParts splits a chain into its name and each attribute or index.
func chainParts(chain string) []string {
	name := reIdent.FindString(chain[:strings.IndexAny(chain+".[", ".[")])
	parts := []string{name}
	rest := chain[len(name):]
	for rest != "" {
		m := reChainPart.FindStringSubmatch(rest)
		if m == nil {
			break
		}
		parts = append(parts, m[0])
		rest = rest[len(m[0]):]
	}
	return parts
}

// eval evaluates a chain of a name, attributes and constant indexes.
func (c *Completer) eval(chain string) (starlark.Value, bool) {
	name := reIdent.FindString(chain[:strings.IndexAny(chain+".[", ".[")])
	v, ok := c.Globals[name]
	if !ok {
		if v, ok = starlark.Universe[name]; !ok {
			return nil, false
		}
	}
	rest := chain[len(name):]
	for rest != "" {
		m := reChainPart.FindStringSubmatch(rest)
		if m == nil {
			return nil, false
		}
		rest = rest[len(m[0]):]
		var err error
		switch {
		case m[1] != "":
			ha, ok := v.(starlark.HasAttrs)
			if !ok {
				return nil, false
			}
			v, err = ha.Attr(m[1])
		default:
			v, err = index(v, strings.TrimSpace(m[2]))
		}
		if err != nil || v == nil {
			return nil, false
		}
	}
	return v, true
}

// index applies a constant index: a string or an integer literal.
func index(v starlark.Value, lit string) (starlark.Value, error) {
	if s, err := strconv.Unquote(lit); err == nil {
		if m, ok := v.(starlark.Mapping); ok {
			x, found, err := m.Get(starlark.String(s))
			if !found {
				return nil, err
			}
			return x, err
		}
		return nil, nil
	}
	i, err := strconv.Atoi(lit)
	if err != nil {
		return nil, nil
	}
	if x, ok := v.(starlark.Indexable); ok {
		if i < 0 {
			i += x.Len()
		}
		if i >= 0 && i < x.Len() {
			return x.Index(i), nil
		}
	}
	return nil, nil
}

// callee returns the function whose call the text before ends inside, if
// the cursor is where an argument starts.
func callee(before string) (string, bool) {
	trimmed := strings.TrimRight(before, " \t")
	if !strings.HasSuffix(trimmed, "(") && !strings.HasSuffix(trimmed, ",") {
		return "", false
	}
	depth := 0
	for i := len(before) - 1; i >= 0; i-- {
		switch before[i] {
		case ')', ']', '}':
			depth++
		case '[', '{':
			depth--
		case '(':
			if depth == 0 {
				m := reCallee.FindStringSubmatch(before[:i])
				if m == nil {
					return "", false
				}
				return m[1], true
			}
			depth--
		}
	}
	return "", false
}

// openString reports whether before ends inside a string literal, and where
// that string's opening quote is.
func openString(before string) (start int, quote byte, open bool) {
	for i := 0; i < len(before); i++ {
		ch := before[i]
		switch {
		case open && ch == '\\':
			i++
		case open && ch == quote:
			open = false
		case !open && (ch == '"' || ch == '\''):
			open, quote, start = true, ch, i
		case !open && ch == '#':
			return 0, 0, false
		}
	}
	return start, quote, open
}

func filter(cands []string, prefix string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, prefix) && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func withSuffix(cands []string, suffix string) []string {
	for i := range cands {
		cands[i] += suffix
	}
	return cands
}

// Do implements readline.AutoCompleter: the candidates' remainders after
// what was typed, and the length of what was typed. When several are
// listed, fields of a schema show their type ("replicas <integer>"); the
// type is taken out again if a candidate is chosen from the list
// (OnChange, StripHints).
func (c *Completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	cands, types, n := c.complete(before)
	prefixRunes := len([]rune(before[len(before)-n:]))
	hints := map[string]string{}
	out := make([][]rune, len(cands))
	for i, cand := range cands {
		if t := types[cand]; t != "" && len(cands) > 1 {
			shown := strings.TrimRight(cand, " ") + " <" + t + ">"
			hints[shown] = cand
			cand = shown
		}
		out[i] = []rune(cand)[prefixRunes:]
	}
	c.mu.Lock()
	c.hints = hints
	c.mu.Unlock()
	return out, prefixRunes
}

// StripHints takes out of line the types that Do showed beside the
// candidates, should one have been chosen with its type.
func (c *Completer) StripHints(line string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stripHints(line)
}

// LineRead is StripHints of a line the user entered; the types shown are
// forgotten.
func (c *Completer) LineRead(line string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	line = c.stripHints(line)
	c.hints = nil
	return line
}

func (c *Completer) stripHints(line string) string {
	for shown, cand := range c.hints {
		line = strings.ReplaceAll(line, shown, cand)
	}
	return line
}

// OnChange implements readline.Listener: after each key, a candidate chosen
// from the list loses the type shown beside it.
func (c *Completer) OnChange(line []rune, pos int, _ rune) ([]rune, int, bool) {
	s := string(line)
	c.mu.Lock()
	hints := len(c.hints) > 0
	c.mu.Unlock()
	if !hints {
		return nil, 0, false
	}
	before := c.StripHints(string(line[:pos]))
	after := c.StripHints(string(line[pos:]))
	if before+after == s {
		return nil, 0, false
	}
	return []rune(before + after), len([]rune(before)), true
}

// dictFuncs take an object, which may be written as a dict literal whose
// keys complete from the schema of its kind.
var dictFuncs = map[string]bool{"k8s.apply": true, "k8s.create": true, "k8s.patch": true, "k8s.new": true}

// dictFrame is one open bracket of the text being completed.
type dictFrame struct {
	open       byte   // '(', '{' or '['
	callee     string // for '(': the function called
	firstArg   string // for '(': its first argument when a string literal
	args       int    // for '(': the commas seen
	key        string // for '{' and '[': the key whose value it is ("[]" in a list)
	lastString string // the last string literal in it
	afterColon bool   // for '{': between a key's ':' and the next ','
	expectKey  bool   // for '{': right after '{' or ',': a key may start
	valueOf    string // for '{': the key whose value is being written
	valueStart bool   // for '{': right after a key's ':': a value may start
	keys       []string
	apiVersion string
	kind       string
}

// dictKeys completes a key of a dict literal passed to k8s.apply,
// k8s.create, k8s.patch or k8s.new: the fields valid at that place for the
// kind the dict names (apiVersion and kind first, before it names one; for
// k8s.patch the kind of its first argument), over the lines of the
// statement typed so far.
func (c *Completer) dictKeys(before string) ([]string, map[string]string, int, bool) {
	c.mu.Lock()
	text := c.pending + before
	c.mu.Unlock()
	stack, str, ok := scanBrackets(text)
	if !ok || len(stack) < 2 {
		return nil, nil, 0, false
	}
	top := stack[len(stack)-1]
	if top.open != '{' || !top.expectKey && (str == nil || !str.value) {
		return nil, nil, 0, false
	}
	call := -1
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].open == '(' {
			call = i
			break
		}
	}
	if call < 0 || call+1 >= len(stack) || !dictFuncs[stack[call].callee] || stack[call+1].open != '{' {
		return nil, nil, 0, false
	}
	if stack[call].callee == "k8s.patch" && stack[call].args == 0 {
		return nil, nil, 0, false
	}
	var path []string
	for _, f := range stack[call+2:] {
		path = append(path, f.key)
	}
	obj := stack[call+1]
	apiVersion, kind := obj.apiVersion, obj.kind
	if stack[call].callee == "k8s.patch" {
		apiVersion, kind = "", stack[call].firstArg
		if i := strings.Index(kind, "/"); i >= 0 {
			kind = kind[:i]
		}
	}
	if str != nil && str.value {
		// A string value: the values the schema's enum allows there.
		es, ok := c.Source.(EnumSource)
		if !ok || kind == "" {
			return nil, nil, 0, false
		}
		var cands []string
		for _, v := range es.Enum(apiVersion, kind, append(path, top.valueOf)) {
			if strings.HasPrefix(v, str.prefix) {
				cands = append(cands, v+string(str.quote))
			}
		}
		return cands, nil, len(str.prefix), true
	}
	prefix, quote := "", byte('"')
	if str != nil {
		prefix, quote = str.prefix, str.quote
	}
	var names, types []string
	if kind != "" && c.Source != nil {
		names, types = c.fields(apiVersion, kind, path)
	}
	if len(path) == 0 && stack[call].callee != "k8s.patch" {
		// apiVersion and kind first: until they are given, only they.
		var head []string
		for _, k := range []string{"apiVersion", "kind"} {
			if !slices.Contains(top.keys, k) {
				head = append(head, k)
			}
		}
		if apiVersion == "" || kind == "" {
			names, types = head, make([]string, len(head))
		}
	}
	var cands []string
	hints := map[string]string{}
	for i, n := range names {
		if slices.Contains(top.keys, n) || !strings.HasPrefix(n, prefix) {
			continue
		}
		cand := n + string(quote) + ": "
		if str == nil {
			cand = string(quote) + cand
		}
		cands = append(cands, cand)
		if i < len(types) && types[i] != "" {
			hints[cand] = types[i]
		}
	}
	if len(path) == 0 {
		// apiVersion and kind before the other fields, as a manifest has them.
		slices.SortStableFunc(cands, func(a, b string) int {
			rank := func(s string) int {
				s = strings.TrimLeft(s, `"'`)
				if strings.HasPrefix(s, "apiVersion"+string(quote)) || strings.HasPrefix(s, "kind"+string(quote)) {
					return 0
				}
				return 1
			}
			return rank(a) - rank(b)
		})
	}
	return cands, hints, len(prefix), true
}

// openStr is a string literal that the text being completed ends in.
type openStr struct {
	quote  byte
	prefix string // what of it is typed
	value  bool   // a dict value (else a dict key)
}

// scanBrackets follows the brackets, string literals and dict keys of text
// up to its end. It returns the open brackets, and the string that text
// ends inside when it is a dict key or value; ok is false when text ends
// inside another string, or in a comment.
func scanBrackets(text string) (stack []*dictFrame, str *openStr, ok bool) {
	topFrame := func() *dictFrame {
		if len(stack) == 0 {
			return &dictFrame{}
		}
		return stack[len(stack)-1]
	}
	for i := 0; i < len(text); i++ {
		ch := text[i]
		top := topFrame()
		switch ch {
		case '#':
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				return nil, nil, false
			}
			i += j
		case '"', '\'':
			keyStart := top.open == '{' && top.expectKey
			valueStart := top.open == '{' && top.valueStart
			j := i + 1
			for ; j < len(text) && text[j] != ch; j++ {
				if text[j] == '\\' {
					j++
				}
			}
			if j >= len(text) {
				if !keyStart && !valueStart {
					return nil, nil, false
				}
				return stack, &openStr{quote: ch, prefix: text[i+1:], value: valueStart}, true
			}
			s, err := strconv.Unquote(`"` + strings.ReplaceAll(text[i+1:j], `"`, `\"`) + `"`)
			if err != nil {
				s = text[i+1 : j]
			}
			i = j
			top.lastString, top.expectKey, top.valueStart = s, false, false
			switch {
			case top.open == '(' && top.args == 0 && top.firstArg == "":
				top.firstArg = s
			case top.open == '{' && top.afterColon && top.valueOf == "apiVersion":
				top.apiVersion = s
			case top.open == '{' && top.afterColon && top.valueOf == "kind":
				top.kind = s
			}
		case '(', '{', '[':
			f := &dictFrame{open: ch, expectKey: ch == '{'}
			switch {
			case ch == '(':
				if m := reCallee.FindStringSubmatch(text[:i]); m != nil {
					f.callee = m[1]
				}
			case top.open == '{' && top.afterColon:
				f.key = top.valueOf
			case top.open == '[':
				f.key = "[]"
			}
			top.expectKey, top.valueStart = false, false
			stack = append(stack, f)
		case ')', '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ':':
			if top.open == '{' && !top.afterColon {
				top.afterColon, top.valueOf, top.valueStart = true, top.lastString, true
				top.keys = append(top.keys, top.lastString)
			}
		case ',':
			switch top.open {
			case '{':
				top.afterColon, top.expectKey, top.valueOf, top.lastString, top.valueStart = false, true, "", "", false
			case '(':
				top.args++
			}
		case ' ', '\t', '\n', '\r':
		default:
			top.expectKey, top.valueStart = false, false
		}
	}
	return stack, nil, true
}
