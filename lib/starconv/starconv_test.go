package starconv

import (
	"math"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// TestFromStarlarkRefuses: bytes become base64; values that cannot be JSON
// (a dict or list that contains itself, nesting past MaxDepth, a str that
// is not UTF-8) are errors saying where, never a crash.
func TestFromStarlarkRefuses(t *testing.T) {
	if g, err := FromStarlark(starlark.Bytes("\x00\xffok")); err != nil || g != "AP9vaw==" {
		t.Errorf("bytes: %v %v", g, err)
	}
	self := starlark.NewDict(1)
	inner := starlark.NewList([]starlark.Value{starlark.MakeInt(1), self})
	self.SetKey(starlark.String("x"), inner)
	deep := starlark.NewList(nil)
	for x, i := deep, 0; i < MaxDepth+5; i++ {
		next := starlark.NewList(nil)
		x.Append(next)
		x = next
	}
	shared := starlark.NewList([]starlark.Value{starlark.String("s")})
	twice := starlark.NewList([]starlark.Value{shared, shared}) // not a cycle
	if g, err := FromStarlark(twice); err != nil || len(g.([]any)) != 2 {
		t.Errorf("a list twice in another: %v %v", g, err)
	}
	bad := starlark.NewDict(1)
	bad.SetKey(starlark.String("data"), starlark.String("ok\xff"))
	for _, c := range []struct {
		v    starlark.Value
		want string
	}{
		{self, "the dict at .x[1] contains itself"},
		{deep, "is nested more than 1000 levels deep"},
		{bad, "the str at .data is not valid UTF-8 (byte 2 is 0xff)"},
		{starlark.Float(math.Inf(1)), "cannot convert +inf to JSON"},
	} {
		_, err := FromStarlark(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}
