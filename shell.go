package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/repl"
)

// shellCompletionWait bounds how long a shell's TAB waits for the cluster
// (the namespaces of -n).
const shellCompletionWait = 3 * time.Second

// addShellCommands adds `k8sh version` and the completion of k8sh's
// command line in bash, zsh, fish and PowerShell (cobra's `k8sh completion
// SHELL`): flags, kubeconfig contexts for --context, namespaces for -n and
// .star files for the script.
func addShellCommands(root *cobra.Command, flags *genericclioptions.ConfigFlags, stdout io.Writer) {
	root.CompletionOptions.HiddenDefaultCmd = false
	contexts := func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		infos, err := kube.NewClients(flags).Contexts()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var names []string
		for _, c := range infos {
			if strings.HasPrefix(c.Name, prefix) {
				names = append(names, c.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	namespaces := func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), shellCompletionWait)
		defer cancel()
		var names []string
		for _, n := range kube.NewNameCache(kube.NewClient(flags)).Names(ctx, "namespaces", "") {
			if strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	root.RegisterFlagCompletionFunc("context", contexts)
	root.RegisterFlagCompletionFunc("namespace", namespaces)
	root.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions(kube.LogFormats, cobra.ShellCompDirectiveNoFileComp))
	for _, f := range []string{"kubeconfig", "certificate-authority", "client-certificate", "client-key"} {
		root.RegisterFlagCompletionFunc(f, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return nil, cobra.ShellCompDirectiveDefault
		})
	}
	for _, f := range []string{"code", "timeout", "max-steps", "server", "token", "user", "cluster", "as", "as-group", "as-uid", "request-timeout", "tls-server-name", "username", "password", "cache-dir"} {
		if root.Flags().Lookup(f) != nil {
			root.RegisterFlagCompletionFunc(f, cobra.NoFileCompletions)
		}
	}

	var clientOnly bool
	version := &cobra.Command{
		Use:   "version",
		Short: "Print the version of k8sh, its parts, and of the current context's server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(stdout, versionText())
			if clientOnly {
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c := kube.NewClient(flags)
			info, _ := c.Context()
			v, err := c.ServerVersion(ctx)
			if err != nil {
				fmt.Fprintf(stdout, "%-12s unknown (%v)\n", "Server:", err)
				return nil
			}
			fmt.Fprintf(stdout, "%-12s %s (context %s)\n", "Server:", v, info.Name)
			return nil
		},
	}
	version.Flags().BoolVar(&clientOnly, "client", false, "only k8sh's own version: do not contact the server")
	root.AddCommand(version)
}

// completeScript completes k8sh's first argument: .star files, and
// directories to find them in (next to the subcommands cobra adds). Later
// arguments are the script's own: files.
func completeScript(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	matches, _ := filepath.Glob(toComplete + "*")
	var out []string
	hidden := strings.HasPrefix(toComplete[strings.LastIndex(toComplete, "/")+1:], ".")
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), ".") && !hidden {
			continue
		}
		fi, err := os.Stat(m)
		switch {
		case err != nil:
		case fi.IsDir():
			out = append(out, m+"/")
		case strings.HasSuffix(m, ".star"):
			out = append(out, m)
		}
	}
	directive := cobra.ShellCompDirectiveNoFileComp
	for _, m := range out {
		if strings.HasSuffix(m, "/") {
			directive |= cobra.ShellCompDirectiveNoSpace // a directory goes on: scripts/<TAB>
			break
		}
	}
	return out, directive
}

// versionText describes this build of k8sh from its build information: the
// module version (or the VCS revision of a build from a checkout) and the
// versions of the libraries its behaviour depends on.
func versionText() string {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%-12s %s\n", k+":", v) }
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		line("k8sh", "unknown (no build information)")
		line("Go", runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
		return b.String()
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	v := bi.Main.Version // a pseudo-version from the VCS since Go 1.24: v0.0.0-<time>-<rev>[+dirty]
	if rev := settings["vcs.revision"]; rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) {
		v += " (commit " + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			v += ", modified"
		}
		v += ")"
	}
	line("k8sh", v)
	line("Go", bi.GoVersion+" "+runtime.GOOS+"/"+runtime.GOARCH)
	deps := map[string]string{}
	for _, d := range bi.Deps {
		deps[d.Path] = d.Version
	}
	for _, d := range []struct{ name, path string }{
		{"client-go", "k8s.io/client-go"},
		{"Starlark", "go.starlark.net"},
	} {
		if v, ok := deps[d.path]; ok {
			line(d.name, v)
		}
	}
	return b.String()
}

