// Package assert is k8sh's assert module: the assertions of go.starlark.net's
// own tests (assert.eq, assert.ne, assert.true, assert.lt, assert.contains,
// assert.fails, assert.fail), with messages that say where and show how two
// values differ (dicts, lists and objects as YAML, with a unified diff).
//
// Under `k8sh test` a failed assertion is recorded and the test goes on, as
// Go's t.Errorf (the runner sets a Reporter on the thread); anywhere else it
// is an error that stops the program, as Python's assert.
package assert

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/syntax"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

// Module is the assert module:
//
//	assert.eq(got, want, msg=None)
//	assert.ne(got, unwanted, msg=None)
//	assert.true(cond, msg="assertion failed")
//	assert.lt(x, y, msg=None)
//	assert.contains(container, x, msg=None)
//	assert.fails(fn, pattern)                  the error's message
//	assert.fail(msg)
var Module = &starlarkstruct.Module{
	Name: "assert",
	Members: starlark.StringDict{
		"eq": doc.Builtin("assert.eq", `assert.eq(got, want, msg=None)

Asserts that got == want. When they differ it reports where (file:line)
and how: scalars as "got != want", dicts, lists and k8s objects as YAML
with a unified diff of the two (-want +got). In k8sh test the test is
marked failed and goes on; elsewhere the program stops with the message.
  assert.eq(k8s.get("cm", "app").data, {"mode": "prod"})`, eq),
		"ne": doc.Builtin("assert.ne", `assert.ne(got, unwanted, msg=None)

Asserts that got != unwanted.`, ne),
		"true": doc.Builtin("assert.true", `assert.true(cond, msg="assertion failed")

Asserts that cond is true (in Starlark's sense: not None, False, 0, "" or
empty).
  assert.true(k8s.exists("deploy", "web"), "web was not created")`, truth),
		"lt": doc.Builtin("assert.lt", `assert.lt(x, y, msg=None)

Asserts that x < y.`, lt),
		"contains": doc.Builtin("assert.contains", `assert.contains(container, x, msg=None)

Asserts that x in container (a str, list, dict, object...).
  assert.contains(k8s.describe("pod", "web-1"), "Running")`, contains),
		"fails": doc.Builtin("assert.fails", `assert.fails(fn, pattern)

Calls fn() and asserts that it fails with an error whose message matches
the regular expression pattern (Go syntax, searched anywhere in the
message). Returns the message, or None when fn did not fail as asked.
  assert.fails(lambda: k8s.get("pod", "nope"), "not found")`, fails),
		"fail": doc.Builtin("assert.fail", `assert.fail(msg)

Reports a failure with message msg (in k8sh test: marks the test failed
and goes on; elsewhere: stops the program).`, failBuiltin),
	},
}

// Reporter receives the failures of assertions on a thread: pos is where in
// the program the assertion was called.
type Reporter func(pos syntax.Position, msg string)

const reporterKey = "k8sh.assert.reporter"

// SetReporter makes the assertions on thread report to r and go on; without
// one, a failed assertion is an error.
func SetReporter(thread *starlark.Thread, r Reporter) { thread.SetLocal(reporterKey, r) }

// report reports msg as the failure of the builtin b called on thread.
func report(thread *starlark.Thread, b *starlark.Builtin, msg string, extra []string) (starlark.Value, error) {
	if len(extra) == 1 && extra[0] != "" {
		msg = extra[0] + ": " + msg
	}
	if r, ok := thread.Local(reporterKey).(Reporter); ok {
		r(callerPos(thread), b.Name()+": "+msg)
		return starlark.None, nil
	}
	return nil, fmt.Errorf("%s: %s", b.Name(), msg)
}

// callerPos is the position of the Starlark call of the running builtin.
func callerPos(thread *starlark.Thread) syntax.Position {
	for i := 1; i < thread.CallStackDepth(); i++ {
		if fr := thread.CallFrame(i); fr.Pos.Filename() != "<builtin>" {
			return fr.Pos
		}
	}
	return syntax.Position{}
}

// message unpacks the optional msg of an assertion.
func message(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, names ...any) ([]string, error) {
	var msg starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append(names, "msg?", &msg)...); err != nil {
		return nil, err
	}
	switch m := msg.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.String:
		return []string{string(m)}, nil
	default:
		return []string{msg.String()}, nil
	}
}

func eq(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, want starlark.Value
	extra, err := message(b, args, kwargs, "got", &got, "want", &want)
	if err != nil {
		return nil, err
	}
	same, err := starlark.Equal(got, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if same {
		return starlark.None, nil
	}
	return report(thread, b, Difference(got, want), extra)
}

func ne(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var got, unwanted starlark.Value
	extra, err := message(b, args, kwargs, "got", &got, "unwanted", &unwanted)
	if err != nil {
		return nil, err
	}
	same, err := starlark.Equal(got, unwanted)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if !same {
		return starlark.None, nil
	}
	return report(thread, b, fmt.Sprintf("%s == %s", short(got), short(unwanted)), extra)
}

func truth(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var cond starlark.Value
	msg := "assertion failed"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "cond", &cond, "msg?", &msg); err != nil {
		return nil, err
	}
	if cond.Truth() {
		return starlark.None, nil
	}
	return report(thread, b, msg, nil)
}

