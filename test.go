package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/internal/testrun"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/load"
	"github.com/k8sh/k8sh/lib/sys"
)

// addTestCommand adds `k8sh test [paths]`: the test functions of
// *_test.star files, run as go test runs a package's tests. The status of
// the run (1 when a test failed) is left in *status.
func addTestCommand(root *cobra.Command, flags *genericclioptions.ConfigFlags, stdin io.Reader, stdout, stderr io.Writer, status *int) {
	var (
		run     string
		verbose bool
		timeout time.Duration
		opts    options
	)
	cmd := &cobra.Command{
		Use:   "test [-v] [--run REGEXP] [dir | dir/... | file_test.star]...",
		Short: "Run the test_* functions of *_test.star files, as go test runs Go tests",
		Long: `k8sh test runs every *_test.star file of the directories given (the working
directory when none is; dir/... for dir and the directories under it) or the
files given. Each top-level function whose name starts with test_ is a test:
it runs in a thread of its own with fresh globals (the file's top level runs
again for it). The assert module reports failures (assert.eq, assert.ne,
assert.true, assert.lt, assert.contains, assert.fails, assert.fail) and the
test goes on; an error ends the test. Results are printed as go test prints
them; the last line is "N passed, M failed", and the status is 1 when a test
failed. Tests reach the cluster of the current context, as scripts do.`,
		Args:                  cobra.ArbitraryArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := testrun.Config{Verbose: verbose, Stdout: stdout, FileOptions: fileOptions}
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return fmt.Errorf("--run: %v", err)
				}
				cfg.Run = re
			}
			files, err := testrun.Find(args)
			if err != nil {
				return err
			}
			if len(files) == 0 {
				fmt.Fprintf(stdout, "no *_test.star files in %s\n", strings.Join(args, " "))
				*status = exitOK
				return nil
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			cfg.Context = ctx
			cfg.NewThread = func(file string) (*starlark.Thread, starlark.StringDict, func(), error) {
				dir, err := filepath.Abs(filepath.Dir(file))
				if err != nil {
					return nil, nil, nil, err
				}
				thread, globals, session, _, err := newThread(flags, opts, []string{file}, dir, nil, stdout, stderr)
				if err != nil {
					return nil, nil, nil, err
				}
				sys.SetContext(thread, ctx)
				// run_script first, so that modules the test loads (helpers
				// of several test files) have it too.
				globals["run_script"] = runScript(session, dir)
				thread.Load = load.New(fileOptions, maps.Clone(globals), builtins.InheritThread).Load
				return thread, globals, func() { builtins.EndSession(thread) }, nil
			}
			sum := testrun.Run(cfg, files)
			switch {
			case ctx.Err() == context.DeadlineExceeded:
				fmt.Fprintf(stderr, "k8sh: timed out after %s (--timeout)\n", timeout)
				*status = exitError
			case ctx.Err() != nil:
				fmt.Fprintln(stderr, "k8sh: interrupted")
				*status = exitInterrupt
			case sum.Failed > 0:
				*status = exitError
			default:
				*status = exitOK
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run only the tests whose name matches REGEXP (as go test -run)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print each test's name and result, and what passing tests print")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "end the run after this long; 0 for no limit")
	cmd.Flags().BoolVar(&opts.readOnly, "read-only", false, "refuse every change the tests make, before any request")
	root.AddCommand(cmd)
}

const runScriptDoc = `run_script(path, args=[], stdin=None, dry_run=False)

In k8sh test only: runs the script at path (relative to the test file) as
k8sh would run it with args, in this process and on the test's session (a
fake cluster of k8s.fake, its namespace and flags), and returns
struct(code, stdout, stderr): its exit status (0, sys.exit's code, 1 for an
error), what it printed, and what it wrote to stderr (sys.eprint, sys.exit's
message, the error with its position). stdin is what sys.stdin_read reads.
dry_run=True runs it as k8sh --dry-run would: sys.dry_run is True, every
change is a server-side dry run, and stderr starts with k8sh's line saying
so.
  r = run_script("namespace-cleanup.star", ["--older-than", "1h"])
  assert.eq(r.code, 0)
  assert.contains(r.stdout, "deleted 2 objects")`

func init() { doc.Set("run_script", runScriptDoc) }

// runScript is the run_script builtin of a test whose session is s and
// whose file is in dir.
func runScript(s *builtins.Session, dir string) *starlark.Builtin {
	return doc.Documented("run_script", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			path   string
			argv   *starlark.List
			stdin  starlark.Value = starlark.None
			dryRun bool
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "args?", &argv, "stdin?", &stdin, "dry_run?", &dryRun); err != nil {
			return nil, err
		}
		full := path
		if !filepath.IsAbs(full) {
			full = filepath.Join(dir, path)
		}
		src, err := os.ReadFile(full)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		scriptArgs := []string{path}
		if argv != nil {
			for i := range argv.Len() {
				a, ok := starlark.AsString(argv.Index(i))
				if !ok {
					return nil, fmt.Errorf("%s: args[%d] is a %s, want str", b.Name(), i, argv.Index(i).Type())
				}
				scriptArgs = append(scriptArgs, a)
			}
		}
		var out, errOut strings.Builder
		child := *s // the same cluster, namespace and flags; its own sys and file
		child.Sys.Argv, child.Sys.Stderr, child.Sys.Stdin = scriptArgs, &errOut, nil
		if dryRun {
			child.DryRun = true
			errOut.WriteString(dryRunNote + "\n")
		}
		switch in := stdin.(type) {
		case starlark.NoneType:
		case starlark.String:
			child.Sys.Stdin = strings.NewReader(string(in))
		default:
			return nil, fmt.Errorf("%s: stdin is a %s, want str or None", b.Name(), stdin.Type())
		}
		child.File.Dir = filepath.Dir(full)
		ct := &starlark.Thread{Name: path, Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") }}
		builtins.SetSession(ct, &child)
		ctx := sys.Context(thread)
		sys.SetContext(ct, ctx)
		g := builtins.Globals(&child)
		ct.Load = load.New(fileOptions, maps.Clone(g), builtins.InheritThread).Load
		stop := context.AfterFunc(ctx, func() { ct.Cancel("interrupted") })
		defer stop()
		_, err = starlark.ExecFileOptions(fileOptions, ct, path, src, g)
		code := exitOK
		if err != nil {
			var exit *sys.ExitError
			if errors.As(err, &exit) {
				code = exit.Code
			} else {
				if ctx.Err() != nil {
					return nil, err
				}
				code = exitError
				errOut.WriteString(formatError(err))
			}
		}
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"code": starlark.MakeInt(code), "stdout": starlark.String(out.String()), "stderr": starlark.String(errOut.String()),
		}), nil
	})
}

// goTestFlags rewrites go test's single-dash -run of `k8sh test` into the
// --run that the command line takes (pflag reads -run as -r -u -n).
func goTestFlags(args []string) []string {
	if len(args) == 0 || args[0] != "test" {
		return args
	}
	out := append([]string(nil), args...)
	for i, a := range out[1:] {
		if a == "--" {
			break
		}
		if a == "-run" || strings.HasPrefix(a, "-run=") {
			out[i+1] = "-" + a
		}
	}
	return out
}
