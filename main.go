// Command k8sh is a Kubernetes shell whose language is Starlark.
//
//	k8sh                      the REPL (on a terminal)
//	k8sh script.star [args]   run a script; sys.argv is [script.star, args...]
//	k8sh -c CODE [args]       run CODE
//	k8sh - [args]             run the program read from standard input
//	k8sh exec POD -- CMD...   kubectl exec (-i, -t, -c CONTAINER)
//
// Kubeconfig flags are kubectl's: --kubeconfig, --context, -n/--namespace, ...
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
	"strings"
	"time"

	"github.com/fatih/color"
	"github.com/spf13/cobra"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/internal/initgc"
	"github.com/k8sh/k8sh/internal/starerr"
	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/load"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/repl"
)

// Exit statuses.
const (
	exitOK        = 0
	exitError     = 1 // a Starlark error, fail(), or an API error
	exitUsage     = 2 // bad flags, missing script
	exitInterrupt = 130
)

func main() {
	initgc.Restore() // the collector was off during package init (internal/initgc)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// fileOptions are the Starlark dialect of k8sh: sets, while loops, and
// top-level if/for, as scripts want them.
var fileOptions = &syntax.FileOptions{
	Set:             true,
	While:           true,
	TopLevelControl: true,
	GlobalReassign:  true,
	Recursion:       true,
}

type options struct {
	code      string
	hasCode   bool
	dryRun    bool
	readOnly  bool
	yes       bool
	timeout   time.Duration
	maxSteps  uint64
	sandbox   bool
	allowExec bool
	verbose   bool
	logFormat string
	record    string                    // --record: the cassette to write
	replay    string                    // --replay: the cassette to answer from
	now       func() (time.Time, error) // time.now's clock when not the real one (--record's)
	planOpts  planOptions               // --plan, --apply-plan, --confirm (plancli.go)
	command   []string                  // the command line, for the journal (undo_cmd.go); nil: no journal
}

// sandboxMaxSteps is the step budget of --sandbox without --max-steps: a
// few seconds of Starlark, far more than a script that reads and changes
// objects spends, and an end to one that loops forever.
const sandboxMaxSteps = 100_000_000

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	kube.SilenceClientLogs()
	flags := kube.NewConfigFlags()
	kube.PrintWarnings(flags, stderr)
	var opts options
	cmdline := append([]string{"k8sh"}, args...)
	status := exitOK
	cmd := &cobra.Command{
		Use:   "k8sh [flags] [script.star | -c CODE | -] [args...]",
		Short: "k8sh: a Kubernetes shell whose language is Starlark",
		Long: `k8sh runs Starlark against Kubernetes clusters: interactively (no arguments, on a
terminal), a script file, -c CODE, or a program read from standard input (-).
A script's arguments reach it as sys.argv, the script path first.`,
		SilenceErrors:         true,
		SilenceUsage:          true,
		DisableFlagsInUseLine: true,
		Args:                  cobra.ArbitraryArgs,
		ValidArgsFunction:     completeScript,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.hasCode = cmd.Flags().Changed("code")
			opts.command = cmdline
			if opts.sandbox && !cmd.Flags().Changed("yes") {
				opts.yes = false // K8SH_YES=1 in the environment does not extend to a script run with --sandbox
			}
			if err := kube.CheckLogFormat(opts.logFormat); err != nil {
				return err
			}
			if opts.verbose {
				if err := kube.LogRequests(flags, stderr, opts.logFormat); err != nil {
					return err
				}
			}
			if opts.record != "" && opts.replay != "" {
				return errors.New("--record and --replay cannot go together")
			}
			var rec *kube.Recorder
			if opts.record != "" {
				var err error
				if rec, err = kube.Record(flags); err != nil {
					return err
				}
				opts.now = rec.Now
			}
			if err := checkPlanFlags(&opts.planOpts, &opts, args); err != nil {
				return err
			}
			opts.planOpts.planner = kube.PlanRequests(flags) // outside the recorder: it records the dry runs sent
			if opts.planOpts.applyPlan != "" {
				status = applyPlanFile(flags, opts, stdout, stderr)
				return nil
			}
			status = execute(flags, opts, args, stdin, stdout, stderr)
			if rec != nil {
				if err := rec.Save(opts.record); err != nil {
					fmt.Fprintf(stderr, "k8sh: --record: %v\n", err)
					status = exitError
				}
			}
			return nil
		},
	}
	cmd.SetArgs(goTestFlags(args))
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&opts.code, "code", "c", "", "run CODE instead of a script; the arguments after it are sys.argv[1:]")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "make every change a server-side dry run: nothing is persisted")
	cmd.Flags().BoolVar(&opts.readOnly, "read-only", false, "refuse every change, before any request is sent")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", 0, "end the run after this long (e.g. 30s, 5m); 0 for no limit")
	cmd.Flags().Uint64Var(&opts.maxSteps, "max-steps", 0, "end the run after this many Starlark steps (each module load, handler call and reconcile has as many of its own), for scripts you did not write; 0 for no limit")
	cmd.Flags().BoolVar(&opts.yes, "yes", os.Getenv("K8SH_YES") == "1", "allow changes in protected contexts without asking (also K8SH_YES=1)")
	cmd.Flags().BoolVar(&opts.sandbox, "sandbox", false, "for a script you did not write: no file.write, no environment, file reads only under the script's directory, no sys.exec, a step budget (--max-steps, 100000000 by default)")
	cmd.Flags().BoolVar(&opts.allowExec, "allow-exec", false, "with --sandbox, allow sys.exec")
	cmd.Flags().BoolVarP(&opts.verbose, "verbose", "v", false, "log each API request (verb, URL, status, duration) to stderr")
	cmd.Flags().StringVar(&opts.logFormat, "log-format", "text", "format of the -v lines: text or json")
	cmd.Flags().StringVar(&opts.record, "record", "", "write every API request of the run and its answer to the cassette FILE (Secrets' data and tokens left out), for --replay")
	cmd.Flags().StringVar(&opts.replay, "replay", "", "answer every API request from the cassette FILE that --record wrote, with no cluster: a request it does not hold fails, naming it")
	addPlanFlags(cmd, &opts.planOpts)
	flags.AddFlags(cmd.PersistentFlags()) // `k8sh version` reads them too
	// In a pod without a kubeconfig: the pod's service account.
	cmd.PersistentPreRun = func(*cobra.Command, []string) { kube.UseInCluster(flags) }
	addShellCommands(cmd, flags, stdout)
	addExecCommand(cmd, flags, stdin, stdout, stderr, &status)
	addTestCommand(cmd, flags, stdin, stdout, stderr, &status)
	addUndoCommands(cmd, flags, stdin, stdout, stderr, &status) // undo_cmd.go
	addJobCommand(cmd, flags, stdout, stderr, &status)
	addRunCommand(cmd, flags, stdin, stdout, stderr, &status)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\nRun 'k8sh --help' for usage.\n", err)
		return exitUsage
	}
	return status
}