func lt(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x, y starlark.Value
	extra, err := message(b, args, kwargs, "x", &x, "y", &y)
	if err != nil {
		return nil, err
	}
	less, err := starlark.Compare(syntax.LT, x, y)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if less {
		return starlark.None, nil
	}
	return report(thread, b, fmt.Sprintf("%s is not less than %s", short(x), short(y)), extra)
}

func contains(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var container, x starlark.Value
	extra, err := message(b, args, kwargs, "container", &container, "x", &x)
	if err != nil {
		return nil, err
	}
	in, err := starlark.Binary(syntax.IN, x, container)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if in.Truth() {
		return starlark.None, nil
	}
	return report(thread, b, fmt.Sprintf("%s does not contain %s", short(container), short(x)), extra)
}

func fails(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var fn starlark.Callable
	var pattern string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "fn", &fn, "pattern", &pattern); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: bad pattern %q: %v", b.Name(), pattern, err)
	}
	_, callErr := starlark.Call(thread, fn, nil, nil)
	if callErr == nil {
		return report(thread, b, fmt.Sprintf("%s succeeded, want an error matching %q", fnName(fn), pattern), nil)
	}
	msg := callErr.Error()
	if strings.HasPrefix(msg, "Starlark computation cancelled") {
		return nil, callErr // the run is being stopped (Ctrl-C, --timeout): not what fn was asked to fail with
	}
	if ee, ok := callErr.(*starlark.EvalError); ok {
		msg = ee.Msg
	}
	if !re.MatchString(msg) {
		if _, err := report(thread, b, fmt.Sprintf("the error %q does not match %q", msg, pattern), nil); err != nil {
			return nil, err
		}
		return starlark.None, nil
	}
	return starlark.String(msg), nil
}

func failBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var msg starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "msg", &msg); err != nil {
		return nil, err
	}
	text := msg.String()
	if s, ok := msg.(starlark.String); ok {
		text = string(s)
	}
	return report(thread, b, text, nil)
}

func fnName(fn starlark.Callable) string {
	if f, ok := fn.(*starlark.Function); ok && f.Name() != "lambda" {
		return f.Name() + "()"
	}
	return "the call"
}

// maxShort is how long a value may be in a one-line message.
const maxShort = 200

// short is v as Starlark prints it (repr), cut to maxShort bytes.
func short(v starlark.Value) string {
	s := v.String()
	if len(s) > maxShort {
		s = s[:maxShort] + "..."
	}
	return s
}

// Difference says how got and want differ: "got != want" for scalars and
// short values, else both as YAML (keys sorted, objects as kubectl prints
// them) and a unified diff, want first.
func Difference(got, want starlark.Value) string {
	gs, gok := got.(starlark.String)
	ws, wok := want.(starlark.String)
	if gok && wok && (strings.Contains(string(gs), "\n") || strings.Contains(string(ws), "\n")) {
		return unified(string(gs), string(ws))
	}
	g, gy := asYAML(got)
	w, wy := asYAML(want)
	if !gy || !wy || (!strings.Contains(strings.TrimSuffix(g, "\n"), "\n") && !strings.Contains(strings.TrimSuffix(w, "\n"), "\n")) {
		if got.Type() != want.Type() {
			return fmt.Sprintf("%s (%s) != %s (%s)", short(got), got.Type(), short(want), want.Type())
		}
		return fmt.Sprintf("%s != %s", short(got), short(want))
	}
	if g == w {
		// Equal as data, different as values: say what differs in type.
		return fmt.Sprintf("a %s and a %s of the same content are not equal (compare dict(x) or json.encode(x))", got.Type(), want.Type())
	}
	return unified(g, w)
}

// unified is the unified diff of two texts, want first.
func unified(got, want string) string {
	diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(strings.TrimSuffix(want, "\n")), B: difflib.SplitLines(strings.TrimSuffix(got, "\n")),
		FromFile: "want", ToFile: "got", Context: 3,
	})
	return "values differ (-want +got):\n" + strings.TrimRight(diff, "\n")
}

// asYAML is v as YAML, and whether v is a composite value for which YAML
// says more than its repr.
func asYAML(v starlark.Value) (string, bool) {
	switch v.(type) {
	case starlark.String, starlark.Int, starlark.Float, starlark.Bool, starlark.NoneType:
		return "", false
	}
	g, err := starconv.FromStarlark(v)
	if err != nil {
		return "", false
	}
	out, err := yaml.Marshal(g)
	if err != nil {
		return "", false
	}
	return string(out), true
}
