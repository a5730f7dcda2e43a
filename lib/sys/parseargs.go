package sys

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

const parseArgsDoc = `sys.parse_args(flags=[], *, args="", min_args=0, max_args=None, argv=None)

Parses the script's arguments (argv, sys.argv[1:] by default) as
command-line tools do (GNU style, spf13/pflag as kubectl): --name value,
--name=value, -x value, -abc for short switches, flags and arguments in any
order, -- to end the flags. Returns a struct with a field for each flag
(dashes become underscores), args (the list of the other arguments) and
usage (the usage text, for a script's own checks:
sys.exit(2, "--output: want table or json\n" + opts.usage)).
  opts = sys.parse_args([
      ("all-namespaces", "A", False, "every namespace"),
      ("timeout", "", "5m", "how long to wait"),
      ("label", "l", [], "a label to match (repeatable)"),
  ], args="SELECTOR", min_args=1, max_args=1)
  opts.all_namespaces, opts.timeout, opts.label, opts.args[0]

Each flag is a tuple (name, short, default, help): short is "" or one
letter; default gives the type: a bool is a switch, an int or a float takes
a number, a string a string, a list a string that may be given many times,
and None a string that is None when the flag is not given.

Bad arguments (an unknown flag, a missing value, a number that is not one,
too few or too many args) end the run with status 2 and the problem, the
usage line and the flags on stderr; -h or --help prints them on stdout and
ends the run with status 0.`

func (m *module) parseArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		specs    *starlark.List = starlark.NewList(nil)
		words    string
		minArgs  int
		maxArgsV starlark.Value = starlark.None
		argvV    starlark.Value = starlark.None
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "flags?", &specs, "args?", &words,
		"min_args?", &minArgs, "max_args?", &maxArgsV, "argv?", &argvV); err != nil {
		return nil, err
	}
	maxArgs := -1
	if maxArgsV != starlark.None {
		if err := starlark.AsInt(maxArgsV, &maxArgs); err != nil {
			return nil, fmt.Errorf("%s: max_args: %v", b.Name(), err)
		}
	}
	var argv []string
	if argvV == starlark.None {
		if len(m.Argv) > 1 {
			argv = m.Argv[1:]
		}
	} else {
		list, ok := argvV.(starlark.Iterable)
		if !ok {
			return nil, fmt.Errorf("%s: argv is a %s, want a list of strings", b.Name(), argvV.Type())
		}
		for x := range starlark.Elements(list) {
			str, ok := starlark.AsString(x)
			if !ok {
				return nil, fmt.Errorf("%s: argv has a %s, want strings", b.Name(), x.Type())
			}
			argv = append(argv, str)
		}
	}
	prog := "script"
	if len(m.Argv) > 0 && m.Argv[0] != "" {
		prog = filepath.Base(m.Argv[0])
	}

	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	getters := map[string]func() starlark.Value{}
	for i := 0; i < specs.Len(); i++ {
		name, get, err := defineFlag(fs, specs.Index(i))
		if err != nil {
			return nil, fmt.Errorf("%s: flags[%d]: %v", b.Name(), i, err)
		}
		getters[name] = get
	}
	help := fs.BoolP("help", "h", false, "show this help")

	usage := "usage: " + prog
	if fs.HasFlags() {
		usage += " [flags]"
	}
	if words != "" {
		usage += " " + words
	}
	usageText := usage + "\n\nflags:\n" + fs.FlagUsages()

	err := fs.Parse(argv)
	if err == nil && *help {
		thread.Print(thread, strings.TrimRight(usageText, "\n"))
		return nil, &ExitError{Code: 0}
	}
	rest := fs.Args()
	if err == nil {
		switch {
		case len(rest) < minArgs:
			err = fmt.Errorf("want at least %d argument(s) (%s), got %d", minArgs, words, len(rest))
		case maxArgs >= 0 && len(rest) > maxArgs:
			if maxArgs == 0 {
				err = fmt.Errorf("unexpected argument %q", rest[0])
			} else {
				err = fmt.Errorf("want at most %d argument(s) (%s), got %d: %s", maxArgs, words, len(rest), strings.Join(rest, " "))
			}
		}
	}
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), ": strconv.") // pflag's "invalid argument "x" for "--n" flag: strconv.ParseInt: ..."
		fmt.Fprintf(m.stderr(), "%s: %s\n%s", prog, msg, usageText)
		return nil, &ExitError{Code: 2}
	}

	fields := starlark.StringDict{}
	for name, get := range getters {
		fields[strings.ReplaceAll(name, "-", "_")] = get()
	}
	restV := make([]starlark.Value, len(rest))
	for i, a := range rest {
		restV[i] = starlark.String(a)
	}
	fields["args"] = starlark.NewList(restV)
	fields["usage"] = starlark.String(usageText)
	return starlarkstruct.FromStringDict(starlarkstruct.Default, fields), nil
}