func execute(flags *genericclioptions.ConfigFlags, opts options, args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	var (
		filename string
		src      any
		argv     []string
		dir      string    // the file module's directory: the script's, else the working directory
		input    io.Reader // sys.stdin_read's
	)
	switch {
	case opts.hasCode:
		filename, src, argv, input = "-c", opts.code, append([]string{"-c"}, args...), stdin
	case len(args) > 0 && args[0] == "-":
		data, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "k8sh: reading standard input: %v\n", err)
			return exitError
		}
		filename, src, argv = "<stdin>", data, args
	case len(args) > 0:
		data, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintf(stderr, "k8sh: %v\n", err)
			return exitUsage
		}
		filename, src, argv, input = args[0], data, args, stdin
		if dir, err = filepath.Abs(filepath.Dir(args[0])); err != nil {
			fmt.Fprintf(stderr, "k8sh: %v\n", err)
			return exitUsage
		}
	default:
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return interactive(flags, opts, stdout, stderr)
		}
		data, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "k8sh: reading standard input: %v\n", err)
			return exitError
		}
		filename, src, argv = "<stdin>", data, []string{"-"}
	}

	thread, globals, sess, _, err := newThread(flags, opts, argv, dir, input, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitUsage
	}
	defer sess.Journal.Close()
	defer builtins.EndSession(thread) // a script's port-forwards and fake clusters end with it
	if opts.planOpts.plan || opts.planOpts.confirm {
		if err := beginPlan(sess, &opts.planOpts); err != nil {
			fmt.Fprintf(stderr, "k8sh: %v\n", err)
			return exitError
		}
		defer func() { status = endPlan(flags, opts, status, stdin, stdout, stderr) }()
	}
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx := sigCtx
	if opts.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.timeout)
		defer cancel()
	}
	if opts.sandbox && opts.maxSteps == 0 {
		opts.maxSteps = sandboxMaxSteps
	}
	if opts.maxSteps > 0 {
		thread.SetMaxExecutionSteps(opts.maxSteps)
		sess.MaxSteps = opts.maxSteps // each module, handler call, reconcile
	}
	sys.SetContext(thread, ctx)
	if opts.planOpts.plan || opts.planOpts.confirm {
		sys.SetContext(thread, opts.planOpts.planner.Bind(ctx)) // ended by a watch the plan cannot answer
	}
	thread.Load = load.New(fileOptions, maps.Clone(globals), builtins.InheritThread).Load
	go func() {
		<-ctx.Done()
		thread.Cancel("interrupted")
	}()
	_, err = starlark.ExecFileOptions(fileOptions, thread, filename, src, globals)
	if err != nil {
		var exit *sys.ExitError
		switch {
		case errors.As(err, &exit):
			return exit.Code
		case sigCtx.Err() != nil:
			printInterrupted(stderr, err)
			fmt.Fprintln(stderr, "k8sh: interrupted")
			return exitInterrupt
		case ctx.Err() != nil:
			printInterrupted(stderr, err)
			fmt.Fprintf(stderr, "k8sh: timed out after %s (--timeout)\n", opts.timeout)
			return exitError
		}
		fmt.Fprint(stderr, formatError(err))
		if opts.maxSteps > 0 && thread.ExecutionSteps() >= opts.maxSteps {
			fmt.Fprintf(stderr, "k8sh: the program used its budget of %d steps (--max-steps)\n", opts.maxSteps)
		}
		return exitError
	}
	notRun(sess, filename, stderr) // runcmd.go
	return exitOK
}

