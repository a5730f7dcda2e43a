// Package sys is k8sh's sys module: the run's arguments, environment,
// standard input and exit status, and the programs it runs.
package sys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

// ExitError is what sys.exit raises to end a run with a status code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Options are what a run gives the sys module.
type Options struct {
	// Argv is sys.argv: the script path first, then its arguments.
	Argv []string
	// DryRun is sys.dry_run: --dry-run was given.
	DryRun bool
	// Stdin is what sys.stdin_read reads; nil when standard input is not
	// the program's to read (the REPL's terminal, a program read from it).
	Stdin io.Reader
	// Stderr is where sys.eprint, sys.exit's message and sys.parse_args'
	// errors go (os.Stderr when nil).
	Stderr io.Writer
	// Sandbox (--sandbox) runs a script its user did not write: no
	// environment, and no sys.exec unless AllowExec (--allow-exec).
	Sandbox   bool
	AllowExec bool
}

// New returns the sys module of a run:
//
//	sys.argv                         list of str
//	sys.dry_run                      bool: --dry-run was given
//	sys.env(name, default=None)      str or default
//	sys.exit(code=0, message=None)
//	sys.eprint(*args, sep=" ")
//	sys.parse_args(flags=[], *, args="", min_args=0, max_args=None, argv=None)  struct
//	sys.stdin_read()                 str
//	sys.exec(argv, stdin=None, check=True)  struct(code, stdout, stderr)
func New(o Options) *starlarkstruct.Module {
	m := &module{Options: o}
	av := make([]starlark.Value, len(o.Argv))
	for i, a := range o.Argv {
		av[i] = starlark.String(a)
	}
	l := starlark.NewList(av)
	l.Freeze()
	return &starlarkstruct.Module{
		Name: "sys",
		Members: starlark.StringDict{
			"argv":       l,
			"dry_run":    starlark.Bool(o.DryRun),
			"env":        doc.Documented("sys.env", m.env),
			"exit":       doc.Documented("sys.exit", m.exit),
			"eprint":     doc.Documented("sys.eprint", m.eprint),
			"parse_args": doc.Documented("sys.parse_args", m.parseArgs),
			"stdin_read": doc.Documented("sys.stdin_read", m.stdinRead),
			"exec":       doc.Documented("sys.exec", m.runProgram),
		},
	}
}

// module is the state of one run's sys module.
type module struct {
	Options
	stdinOnce sync.Once
	stdin     []byte
	stdinErr  error
}

func init() {
	doc.Set("sys.argv", `sys.argv

The list of the script's arguments: the script's path first ("-c" for
k8sh -c, "-" for standard input), then the arguments that follow it.`)
	doc.Set("sys.dry_run", `sys.dry_run

True when k8sh runs with --dry-run: every change is a server-side dry run,
so a script can say what it would do and skip waiting for changes that
were not made.`)
	doc.Set("sys.env", envDoc)
	doc.Set("sys.exit", exitDoc)
	doc.Set("sys.eprint", eprintDoc)
	doc.Set("sys.parse_args", parseArgsDoc)
	doc.Set("sys.stdin_read", stdinReadDoc)
	doc.Set("sys.exec", execDoc)
}

const envDoc = `sys.env(name, default=None)

Returns the value of the environment variable name, or default when it is
not set. With --sandbox the environment is empty: always default.`

func (m *module) env(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt); err != nil {
		return nil, err
	}
	if m.Sandbox {
		return dflt, nil
	}
	if v, ok := os.LookupEnv(name); ok {
		return starlark.String(v), nil
	}
	return dflt, nil
}

const exitDoc = `sys.exit(code=0, message=None)

Ends the run at once with exit status code (0 to 125). message, if given,
is written to stderr first, as a line: for a usage error, the convention of
command-line tools is status 2:
  if len(sys.argv) < 2: sys.exit(2, "usage: scale.star N")`

func (m *module) exit(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	code := 0
	var message string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code, "message?", starconv.OrNone(&message)); err != nil {
		return nil, err
	}
	if code < 0 || code > 125 {
		return nil, fmt.Errorf("%s: code %d out of range 0..125", b.Name(), code)
	}
	if message != "" {
		fmt.Fprintln(m.stderr(), strings.TrimRight(message, "\n"))
	}
	return nil, &ExitError{Code: code}
}

