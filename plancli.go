package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/fatih/color"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
)

// exitChanges is the status of --plan --detailed-exitcode when the plan
// has changes, as terraform plan -detailed-exitcode.
const exitChanges = 2

// planOptions are the flags of plans (docs/plan.md).
type planOptions struct {
	plan         bool   // --plan: plan the run, print the plan, change nothing
	planOut      string // --plan-out: write the plan file
	applyPlan    string // --apply-plan: apply a plan file
	confirm      bool   // --confirm: plan, show, ask, apply
	detailedExit bool   // --detailed-exitcode
	planner      *kube.Planner
}

func addPlanFlags(cmd *cobra.Command, o *planOptions) {
	cmd.Flags().BoolVar(&o.plan, "plan", false, "plan the run: every change is a server-side dry run whose result later reads see; print the plan, change nothing")
	cmd.Flags().StringVar(&o.planOut, "plan-out", "", "with --plan, also write the plan to FILE, for --apply-plan")
	cmd.Flags().StringVar(&o.applyPlan, "apply-plan", "", "make the changes of the plan FILE (--plan-out), each checked against the object as the plan saw it")
	cmd.Flags().BoolVar(&o.confirm, "confirm", false, "plan the run, print the plan, ask (y/N) on the terminal, then apply the plan")
	cmd.Flags().BoolVar(&o.detailedExit, "detailed-exitcode", false, "with --plan: exit 0 when the plan changes nothing, 2 when it has changes, 1 on an error")
}

// checkPlanFlags says what is wrong with the plan flags of a run of args.
func checkPlanFlags(o *planOptions, opts *options, args []string) error {
	planning := o.plan || o.confirm
	switch {
	case o.plan && o.confirm:
		return errors.New("--plan and --confirm cannot go together: --confirm plans first")
	case planning && opts.dryRun:
		return errors.New("--plan and --confirm cannot go with --dry-run")
	case planning && o.applyPlan != "":
		return errors.New("--apply-plan applies a plan made before: it cannot go with --plan or --confirm")
	case o.planOut != "" && !o.plan:
		return errors.New("--plan-out goes with --plan")
	case o.detailedExit && !o.plan:
		return errors.New("--detailed-exitcode goes with --plan")
	case o.applyPlan != "" && (len(args) > 0 || opts.hasCode):
		return errors.New("--apply-plan takes no script: it makes the changes of the plan file")
	case planning && len(args) == 0 && !opts.hasCode:
		return errors.New("--plan and --confirm need a script, -c CODE or - (in the REPL, use k8s.plan(fn))")
	}
	return nil
}

// beginPlan starts the plan of a run in the session's context.
func beginPlan(s *builtins.Session, o *planOptions) error {
	info, err := s.Cluster.Context()
	if err != nil {
		return err
	}
	return o.planner.Begin(info.Name, info.Namespace)
}

// endPlan ends the plan of a run whose status is status: it prints the plan
// to stdout (in colour on a terminal), writes --plan-out, and with
// --confirm asks and applies it. It returns the run's status.
func endPlan(flags *genericclioptions.ConfigFlags, opts options, status int, stdin io.Reader, stdout, stderr io.Writer) int {
	o := &opts.planOpts
	stopped := o.planner.Stopped()
	p := o.planner.End()
	if p == nil {
		return status
	}
	p.Command = strings.Join(os.Args, " ")
	p.Write(stdout, printers.AllowsColorOutput(stdout) && !color.NoColor)
	if status != exitOK {
		if stopped != nil {
			fmt.Fprintln(stderr, stopped) // "k8sh plan: cannot watch ..."
		}
		fmt.Fprintln(stderr, "k8sh: the run failed: the plan above is what it planned until then")
		return status
	}
	if o.planOut != "" {
		if err := kube.SavePlan(p, o.planOut); err != nil {
			fmt.Fprintf(stderr, "k8sh: --plan-out: %v\n", err)
			return exitError
		}
	}
	if o.plan {
		if o.detailedExit && len(p.Changes) > 0 {
			return exitChanges
		}
		return exitOK
	}
	// --confirm
	if len(p.Changes) == 0 {
		fmt.Fprintln(stdout, "Nothing to apply.")
		return exitOK
	}
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(stderr, "k8sh: --confirm asks on a terminal, and standard input is not one: nothing was changed (use --plan --plan-out FILE, then --apply-plan FILE)")
		return exitError
	}
	policy, err := builtins.LoadPolicy(configPath())
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitError
	}
	want, prompt := "y", fmt.Sprintf("Apply these changes in %s? (y/N) ", p.Where())
	if policy.IsProtected(p.Context) && !opts.yes {
		want, prompt = p.Context, fmt.Sprintf("context %q is protected. To apply these changes in %s, type the context's name: ", p.Context, p.Where())
	}
	fmt.Fprint(stdout, prompt)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	line = strings.TrimSpace(line)
	if !(line == want || want == "y" && strings.EqualFold(line, "yes") || want == "y" && line == "Y") {
		fmt.Fprintln(stderr, "k8sh: not confirmed: nothing was changed")
		return exitError
	}
	return applyPlan(flags, p, policy, true, stdout, stderr)
}

// applyPlanFile is k8sh --apply-plan FILE.
func applyPlanFile(flags *genericclioptions.ConfigFlags, opts options, stdout, stderr io.Writer) int {
	p, err := kube.LoadPlan(opts.planOpts.applyPlan)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: --apply-plan: %v\n", err)
		return exitError
	}
	policy, err := builtins.LoadPolicy(configPath())
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitError
	}
	if opts.command != nil { // a plan being applied is a run of the journal, as any other
		defer newJournal(flags, opts.command, policy).Close() // undo_cmd.go
	}
	return applyPlan(flags, p, policy, opts.yes, stdout, stderr)
}

// applyPlan makes the changes of p in the context of flags, which must be
// the plan's, as the safety policy allows: never in a read-only context, in
// a protected one only when yes (--yes, or confirmed).
func applyPlan(flags *genericclioptions.ConfigFlags, p *kube.Plan, policy *builtins.Policy, yes bool, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "k8sh: --apply-plan: %s\n", printers.EscapeTerminal(err.Error()))
		return exitError
	}
	c := kube.NewClient(flags)
	info, err := c.Context()
	if err != nil {
		return fail(err)
	}
	switch {
	case info.Name != p.Context:
		return fail(fmt.Errorf("the plan was made in context %q, and this is %q (--context %s applies it there)", p.Context, info.Name, p.Context))
	case policy.IsReadOnly(info.Name):
		return fail(fmt.Errorf("context %q is read-only (read_only in the k8sh config): refusing to apply a plan", info.Name))
	case policy.IsProtected(info.Name) && !yes:
		return fail(fmt.Errorf("context %q is protected: refusing to apply a plan without --yes (or K8SH_YES=1)", info.Name))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	_, err = c.ApplyPlan(ctx, p, func(ch *kube.PlanChange) {
		fmt.Fprintln(stdout, builtins.AppliedLine(ch))
	})
	if err != nil {
		return fail(err)
	}
	cnt := p.Counts()
	fmt.Fprintf(stdout, "Applied: %d created, %d changed, %d deleted in %s\n", cnt.Create, cnt.Update, cnt.Delete, p.Where())
	return exitOK
}