// addExecCommand adds `k8sh exec`, kubectl exec's command line: the same
// flags, the same pod picked for a workload, the same streams, and its exit
// status: the command's own, after "command terminated with exit code N"
// on stderr. The k8sh config's read-only contexts refuse it and protected
// ones want --yes (or K8SH_YES=1), as they do k8s.exec.
func addExecCommand(root *cobra.Command, flags *genericclioptions.ConfigFlags, stdin io.Reader, stdout, stderr io.Writer, status *int) {
	var (
		container            string
		useStdin, tty, quiet bool
		yes                  = os.Getenv("K8SH_YES") == "1"
	)
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]",
		Short: "Execute a command in a container, as kubectl exec does",
		Long: `Execute a command in a container, as kubectl exec does: -i passes standard input,
-i -t a terminal (raw, resized with the window, Ctrl-C to the remote process).
The exit status is the command's.`,
		Example: `  k8sh exec web-5fc9 -- date
  k8sh exec deploy/web -c app -i -t -- sh`,
		DisableFlagsInUseLine: true,
		SilenceErrors:         true,
		SilenceUsage:          true,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			var target string
			var command []string
			switch {
			case dash == 0 || len(args) == 0:
				return fmt.Errorf("pod, type/name must be specified")
			case dash == 1:
				target, command = args[0], args[1:]
			case dash < 0 && len(args) == 1:
				target = args[0]
			default:
				return fmt.Errorf("exec [POD] [COMMAND] is not supported: use exec [POD] -- [COMMAND]")
			}
			if len(command) == 0 {
				return fmt.Errorf("you must specify at least one command for the container")
			}
			*status = execCLI(flags, target, kube.ExecOptions{Container: container, Command: command}, useStdin, tty, quiet, yes, stdin, stdout, stderr)
			return nil
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen")
	cmd.Flags().BoolVarP(&useStdin, "stdin", "i", false, "Pass stdin to the container")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "Stdin is a TTY")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only print output from the remote session")
	cmd.Flags().BoolVar(&yes, "yes", yes, "allow it in a protected context without asking (also K8SH_YES=1)")
	root.AddCommand(cmd)
}

// execCLI runs `k8sh exec` and returns its exit status.
func execCLI(flags *genericclioptions.ConfigFlags, target string, o kube.ExecOptions, useStdin, tty, quiet, yes bool, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "k8sh exec: %v\n", err)
		return exitError
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := kube.NewClient(flags)
	info, err := c.Context()
	if err != nil {
		return fail(err)
	}
	policy, err := builtins.LoadPolicy(configPath())
	if err != nil {
		return fail(err)
	}
	switch {
	case policy.IsReadOnly(info.Name):
		return fail(fmt.Errorf("context %q is read-only (read_only in the k8sh config): refusing to exec", info.Name))
	case policy.IsProtected(info.Name) && !yes:
		return fail(fmt.Errorf("context %q is protected: refusing to exec without --yes (or K8SH_YES=1)", info.Name))
	}
	kind, name, found := strings.Cut(target, "/")
	if !found {
		kind, name = "pods", target
	}
	pod, err := c.ExecPod(ctx, kind, name, "")
	if err != nil {
		return fail(err)
	}
	if !quiet {
		o.Warn = stderr
	}
	if o.Container, err = kube.ExecContainer(pod, o); err != nil {
		return fail(err)
	}
	o.Stdout, o.Stderr = stdout, stderr
	var term *repl.Terminal
	if useStdin {
		o.Stdin = stdin
		if tty {
			out, _ := stdout.(*os.File)
			in, _ := stdin.(*os.File)
			if term = (&repl.Terminal{In: in, Out: out}); !term.IsTerminal() {
				term = nil
				if !quiet {
					fmt.Fprintln(stderr, "Unable to use a TTY - input is not a terminal or the right kind of file")
				}
			}
		}
	}
	var code int
	if term != nil {
		o.TTY = true
		err = term.Raw(func(in io.Reader, out io.Writer, size func() (uint16, uint16, bool)) error {
			o.Stdin, o.Stdout, o.Size = in, out, size
			var err error
			code, err = c.Exec(ctx, pod, o)
			return err
		})
	} else {
		code, err = c.Exec(ctx, pod, o)
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return exitInterrupt
	case err != nil:
		return fail(err)
	case code != 0:
		fmt.Fprintf(stderr, "command terminated with exit code %d\n", code)
	}
	return code
}