const eprintDoc = `sys.eprint(*args, sep=" ")

Prints its arguments to stderr as print does to stdout: for warnings and
progress that must not mix with a script's output (JSON, a table).`

func (m *module) eprint(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	sep := " "
	if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "sep?", &sep); err != nil {
		return nil, err
	}
	var buf strings.Builder
	for i, a := range args {
		if i > 0 {
			buf.WriteString(sep)
		}
		if s, ok := starlark.AsString(a); ok {
			buf.WriteString(s)
		} else {
			buf.WriteString(a.String())
		}
	}
	w := m.stderr()
	if tw, ok := thread.Local(stderrKey).(io.Writer); ok {
		w = tw
	}
	fmt.Fprintln(w, buf.String())
	return starlark.None, nil
}

const stderrKey = "k8sh.sys.stderr"

// SetStderr makes w where sys.eprint writes on thread: background work
// whose lines go above the REPL's prompt.
func SetStderr(thread *starlark.Thread, w io.Writer) { thread.SetLocal(stderrKey, w) }

// stderr is the run's standard error.
func (m *module) stderr() io.Writer {
	if m.Stderr != nil {
		return m.Stderr
	}
	return os.Stderr
}

const stdinReadDoc = `sys.stdin_read()

Returns all of standard input as a string. For data piped into a script:
  kubectl get pods -o json | k8sh report.star
  pods = json.decode(sys.stdin_read())["items"]
The first call reads to the end; later calls return "". Not available in
the REPL, nor when the program itself came from standard input (k8sh -).`

func (m *module) stdinRead(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if m.Stdin == nil {
		return nil, fmt.Errorf("%s: standard input is not the program's to read here (the REPL, or a program read from it)", b.Name())
	}
	first := false
	m.stdinOnce.Do(func() {
		first = true
		m.stdin, m.stdinErr = io.ReadAll(m.Stdin)
	})
	if m.stdinErr != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), m.stdinErr)
	}
	if !first {
		return starlark.String(""), nil
	}
	data := m.stdin
	m.stdin = nil
	return starlark.String(data), nil
}

const execDoc = `sys.exec(argv, *, stdin=None, check=True)

Runs the program argv[0] with the arguments argv[1:] (no shell), waits for
it and returns struct(code=<exit status>, stdout=<str>, stderr=<str>).
stdin, a string, is given to it as standard input. With check=True a
non-zero exit status is an error that shows the end of its stderr.
  out = sys.exec(["git", "rev-parse", "HEAD"]).stdout.strip()
With --sandbox, only when --allow-exec is given too. Ctrl-C and --timeout
stop the program.`

func (m *module) runProgram(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var argvV starlark.Iterable
	var stdin starlark.Value = starlark.None
	check := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "argv", &argvV, "stdin?", &stdin, "check?", &check); err != nil {
		return nil, err
	}
	if m.Sandbox && !m.AllowExec {
		return nil, fmt.Errorf("%s: running programs is not allowed with --sandbox (add --allow-exec to allow it)", b.Name())
	}
	var argv []string
	iter := argvV.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		str, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("%s: argv[%d] is a %s, want a string", b.Name(), len(argv), x.Type())
		}
		argv = append(argv, str)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s: argv is empty, want the program and its arguments", b.Name())
	}
	cmd := exec.CommandContext(Context(thread), argv[0], argv[1:]...)
	switch in := stdin.(type) {
	case starlark.NoneType:
	case starlark.String:
		cmd.Stdin = strings.NewReader(string(in))
	case starlark.Bytes:
		cmd.Stdin = strings.NewReader(string(in))
	default:
		return nil, fmt.Errorf("%s: stdin is a %s, want a string", b.Name(), stdin.Type())
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || Context(thread).Err() != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		code = ee.ExitCode()
		if check {
			msg := fmt.Sprintf("%s: %s exited with status %d", b.Name(), argv[0], code)
			if tail := lastLines(stderr.String(), 5); tail != "" {
				msg += ":\n" + tail
			}
			return nil, errors.New(msg)
		}
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"code":   starlark.MakeInt(code),
		"stdout": starlark.String(stdout.String()),
		"stderr": starlark.String(stderr.String()),
	}), nil
}

// lastLines is the last n lines of s, without the final newline.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
