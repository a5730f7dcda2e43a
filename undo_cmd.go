package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
)

// journalDir is where the journal keeps runs: $XDG_STATE_HOME/k8sh/journal,
// ~/.local/state/k8sh/journal by default ("" when there is no home).
func journalDir() string {
	h := historyPath()
	if h == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(h), "journal")
}

// newJournal starts the journal of this run on flags' clients (nil when
// there is nowhere to keep it).
func newJournal(flags *genericclioptions.ConfigFlags, command []string, policy *builtins.Policy) *kube.Journal {
	dir := journalDir()
	if dir == "" {
		return nil
	}
	info, _ := kube.NewClient(flags).Context()
	j := kube.NewJournal(dir, kube.RunInfo{Context: info.Name, Namespace: info.Namespace, Command: command}, policy.Journal.Options())
	j.Attach(flags)
	return j
}

// addUndoCommands adds `k8sh undo` and `k8sh history`.
func addUndoCommands(root *cobra.Command, flags *genericclioptions.ConfigFlags, stdin io.Reader, stdout, stderr io.Writer, status *int) {
	var plan, force, yes bool
	undo := &cobra.Command{
		Use:   "undo [RUN] [--plan] [--force] [--yes]",
		Short: "Take back the changes of a run of k8sh (the last one by default)",
		Long: `Take back what a run of k8sh changed (a script, -c, standard input, a REPL session),
from its journal: what it created is deleted, what it deleted is created again,
what it changed gets its previous state back, newest first. An object changed
since the run is refused, naming who changed it, unless --force. --plan shows
what undo would do and changes nothing. The undo is a run of its own: k8sh undo
again takes it back. k8sh history lists the runs. See docs/plan.md.`,
		Example: `  k8sh undo --plan
  k8sh undo
  k8sh undo 20261206-040512 --force`,
		Args:                  cobra.MaximumNArgs(1),
		DisableFlagsInUseLine: true,
		SilenceErrors:         true,
		SilenceUsage:          true,
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			*status = undoCLI(flags, cmd.Flags().Changed("context"), id, plan, force, yes, stdin, stdout, stderr)
			return nil
		},
	}
	undo.Flags().BoolVar(&plan, "plan", false, "show what undo would do; change nothing")
	undo.Flags().BoolVar(&force, "force", false, "undo objects changed since the run too")
	undo.Flags().BoolVar(&yes, "yes", os.Getenv("K8SH_YES") == "1", "allow it in protected contexts without asking (also K8SH_YES=1)")
	root.AddCommand(undo)

	history := &cobra.Command{
		Use:   "history [RUN]",
		Short: "List the runs of k8sh that changed a cluster, or the changes of one",
		Long: `List the runs of k8sh that changed a cluster, oldest first, from the journal
($XDG_STATE_HOME/k8sh/journal): id, time, context, changes, whether they were
undone, and the command. With a RUN (an id, or the start of one), list its
changes in order.`,
		Args:                  cobra.MaximumNArgs(1),
		DisableFlagsInUseLine: true,
		SilenceErrors:         true,
		SilenceUsage:          true,
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			*status = historyCLI(id, stdout, stderr)
			return nil
		},
	}
	root.AddCommand(history)
}

// undoneState says whether the changes of run were undone: "no", "yes
// (by RUN)", "partly (2/5)".
func undoneState(run *kube.Run, undone map[int]string) (string, int) {
	var made []*kube.JournalChange
	for _, c := range run.Made() {
		if c.Undo != run.ID { // k8s.undo's own changes in the session
			made = append(made, c)
		}
	}
	n, by := 0, ""
	for _, c := range made {
		if u, ok := undone[c.Seq]; ok {
			n++
			by = u
		}
	}
	switch {
	case n == 0:
		return "no", len(made)
	case n == len(made) && by == run.ID:
		return "yes (in the session)", len(made)
	case n == len(made):
		return "yes (by " + by + ")", len(made)
	}
	return fmt.Sprintf("partly (%d/%d)", n, len(made)), len(made)
}

func historyCLI(id string, stdout, stderr io.Writer) int {
	runs, err := kube.ReadRuns(journalDir())
	if err != nil {
		fmt.Fprintf(stderr, "k8sh history: %v\n", err)
		return exitError
	}
	if id != "" {
		run, err := kube.FindRun(runs, id)
		if err != nil {
			fmt.Fprintf(stderr, "k8sh history: %v\n", err)
			return exitError
		}
		undone := kube.UndoneSeqs(runs, run.ID)
		fmt.Fprintf(stdout, "Run %s at %s in context %s: %s\n", run.ID, run.Time.Local().Format("2006-01-02 15:04:05"), run.Context, commandLine(run.Command))
		for _, c := range run.Changes {
			fmt.Fprintln(stdout, printers.EscapeTerminal(kube.DescribeChange(c, undone[c.Seq])))
		}
		return exitOK
	}
	if len(runs) == 0 {
		fmt.Fprintf(stderr, "No runs in the journal (%s).\n", journalDir())
		return exitOK
	}
	w := printers.GetNewTabWriter(stdout)
	fmt.Fprintln(w, "RUN\tTIME\tCONTEXT\tCHANGES\tUNDONE\tCOMMAND")
	for _, r := range runs {
		state, n := undoneState(r, kube.UndoneSeqs(runs, r.ID))
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Time.Local().Format("2006-01-02 15:04:05"), r.Context, n, state, printers.EscapeTerminal(commandLine(r.Command)))
	}
	w.Flush()
	return exitOK
}

