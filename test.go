package main

import (
	"context"
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
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/internal/testrun"
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
				thread, globals, _, _, err := newThread(flags, opts, []string{file}, dir, nil, stdout, stderr)
				if err != nil {
					return nil, nil, nil, err
				}
				sys.SetContext(thread, ctx)
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
