// Package re is k8sh's re module: regular expressions in Go's RE2 syntax.
package re

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/doc"
)

// Module is the re module: regular expressions in Go's RE2 syntax, which runs
// in time linear in its input (no backreferences).
//
//	re.match(pattern, s)       match or None, anchored at the start
//	re.fullmatch(pattern, s)   match or None, the whole of s
//	re.search(pattern, s)      match or None, anywhere
//	re.findall(pattern, s)     list
//	re.sub(pattern, repl, s, count=0)    str
//	re.split(pattern, s, maxsplit=0)     list of str
var Module = &starlarkstruct.Module{
	Name: "re",
	Members: starlark.StringDict{
		"match":     reMatch,
		"fullmatch": reFullmatch,
		"search":    reSearch,
		"findall":   reFindall,
		"sub":       reSub,
		"split":     reSplit,
	},
}

const reSyntax = `Patterns are Go's RE2 syntax (https://golang.org/s/re2syntax): (?i) for
case-insensitive, (?P<name>...) or (?<name>...) for named groups; no
backreferences.`

const matchDoc = `A match is a struct: m.text (what matched), m.groups (a tuple of the
groups, None for a group that did not take part), m.named (a dict of the
named groups), m.start and m.end (byte offsets in s) and m.group(n=0)
(n a number or a group's name).`

var reMatch = doc.Builtin("re.match", `re.match(pattern, s)

Returns the match of pattern at the start of s, or None.
  m = re.match(r"(\w+)-([0-9a-f]+)-", pod.metadata.name)
  if m: print(m.groups[0])
`+matchDoc+`
`+reSyntax, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return reFind(b, args, kwargs, `\A(?:%s)`)
})

var reFullmatch = doc.Builtin("re.fullmatch", `re.fullmatch(pattern, s)

Returns the match of pattern against the whole of s, or None.
`+matchDoc+`
`+reSyntax, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return reFind(b, args, kwargs, `\A(?:%s)\z`)
})

var reSearch = doc.Builtin("re.search", `re.search(pattern, s)

Returns the first match of pattern anywhere in s, or None.
  m = re.search(r":(?P<tag>[^:@]+)$", image)
  tag = m.named["tag"] if m else "latest"
`+matchDoc+`
`+reSyntax, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return reFind(b, args, kwargs, "%s")
})

var reFindall = doc.Builtin("re.findall", `re.findall(pattern, s)

Returns every non-overlapping match of pattern in s, as Python does: a list
of strings when pattern has no group, of the group's text when it has one,
and of tuples of the groups' texts when it has more.
  re.findall(r"\d+", "10.0.3.7")  # ["10", "0", "3", "7"]
`+reSyntax, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "s", &s); err != nil {
		return nil, err
	}
	re, err := compile(b, pattern, "%s")
	if err != nil {
		return nil, err
	}
	var out []starlark.Value
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		switch len(m) {
		case 1:
			out = append(out, starlark.String(m[0]))
		case 2:
			out = append(out, starlark.String(m[1]))
		default:
			t := make(starlark.Tuple, len(m)-1)
			for i, g := range m[1:] {
				t[i] = starlark.String(g)
			}
			out = append(out, t)
		}
	}
	return starlark.NewList(out), nil
})

var reSub = doc.Builtin("re.sub", `re.sub(pattern, repl, s, count=0)

Returns s with the matches of pattern replaced by repl: the first count
of them, or all when count is 0. repl is a string in which $1, ${1} or
${name} stand for a group ($$ for a dollar sign; Go's syntax, not Python's
\1), or a function given the match that returns the replacement.
  re.sub(r":[^:]+$", ":v2", image)
  re.sub(r"(\w+)=(\w+)", "${2}=${1}", "a=b")                   # "b=a"
  re.sub(r"\d+", lambda m: str(int(m.text) + 1), "web-7")      # "web-8"
`+reSyntax, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, s string
	var repl starlark.Value
	count := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "repl", &repl, "s", &s, "count?", &count); err != nil {
		return nil, err
	}
	if count < 0 {
		return nil, fmt.Errorf("%s: count %d is negative", b.Name(), count)
	}
	re, err := compile(b, pattern, "%s")
	if err != nil {
		return nil, err
	}
	n := -1
	if count > 0 {
		n = count
	}
	var out strings.Builder
	last := 0
	for _, loc := range re.FindAllStringSubmatchIndex(s, n) {
		out.WriteString(s[last:loc[0]])
		switch r := repl.(type) {
		case starlark.String:
			out.Write(re.ExpandString(nil, string(r), s, loc))
		case starlark.Callable:
			v, err := starlark.Call(thread, r, starlark.Tuple{newMatch(re, s, loc)}, nil)
			if err != nil {
				return nil, err
			}
			str, ok := starlark.AsString(v)
			if !ok {
				return nil, fmt.Errorf("%s: repl returned a %s, want a string", b.Name(), v.Type())
			}
			out.WriteString(str)
		default:
			return nil, fmt.Errorf("%s: repl is a %s, want a string or a function", b.Name(), repl.Type())
		}
		last = loc[1]
	}
	out.WriteString(s[last:])
	return starlark.String(out.String()), nil
})