// commandLine is args as a shell would take them back.
func commandLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func undoCLI(flags *genericclioptions.ConfigFlags, contextGiven bool, id string, plan, force, yes bool, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "k8sh undo: %v\n", err)
		return exitError
	}
	dir := journalDir()
	runs, err := kube.ReadRuns(dir)
	if err != nil {
		return fail(err)
	}
	run, err := kube.FindRun(runs, id)
	if err != nil {
		return fail(err)
	}
	if contextGiven && *flags.Context != run.Context {
		return fail(fmt.Errorf("run %s was in context %q, not %q: undo changes the contexts the run changed", run.ID, run.Context, *flags.Context))
	}
	undone := kube.UndoneSeqs(runs, run.ID)
	if state, _ := undoneState(run, undone); strings.HasPrefix(state, "yes") {
		by := ""
		for _, u := range undone {
			by = u
		}
		if by == run.ID {
			return fail(fmt.Errorf("run %s is undone already: it undid its changes itself (k8s.undo)", run.ID))
		}
		return fail(fmt.Errorf("run %s is undone already (by run %s): k8sh undo %s brings its changes back", run.ID, by, by))
	}
	policy, err := builtins.LoadPolicy(configPath())
	if err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var j *kube.Journal
	if !plan {
		j = kube.NewJournal(dir, kube.RunInfo{Context: run.Context, Namespace: run.Namespace, Command: append([]string{"k8sh"}, os.Args[1:]...)}, policy.Journal.Options())
		j.SetUndoes(run.ID)
		j.Attach(flags)
		defer j.Close()
	}
	clients := kube.NewClients(flags)
	p, err := kube.PlanUndo(ctx, run, undone, clients.For, kube.UndoOptions{Force: force})
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(stdout, "Undo of run %s (%s, context %s): %s\n", run.ID, run.Time.Local().Format("2006-01-02 15:04:05"), run.Context, printers.EscapeTerminal(commandLine(run.Command)))
	if plan {
		for _, s := range p.Steps {
			fmt.Fprintln(stdout, printers.EscapeTerminal(s.String()))
			if s.Diff != "" {
				fmt.Fprint(stdout, indent(printers.EscapeTerminal(s.Diff), "    "))
			}
		}
		fmt.Fprintf(stdout, "Undo plan: %s.\n", p.Summary())
		return exitOK
	}
	for _, name := range p.Contexts() {
		switch {
		case policy.IsReadOnly(name):
			return fail(fmt.Errorf("context %q is read-only (read_only in the k8sh config): refusing to undo run %s", name, run.ID))
		case policy.IsProtected(name) && !yes:
			if err := confirmContext(name, run.ID, stdin, stderr); err != nil {
				return fail(err)
			}
		}
	}
	err = p.Do(ctx, clients.For, j)
	code, conflicts := exitOK, 0
	for _, s := range p.Steps {
		line := printers.EscapeTerminal(s.Done(false))
		if s.Err != nil || s.Action == kube.UndoRefuse {
			fmt.Fprintln(stderr, line)
			code = exitError
			if s.Conflict != "" {
				conflicts++
			}
			continue
		}
		fmt.Fprintln(stdout, line)
	}
	if err != nil {
		return fail(err)
	}
	if conflicts > 0 && !force {
		fmt.Fprintf(stderr, "k8sh: %d object(s) changed since the run were left alone: k8sh undo %s --force undoes them anyway\n", conflicts, run.ID)
	}
	if path := j.Path(); path != "" {
		fmt.Fprintf(stderr, "k8sh: this undo is run %s: k8sh undo %s takes it back\n", j.ID(), j.ID())
	}
	return code
}

// confirmContext asks the user on the terminal to type the name of the
// protected context name; without a terminal it fails, wanting --yes.
func confirmContext(name, id string, stdin io.Reader, stderr io.Writer) error {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("context %q is protected: refusing to undo run %s without --yes (or K8SH_YES=1)", name, id)
	}
	fmt.Fprintf(stderr, "context %q is protected. To undo run %s there, type the context's name: ", name, id)
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if strings.TrimSpace(line) != name {
		return fmt.Errorf("not confirmed: nothing was changed in context %q", name)
	}
	return nil
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
