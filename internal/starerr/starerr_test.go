package starerr

import (
	"errors"
	"testing"

	"go.starlark.net/starlark"
)

func TestFormat(t *testing.T) {
	run := func(src string) error {
		_, err := starlark.ExecFile(&starlark.Thread{Name: "t"}, "f.star", src, nil)
		return err
	}
	deep := run("def f():\n    return 1 // 0\n\nf()\n")
	shallow := run("x = 1 // 0\n")
	for _, tc := range []struct {
		err      error
		oneFrame bool
		want     string
	}{
		{deep, false, "f.star:2:14: floored division by zero\nTraceback (most recent call last):\n  f.star:4:2: in <toplevel>\n  f.star:2:14: in f\n"},
		{deep, true, "f.star:2:14: floored division by zero\nTraceback (most recent call last):\n  f.star:4:2: in <toplevel>\n  f.star:2:14: in f\n"},
		{shallow, false, "f.star:1:7: floored division by zero\n"},
		{shallow, true, "f.star:1:7: floored division by zero\nTraceback (most recent call last):\n  f.star:1:7: in <toplevel>\n"},
		{errors.New("plain"), true, "plain\n"},
	} {
		if got := Format(tc.err, tc.oneFrame); got != tc.want {
			t.Errorf("Format(%v, %v) =\n%s\nwant\n%s", tc.err, tc.oneFrame, got, tc.want)
		}
	}
}
