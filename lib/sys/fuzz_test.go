package sys

import (
	"errors"
	"io"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

// FuzzParseArgs: sys.parse_args with any flag names, shorts, defaults
// and command line either parses or fails with an error (or the exit of
// bad arguments, status 2, or of -h, status 0): no panic. `go test` runs
// the seeds and testdata/fuzz; `make fuzz` runs it for a few seconds.
func FuzzParseArgs(f *testing.F) {
	for _, s := range []struct{ name, short, argv, words string }{
		{"all-namespaces", "A", "-A\x00x", "SELECTOR"},
		{"timeout", "t", "--timeout=5m\x00--\x00-x", ""},
		{"label", "l", "-l\x00a=b\x00-l=c\x00--label\x00d", "A B"},
		{"n", "", "--n\x00--n=1\x00-\x00--", ""},
		{"a=b", "ab", "-h", ""},
		{"x", "\xff", "--x=\xff\x00-\xff", "\x00"},
		{"count", "c", "-ccc\x00-c3\x00--count=-9223372036854775809", ""},
	} {
		f.Add(s.name, s.short, s.argv, s.words, 0, -1)
	}
	m := &module{Options: Options{Stderr: io.Discard}}
	b := starlark.NewBuiltin("sys.parse_args", m.parseArgs)
	thread := &starlark.Thread{Print: func(*starlark.Thread, string) {}}
	f.Fuzz(func(t *testing.T, name, short, argvText, words string, minArgs, maxArgs int) {
		var argv []starlark.Value
		if len(argvText) > 4096 {
			argvText = argvText[:4096]
		}
		for _, a := range strings.Split(argvText, "\x00") {
			argv = append(argv, starlark.String(a))
		}
		// One flag of each type, named from name (and short), so that
		// every kind of value is parsed.
		defaults := []starlark.Value{starlark.False, starlark.MakeInt(3), starlark.Float(1.5),
			starlark.String("d"), starlark.None, starlark.NewList([]starlark.Value{starlark.String("e")})}
		var specs []starlark.Value
		for i, d := range defaults {
			sh := ""
			if i == 0 {
				sh = short
			}
			n := name
			if i > 0 {
				n = name + strings.Repeat("-", i)
			}
			specs = append(specs, starlark.Tuple{starlark.String(n), starlark.String(sh), d, starlark.String("help")})
		}
		kwargs := []starlark.Tuple{
			{starlark.String("args"), starlark.String(words)},
			{starlark.String("min_args"), starlark.MakeInt(minArgs)},
			{starlark.String("max_args"), starlark.MakeInt(maxArgs)},
			{starlark.String("argv"), starlark.NewList(argv)},
		}
		v, err := starlark.Call(thread, b, starlark.Tuple{starlark.NewList(specs)}, kwargs)
		var exit *ExitError
		switch {
		case errors.As(err, &exit):
			if exit.Code != 0 && exit.Code != 2 {
				t.Errorf("exit status %d", exit.Code)
			}
		case err == nil && v == nil:
			t.Error("no value and no error")
		}
	})
}