var reSplit = doc.Builtin("re.split", `re.split(pattern, s, maxsplit=0)

Returns the pieces of s between the matches of pattern: at most maxsplit
splits, or all when maxsplit is 0.
  re.split(r"\s*,\s*", "a, b ,c")  # ["a", "b", "c"]
`+reSyntax, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var pattern, s string
	maxsplit := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "s", &s, "maxsplit?", &maxsplit); err != nil {
		return nil, err
	}
	if maxsplit < 0 {
		return nil, fmt.Errorf("%s: maxsplit %d is negative", b.Name(), maxsplit)
	}
	re, err := compile(b, pattern, "%s")
	if err != nil {
		return nil, err
	}
	n := -1
	if maxsplit > 0 {
		n = maxsplit + 1
	}
	parts := re.Split(s, n)
	out := make([]starlark.Value, len(parts))
	for i, p := range parts {
		out[i] = starlark.String(p)
	}
	return starlark.NewList(out), nil
})

// reFind is match, fullmatch and search: pattern wrapped by anchor (a
// format with one %s), found in s.
func reFind(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, anchor string) (starlark.Value, error) {
	var pattern, s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "pattern", &pattern, "s", &s); err != nil {
		return nil, err
	}
	re, err := compile(b, pattern, anchor)
	if err != nil {
		return nil, err
	}
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return starlark.None, nil
	}
	return newMatch(re, s, loc), nil
}

// match is the value of a match of re in s at loc (FindStringSubmatchIndex).
type match struct {
	re  *regexp.Regexp
	s   string
	loc []int
}

var _ starlark.HasAttrs = (*match)(nil)

func newMatch(re *regexp.Regexp, s string, loc []int) *match { return &match{re, s, loc} }

func (m *match) String() string {
	return fmt.Sprintf("<re.match %s at %d:%d>", starlark.String(m.s[m.loc[0]:m.loc[1]]), m.loc[0], m.loc[1])
}
func (m *match) Type() string          { return "re.match" }
func (m *match) Freeze()               {}
func (m *match) Truth() starlark.Bool  { return true }
func (m *match) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: re.match") }

func (m *match) AttrNames() []string {
	return []string{"end", "group", "groups", "named", "start", "text"}
}

func (m *match) Attr(name string) (starlark.Value, error) {
	switch name {
	case "text":
		return m.group(0), nil
	case "start":
		return starlark.MakeInt(m.loc[0]), nil
	case "end":
		return starlark.MakeInt(m.loc[1]), nil
	case "groups":
		groups := make(starlark.Tuple, m.re.NumSubexp())
		for i := range groups {
			groups[i] = m.group(i + 1)
		}
		return groups, nil
	case "named":
		named := starlark.NewDict(0)
		for i, n := range m.re.SubexpNames() {
			if i > 0 && n != "" {
				named.SetKey(starlark.String(n), m.group(i))
			}
		}
		return named, nil
	case "group":
		return starlark.NewBuiltin("group", m.groupBuiltin), nil
	}
	return nil, nil
}

// group is the text of group i, None when it took no part in the match.
func (m *match) group(i int) starlark.Value {
	if m.loc[2*i] < 0 {
		return starlark.None
	}
	return starlark.String(m.s[m.loc[2*i]:m.loc[2*i+1]])
}

func (m *match) groupBuiltin(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var n starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n?", &n); err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case starlark.Int:
		i, ok := n.Int64()
		if !ok || i < 0 || int(i) > m.re.NumSubexp() {
			return nil, fmt.Errorf("group: no group %s (the pattern has %d)", n, m.re.NumSubexp())
		}
		return m.group(int(i)), nil
	case starlark.String:
		if i := m.re.SubexpIndex(string(n)); i > 0 {
			return m.group(i), nil
		}
		return nil, fmt.Errorf("group: no group named %s", n)
	}
	return nil, fmt.Errorf("group: n is a %s, want an int or a string", n.Type())
}

// regexps caches compiled patterns, since scripts call re.* in loops; up to
// maxCached of them, so a script that makes patterns does not grow it.
var (
	regexps   sync.Map // anchor+"\x00"+pattern → *regexp.Regexp
	numCached atomic.Int32
)

const maxCached = 1000

func compile(b *starlark.Builtin, pattern, anchor string) (*regexp.Regexp, error) {
	key := anchor + "\x00" + pattern
	if re, ok := regexps.Load(key); ok {
		return re.(*regexp.Regexp), nil
	}
	// Check the pattern alone first, so that an error quotes what was typed.
	if _, err := regexp.Compile(pattern); err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, fmt.Errorf("%s: bad pattern %q: %s", b.Name(), pattern, msg)
	}
	re := regexp.MustCompile(fmt.Sprintf(anchor, pattern))
	if numCached.Add(1) <= maxCached {
		regexps.Store(key, re)
	}
	return re, nil
}
