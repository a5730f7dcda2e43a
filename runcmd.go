package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.starlark.net/starlark"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/load"
	"github.com/k8sh/k8sh/lib/sys"
)

// runOptions are the flags of `k8sh run`.
type runOptions struct {
	options
	healthAddr      string
	leaderElect     bool
	leaseName       string
	leaseNamespace  string
	leaseDuration   time.Duration
	renewDeadline   time.Duration
	retryPeriod     time.Duration
	shutdownTimeout time.Duration
}

// addRunCommand adds `k8sh run SCRIPT [args]`: the script's top level
// registers controllers (k8s.controller), which then run until SIGTERM or
// Ctrl-C. The exit status is left in *status.
func addRunCommand(root *cobra.Command, flags *genericclioptions.ConfigFlags, stdin io.Reader, stdout, stderr io.Writer, status *int) {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [flags] controller.star [args...]",
		Short: "Run the controllers and handlers a script registers, as a long-lived process",
		Long: `k8sh run runs the top level of a script, which registers controllers with
k8s.controller and handlers with k8s.on, then runs them until it is
stopped (the handlers as under k8s.run(), while leading with
--leader-elect): SIGTERM (or Ctrl-C)
stops taking work, lets the reconciles in flight finish (at most
--shutdown-timeout), releases the leader lease and exits 0 (130 after
Ctrl-C).

/healthz and /readyz answer on --health-addr (loopback by default; port 0
picks a free one, printed at start): /readyz is 200 once the controllers'
caches have synced. With --leader-elect, processes running the same script
share a Lease (--lease-name, by default k8sh-<script name>, in
--lease-namespace, by default the context's namespace): only the one
holding it reconciles; the others keep their caches warm and take over
when it stops renewing (at most --lease-duration after its last renewal),
at once when it exits cleanly. A leader that loses the lease stops and
exits 1.

Reconciles run with the session's safety policy and never prompt: a
protected context refuses their changes without --yes. -v logs each
reconcile, its duration and each retry with its backoff, beside each API
request.`,
		Args:                  cobra.MinimumNArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := kube.CheckLogFormat(o.logFormat); err != nil {
				return err
			}
			if o.verbose {
				if err := kube.LogRequests(flags, stderr, o.logFormat); err != nil {
					return err
				}
			}
			if o.leaseName == "" {
				o.leaseName = defaultLeaseName(args[0])
			}
			*status = runControllers(flags, o, args, stdin, stdout, stderr)
			return nil
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after the script are its own
	f.StringVar(&o.healthAddr, "health-addr", "127.0.0.1:0", "address of the /healthz and /readyz endpoints (port 0: a free one)")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "reconcile only while holding a Lease, so that one of several processes does")
	f.StringVar(&o.leaseName, "lease-name", "", "name of the leader Lease (default k8sh-<script name>)")
	f.StringVar(&o.leaseNamespace, "lease-namespace", "", "namespace of the leader Lease (default the context's namespace)")
	f.DurationVar(&o.leaseDuration, "lease-duration", 15*time.Second, "how long followers wait after the leader's last renewal before they take the lease")
	f.DurationVar(&o.renewDeadline, "renew-deadline", 10*time.Second, "how long the leader tries to renew before it gives up")
	f.DurationVar(&o.retryPeriod, "retry-period", 2*time.Second, "the wait between attempts to take or renew the lease")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for the reconciles in flight before it cancels them")
	f.BoolVar(&o.dryRun, "dry-run", false, "make every change a server-side dry run: nothing is persisted")
	f.BoolVar(&o.readOnly, "read-only", false, "refuse every change, before any request is sent")
	f.BoolVar(&o.yes, "yes", os.Getenv("K8SH_YES") == "1", "allow changes in protected contexts (also K8SH_YES=1); reconciles never prompt")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log each reconcile and retry, and each API request, to stderr")
	f.StringVar(&o.logFormat, "log-format", "text", "format of the -v lines: text or json")
	root.AddCommand(cmd)
}