// dryRunNote is the line --dry-run writes to stderr first.
const dryRunNote = "k8sh: --dry-run: changes are sent as server-side dry runs; nothing is persisted"

// newThread makes the thread of a run and its predeclared names: argv is
// sys.argv, dir the file module's directory ("" for the working one),
// stdin what sys.stdin_read reads (nil for nothing).
func newThread(flags *genericclioptions.ConfigFlags, opts options, argv []string, dir string, stdin io.Reader, stdout, stderr io.Writer) (thread *starlark.Thread, globals starlark.StringDict, s *builtins.Session, clients *kube.Clients, err error) {
	policy, err := builtins.LoadPolicy(configPath())
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if opts.dryRun {
		fmt.Fprintln(stderr, dryRunNote)
	}
	thread = &starlark.Thread{
		Name: "main",
		Print: func(_ *starlark.Thread, msg string) {
			fmt.Fprintln(stdout, msg)
		},
	}
	clients = kube.NewClients(flags)
	s = &builtins.Session{
		Cluster:    kube.NewClient(flags),
		ForContext: func(name string) (builtins.Cluster, error) { return clients.For(name) },
		Contexts:   clients,
		DryRun:     opts.dryRun,
		Planner:    opts.planOpts.planner,
		Sys:        sys.Options{Argv: argv, Stdin: stdin, Stderr: stderr, Sandbox: opts.sandbox, AllowExec: opts.allowExec},
		File:       file.Options{Dir: dir, Sandbox: opts.sandbox},
		Policy:     policy,
		ReadOnly:   opts.readOnly,
		Yes:        opts.yes,
		Now:        opts.now,
	}
	if opts.replay != "" {
		path, err := filepath.Abs(opts.replay) // the command line's: relative to the working directory
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if err := builtins.UseReplay(s, path); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("--replay: %w", err)
		}
	}
	s.Terminal = userTerminal(stdout)
	if opts.command != nil && opts.replay == "" {
		s.Journal = newJournal(flags, opts.command, policy) // undo_cmd.go
	}
	builtins.SetSession(thread, s)
	return thread, builtins.Globals(s), s, clients, nil
}