// defineFlag defines the flag that spec (name, short, default, help)
// describes and returns its name and a getter of its parsed value.
func defineFlag(fs *pflag.FlagSet, spec starlark.Value) (string, func() starlark.Value, error) {
	t, ok := spec.(starlark.Tuple)
	if !ok || len(t) != 4 {
		return "", nil, fmt.Errorf("got %s, want a tuple (name, short, default, help)", spec.String())
	}
	name, ok1 := starlark.AsString(t[0])
	short, ok2 := starlark.AsString(t[1])
	help, ok3 := starlark.AsString(t[3])
	if !ok1 || !ok2 || !ok3 {
		return "", nil, errors.New("name, short and help must be strings")
	}
	switch {
	case name == "" || strings.HasPrefix(name, "-") || strings.ContainsAny(name, " ="):
		return "", nil, fmt.Errorf("bad flag name %q (without dashes: \"all-namespaces\")", name)
	case len(short) > 1:
		return "", nil, fmt.Errorf("flag %s: short %q is not one letter", name, short)
	case name == "args" || name == "usage":
		return "", nil, fmt.Errorf("flag name %q is taken by the result's field %s", name, name)
	case name == "help" || short == "h":
		return "", nil, errors.New("-h and --help are sys.parse_args' own")
	case fs.Lookup(name) != nil:
		return "", nil, fmt.Errorf("flag %s defined twice", name)
	case short != "" && fs.ShorthandLookup(short) != nil:
		return "", nil, fmt.Errorf("flag -%s defined twice", short)
	}
	switch d := t[2].(type) {
	case starlark.Bool:
		p := fs.BoolP(name, short, bool(d), help)
		return name, func() starlark.Value { return starlark.Bool(*p) }, nil
	case starlark.Int:
		n, ok := d.Int64()
		if !ok {
			return "", nil, fmt.Errorf("flag %s: default %s is too large", name, d)
		}
		p := fs.Int64P(name, short, n, help)
		return name, func() starlark.Value { return starlark.MakeInt64(*p) }, nil
	case starlark.Float:
		p := fs.Float64P(name, short, float64(d), help)
		return name, func() starlark.Value { return starlark.Float(*p) }, nil
	case starlark.String:
		p := fs.StringP(name, short, string(d), help)
		return name, func() starlark.Value { return starlark.String(*p) }, nil
	case starlark.NoneType:
		p := fs.StringP(name, short, "", help)
		return name, func() starlark.Value {
			if !fs.Changed(name) {
				return starlark.None
			}
			return starlark.String(*p)
		}, nil
	case *starlark.List:
		var dflt []string
		for x := range starlark.Elements(d) {
			str, ok := starlark.AsString(x)
			if !ok {
				return "", nil, fmt.Errorf("flag %s: default list holds a %s, want strings", name, x.Type())
			}
			dflt = append(dflt, str)
		}
		p := fs.StringArrayP(name, short, dflt, help)
		return name, func() starlark.Value {
			out := make([]starlark.Value, len(*p))
			for i, v := range *p {
				out[i] = starlark.String(v)
			}
			return starlark.NewList(out)
		}, nil
	}
	return "", nil, fmt.Errorf("flag %s: default is a %s, want a bool, int, float, string, list or None", name, t[2].Type())
}