// defaultLeaseName is k8sh-<script name without .star>, as a Lease name
// may be.
func defaultLeaseName(script string) string {
	base := strings.ToLower(strings.TrimSuffix(filepath.Base(script), ".star"))
	base = regexp.MustCompile(`[^a-z0-9.-]+`).ReplaceAllString(base, "-")
	return strings.Trim("k8sh-"+base, "-.")
}

func runControllers(flags *genericclioptions.ConfigFlags, o runOptions, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	script := args[0]
	src, err := os.ReadFile(script)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitUsage
	}
	dir, err := filepath.Abs(filepath.Dir(script))
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitUsage
	}
	thread, globals, session, _, err := newThread(flags, o.options, args, dir, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh: %v\n", err)
		return exitUsage
	}
	defer builtins.EndSession(thread)
	set := builtins.Controllers(session)
	set.SetLog(builtins.ControllerLog{
		W: stderr, Verbose: o.verbose, JSON: o.logFormat == "json",
		FormatError: func(err error) string { return formatError(err) },
	})

	// SIGTERM and Ctrl-C: the first stops gracefully, a second at once.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(signals)
	topCtx, cancelTop := context.WithCancel(context.Background())
	defer cancelTop()
	sys.SetContext(thread, topCtx)
	thread.Load = load.New(fileOptions, maps.Clone(globals), builtins.InheritThread).Load
	topDone := make(chan struct{})
	go func() {
		select {
		case <-signals:
			thread.Cancel("interrupted")
			cancelTop()
		case <-topDone:
		}
	}()
	_, err = starlark.ExecFileOptions(fileOptions, thread, script, src, globals)
	close(topDone)
	if err == nil && topCtx.Err() != nil {
		fmt.Fprintln(stderr, "k8sh: interrupted")
		return exitInterrupt
	}
	if err != nil {
		var exit *sys.ExitError
		switch {
		case errors.As(err, &exit):
			return exit.Code
		case topCtx.Err() != nil:
			fmt.Fprintln(stderr, "k8sh: interrupted")
			return exitInterrupt
		}
		fmt.Fprint(stderr, formatError(err))
		return exitError
	}
	ctls := set.List()
	// The k8s.on handlers the script registered: they run beside the
	// controllers (while leading, with --leader-elect), taking the turn
	// among themselves as under k8s.run().
	bg := builtins.BackgroundOf(session)
	handlers := bg.Tasks()
	if len(ctls) == 0 && len(handlers) == 0 {
		fmt.Fprintf(stderr, "k8sh run: %s registered no controller and no handler: call k8s.controller(kind, reconcile) or k8s.on(kind, fn) at its top level\n", script)
		return exitError
	}
	startHandlers := sync.OnceFunc(func() {
		if len(handlers) > 0 {
			bg.Turn().Unlock()
		}
	})
	stopHandlers := func() { bg.StopAll() }

	r := &runner{set: set, stderr: stderr, o: o}
	ln, err := net.Listen("tcp", o.healthAddr)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh run: --health-addr: %v\n", err)
		return exitUsage
	}
	srv := &http.Server{Handler: r.healthMux(), ReadHeaderTimeout: 5 * time.Second}
	defer srv.Close()
	var what []string
	if len(ctls) > 0 {
		names := make([]string, len(ctls))
		for i, c := range ctls {
			names[i] = c.Name()
		}
		what = append(what, fmt.Sprintf("%d controller%s (%s)", len(ctls), plural(len(ctls)), strings.Join(names, ", ")))
	}
	if len(handlers) > 0 {
		for _, h := range handlers {
			what = append(what, h.Name) // "handler 1 (fn on configmaps)"
		}
	}
	fmt.Fprintf(stderr, "k8sh run: %s: %s; health checks on http://%s/healthz and /readyz\n",
		script, strings.Join(what, ", "), ln.Addr())

	// runCtx ends the controllers at once (a second signal, a lost lease);
	// a graceful stop is set.Stop, then waiting.
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	var leaderDone chan struct{}
	cancelLeader := func() {}
	if o.leaderElect {
		cluster, ok := session.Cluster.(*kube.Client)
		if !ok {
			fmt.Fprintln(stderr, "k8sh run: --leader-elect: this session's cluster cannot hold a Lease")
			return exitUsage
		}
		leaderCtx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cancelLeader = cancel
		var led bool
		var mu sync.Mutex
		le, err := cluster.LeaderElection(kube.LeaderOptions{
			Name: o.leaseName, Namespace: o.leaseNamespace,
			LeaseDuration: o.leaseDuration, RenewDeadline: o.renewDeadline, RetryPeriod: o.retryPeriod,
		}, kube.LeaderCallbacks{
			Started: func(ctx context.Context) {
				mu.Lock()
				led = true
				mu.Unlock()
				fmt.Fprintf(stderr, "k8sh run: leading (lease %s, as %s)\n", r.leader.Lease(), r.leader.Identity())
				startHandlers()
				if err := set.Start(ctx); err != nil && ctx.Err() == nil {
					fail(err)
				}
			},
			Stopped: func() {
				mu.Lock()
				defer mu.Unlock()
				if led && leaderCtx.Err() == nil {
					fail(fmt.Errorf("lost the lease %s", r.leader.Lease()))
				}
			},
			NewLeader: func(id string) {
				fmt.Fprintf(stderr, "k8sh run: %s leads (lease %s); waiting\n", id, r.leader.Lease())
			},
		})
		if err != nil {
			fmt.Fprintf(stderr, "k8sh run: --leader-elect: %v\n", err)
			return exitError
		}
		r.leader = le
		// The caches are filled before the campaign, so that a follower
		// that takes over reconciles at once.
		go func() {
			if err := set.Prepare(runCtx); err != nil && runCtx.Err() == nil {
				fail(err)
			}
		}()
		leaderDone = make(chan struct{})
		go func() {
			defer close(leaderDone)
			le.Run(leaderCtx)
		}()
	} else {
		startHandlers()
		go func() {
			if err := set.Start(runCtx); err != nil && runCtx.Err() == nil {
				fail(err)
			}
		}()
	}

	go srv.Serve(ln)

	code := exitOK
	var sig os.Signal
	select {
	case sig = <-signals:
	case err := <-failed:
		fmt.Fprintf(stderr, "k8sh run: %v\n", err)
		cancelRun()
		set.Cancel()
		set.Wait(context.Background())
		stopHandlers()
		cancelLeader()
		if leaderDone != nil {
			<-leaderDone
		}
		return exitError
	}
	if sig == os.Interrupt {
		code = exitInterrupt
	}
	fmt.Fprintf(stderr, "k8sh run: %s: stopping; waiting for the reconciles in flight (a second signal cancels them)\n", signalName(sig))
	set.Stop()
	wait, cancelWait := context.WithTimeout(context.Background(), o.shutdownTimeout)
	go func() {
		select {
		case <-signals:
			cancelWait()
		case <-wait.Done():
		}
	}()
	if err := set.Wait(wait); err != nil {
		fmt.Fprintln(stderr, "k8sh run: cancelling the reconciles in flight")
		cancelRun()
		set.Cancel()
		set.Wait(context.Background())
	}
	cancelWait()
	cancelRun()
	stopHandlers()
	cancelLeader() // releases the lease, now that nothing reconciles
	if leaderDone != nil {
		<-leaderDone
		fmt.Fprintf(stderr, "k8sh run: released the lease %s\n", r.leader.Lease())
	}
	fmt.Fprintln(stderr, "k8sh run: stopped")
	return code
}

// notRun says, after a script ran with k8sh SCRIPT, that the controllers
// it registered did not run.
func notRun(s *builtins.Session, script string, stderr io.Writer) {
	set := builtins.Controllers(s)
	if n := len(set.List()); n > 0 && !set.Ran() {
		fmt.Fprintf(stderr, "k8sh: %s registered %d controller%s, which run under k8s.run() or with: k8sh run %s\n", script, n, plural(n), script)
	}
}

func signalName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "interrupt"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// runner is the state the health endpoints read.
type runner struct {
	set    *builtins.ControllerSet
	leader *kube.LeaderElector
	stderr io.Writer
	o      runOptions
}

func (r *runner) healthMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, req *http.Request) {
		if r.leader != nil {
			if err := r.leader.Check(req); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, req *http.Request) {
		if !r.set.Synced() {
			http.Error(w, "informer caches not synced", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}
