package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/kube"
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
