package starconv

import (
	"encoding/json"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// FuzzFromStarlark: any value a Starlark expression makes (bytes, cycles,
// deep nesting, huge ints, NaN) converts to JSON-able data or fails with
// an error: no panic, no stack overflow. `go test` runs the seeds; `make
// fuzz` runs it for a few seconds.
func FuzzFromStarlark(f *testing.F) {
	for _, seed := range []string{
		`b"x"`, `{"a": b"\x00\xff"}`, `[[[[[[[]]]]]]]`, `1 << 70`, `float("nan")`, `float("inf")`,
		`{"a": [1, 2.5, None, True, "s"]}`, `(lambda d: [d.update(x=d), d][1])({})`,
		`(lambda l: [l.append(l), l][1])([])`, `{1: 2}`, `"\u00ff"`, `range(3)`, `[{}] * 3`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		thread := &starlark.Thread{}
		thread.SetMaxExecutionSteps(100000)
		v, err := starlark.EvalOptions(&syntax.FileOptions{While: true, Recursion: true}, thread, "fuzz", src, nil)
		if err != nil {
			return
		}
		g, err := FromStarlark(v)
		if err != nil {
			return
		}
		if _, err := json.Marshal(g); err != nil {
			t.Fatalf("%s converted to %#v, which is not JSON: %v", src, g, err)
		}
		ToStarlark(g)
	})
}
