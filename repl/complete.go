package repl

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

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

// Completer completes what the user types: names, module members,
// attributes of bound values, keyword arguments, and inside the string
// arguments of the k8s builtins, kinds, object names, namespaces and
// contexts. It evaluates only name, attribute and index chains, never a
// call, so pressing TAB has no side effect.
type Completer struct {
	Globals starlark.StringDict
	Source  Source
}

var (
	kindFuncs = map[string]bool{
		"k8s.get": true, "k8s.list": true, "k8s.iter": true, "k8s.exists": true,
		"k8s.events": true, "k8s.watch": true, "k8s.wait": true, "k8s.delete": true,
		"k8s.scale": true, "k8s.restart": true, "k8s.patch": true,
		"k8s.rollout.status": true, "k8s.rollout.history": true, "k8s.rollout.undo": true,
		"k8s.rollout.pause": true, "k8s.rollout.resume": true, "k8s.rollout.restart": true,
	}
	reKindArg   = regexp.MustCompile(`(k8s\.[\w.]+)\(\s*$`)
	reNameArg   = regexp.MustCompile(`(k8s\.[\w.]+)\(\s*["']([^"']+)["']\s*,\s*$`)
	reNodeArg   = regexp.MustCompile(`k8s\.(drain|cordon|uncordon)\(\s*$`)
	reLogsArg   = regexp.MustCompile(`k8s\.logs\(\s*$`)
	reNSArg     = regexp.MustCompile(`(\bnamespace\s*=|\bctx\.namespace\()\s*$`)
	reCtxArg    = regexp.MustCompile(`(\bcontext\s*=|\bctx\.use\()\s*$`)
	reNSValue   = regexp.MustCompile(`\bnamespace\s*=\s*["']([^"']*)["']`)
	reNameKw    = regexp.MustCompile(`\bname\s*=\s*$`)
	reKindCall  = regexp.MustCompile(`(k8s\.[\w.]+)\(\s*["']([^"']+)["']`)
	reChain     = regexp.MustCompile(`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]]*\])*)\.(\w*)$`)
	reIdent     = regexp.MustCompile(`[A-Za-z_]\w*$`)
	reCallee    = regexp.MustCompile(`([A-Za-z_][\w.]*)\s*$`)
	reChainPart = regexp.MustCompile(`^(?:\.([A-Za-z_]\w*)|\[([^\[\]]*)\])`)
)

// Complete returns the candidates for the text before the cursor, each a
// whole word, and how many characters of before they replace.
func (c *Completer) Complete(before string) ([]string, int) {
	if start, quote, ok := openString(before); ok {
		prefix := before[start+1:]
		return withSuffix(filter(c.stringCandidates(before[:start]), prefix), string(quote)), len(prefix)
	}
	if m := reChain.FindStringSubmatch(before); m != nil {
		v, ok := c.eval(m[1])
		if !ok {
			return nil, 0
		}
		var names []string
		if ha, ok := v.(starlark.HasAttrs); ok {
			names = ha.AttrNames()
		}
		return filter(names, m[2]), len(m[2])
	}
	prefix := reIdent.FindString(before)
	var cands []string
	if fn, ok := callee(before[:len(before)-len(prefix)]); ok && c.Source != nil {
		for _, p := range c.Source.Params(fn) {
			cands = append(cands, p+"=")
		}
	}
	cands = append(cands, c.names()...)
	return filter(cands, prefix), len(prefix)
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
// what was typed, and the length of what was typed.
func (c *Completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	cands, n := c.Complete(before)
	prefixRunes := len([]rune(before[len(before)-n:]))
	out := make([][]rune, len(cands))
	for i, cand := range cands {
		out[i] = []rune(cand)[prefixRunes:]
	}
	return out, prefixRunes
}