// userTerminal is the terminal k8s.shell takes over: k8sh's standard input
// when it and stdout are one, else nil.
func userTerminal(stdout io.Writer) builtins.Terminal {
	out, _ := stdout.(*os.File)
	t := &repl.Terminal{In: os.Stdin, Out: out}
	if !t.IsTerminal() {
		return nil
	}
	return t
}

// configPath is k8sh's config file: $XDG_CONFIG_HOME/k8sh/config.yaml,
// ~/.config/k8sh/config.yaml by default.
func configPath() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "k8sh", "config.yaml")
}

// formatError prints a Starlark error as "file:line:col: message", then the
// call stack when the error happened inside a function. Messages quote
// server text (an admission policy's message, a condition's message), so
// terminal escapes in them are made harmless as kubectl's printers make
// them in tables (printers.EscapeTerminal: ESC prints as "^[").
func formatError(err error) string {
	return printers.EscapeTerminal(formatErrorRaw(err))
}

func formatErrorRaw(err error) string { return starerr.Format(err, false) }

func interactive(flags *genericclioptions.ConfigFlags, opts options, stdout, stderr io.Writer) int {
	thread, globals, session, clients, err := newThread(flags, opts, []string{""}, "", nil, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitUsage
	}
	defer builtins.EndSession(thread)
	defer session.Journal.Close()
	session.Announce = func(line string) { fmt.Fprintln(stdout, line) }
	thread.Load = load.New(fileOptions, maps.Clone(globals), builtins.InheritThread).Load
	background := builtins.BackgroundOf(session) // k8s.on's handlers run while the user types
	protected := color.New(color.FgRed, color.Bold)
	prompt := func() string {
		info, err := session.Cluster.Context()
		if err != nil || info.Name == "" {
			return "k8sh> "
		}
		where := info.Name + ":" + info.Namespace
		if session.Policy.IsProtected(info.Name) {
			where = protected.Sprint(where)
		}
		return "k8sh " + where + "> "
	}
	err = repl.Run(repl.Config{
		Thread:      thread,
		Globals:     globals,
		FileOptions: fileOptions,
		Prompt:      prompt,
		Echo:        func(v starlark.Value) string { return builtins.REPLEcho(thread, v) },
		SetContext: func(t *starlark.Thread, ctx context.Context) {
			sys.SetContext(t, ctx)
			builtins.BeginStatement(t)
		},
		FormatError: formatError,
		Ends:        func(err error) bool { var exit *sys.ExitError; return errors.As(err, &exit) },
		SetAsk:      func(ask func(string) (string, error)) { session.Confirm = ask },
		Source:      builtins.NewCompletionSource(session, clients),
		HistoryFile: historyPath(),
		Stdout:      stdout,
		Stderr:      stderr,

		Turn:                background.Turn(),
		SetBackgroundOutput: background.SetOutput,
	})
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.Code
	case err != nil:
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitError
	}
	return exitOK
}

// historyPath is the REPL's history file: $XDG_STATE_HOME/k8sh/history,
// ~/.local/state/k8sh/history by default.
func historyPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "k8sh", "history")
}

// printInterrupted says, before a script's run ends at Ctrl-C or
// --timeout, what the call on many objects it stopped did: how many were
// done, which are of unknown outcome, how many were not sent.
func printInterrupted(stderr io.Writer, err error) {
	summary, ok := kube.Interrupted(err)
	if !ok {
		return
	}
	where, call := "", "a call"
	if ee, stack, ok := starerr.Frames(err); ok {
		if n := len(stack); n > 0 {
			where = stack[n-1].Pos.String() + ": "
		}
		if name, _, found := strings.Cut(ee.Msg, ": "); found && !strings.Contains(name, " ") {
			call = name
		}
	}
	fmt.Fprintf(stderr, "%s%s was stopped: %s\n", where, call, summary)
}
