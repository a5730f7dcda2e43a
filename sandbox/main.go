// Command sandbox runs a local Kubernetes control plane for k8sh
// development and tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, a kwok fake node and metrics-server, with three small
// programs of this module (echoserver/, the port-forward target;
// egressguard/, kube-apiserver's loopback-only egress proxy; nodeexec/, the
// node's exec endpoint), all listening on 127.0.0.1 only.
//
// Usage (from the repository root or from sandbox/):
//
//	go -C sandbox run . build    # build the pinned binaries if needed
//	go -C sandbox run . up       # idempotent start; prints the kubeconfig path
//	go -C sandbox run . down     # stop everything it started (data kept)
//	go -C sandbox run . reset    # wipe the data and start anew
//	go -C sandbox run . status   # exit 0 if running and ready, 3 if not
//	go -C sandbox run . restart-apiserver   # restart kube-apiserver only
//	go -C sandbox run . -state DIR -apiserver-feature-gates CBORServingAndStorage=true up
//	                             # a sandbox of one's own with kube-apiserver feature gates
//
// State lives in ROOT/.cache/sandbox/, or in the directory given with
// -state DIR (a sandbox of its own, e.g. for a test that restarts
// kube-apiserver); the binaries are always those of ROOT/.cache/sandbox/bin.
// Every command acts on the sandbox of its state directory only. The program is stdlib-only on purpose so
// that it compiles in seconds; the heavy binaries are built with `go build`
// from the versions pinned in sandbox/go.mod.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const usageText = `usage: sandbox [-root DIR] [-state DIR] <command>

commands:
  build              build the pinned binaries into ROOT/.cache/sandbox/bin (if needed)
  up                 start the sandbox (idempotent); prints the kubeconfig path last
  down               stop everything the sandbox started; its data is kept,
                     and the next up resumes it
  reset              stop the sandbox, wipe its data and start it anew, empty
  status             show the state; exit 0 if running and ready, 3 if not
  restart-apiserver  stop kube-apiserver and start it again with the same
                     flags and port; prints the kubeconfig path once ready

A sandbox's kube-apiserver feature gates (-apiserver-feature-gates) are
chosen when it starts anew (up with nothing to resume, reset) and kept by
every later command; up with other gates than the sandbox has fails.

flags:
`

// exitError carries a specific process exit code.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	rootFlag := fs.String("root", "", "repository root (default: the directory containing sandbox/go.mod)")
	stateFlag := fs.String("state", "", "state directory of the sandbox (default: ROOT/.cache/sandbox)")
	gatesFlag := fs.String("apiserver-feature-gates", "", "kube-apiserver's --feature-gates for a sandbox started anew (up on nothing, reset), e.g. CBORServingAndStorage=true; recorded and kept by later commands")
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	args := fs.Args()
	if len(args) == 0 {
		fs.Usage()
		os.Exit(2)
	}
	cmd := args[0]
	// Allow flags after the command too: `sandbox up -root DIR`.
	if err := fs.Parse(args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sandbox: unexpected arguments: %v\n", fs.Args())
		os.Exit(2)
	}

	root, err := findRoot(*rootFlag)
	if err != nil {
		fatal(err)
	}
	e, err := newEnv(root, *stateFlag)
	if err != nil {
		fatal(err)
	}
	fs.Visit(func(f *flag.Flag) { e.gatesGiven = e.gatesGiven || f.Name == "apiserver-feature-gates" })
	if e.apiserverGates, err = parseGates(*gatesFlag); err != nil {
		fatal(err)
	}

	switch cmd {
	case "build":
		err = e.withLock(func() error { return e.build(true) })
	case "up":
		err = printPath(e, e.up)
	case "down":
		err = e.withLock(e.down)
	case "reset":
		err = printPath(e, e.reset)
	case "status":
		err = e.status()
	case "restart-apiserver":
		err = printPath(e, e.restartAPIServer)
	case "help", "-h", "--help":
		fs.Usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "sandbox: unknown command %q\n", cmd)
		fs.Usage()
		os.Exit(2)
	}
	if err != nil {
		fatal(err)
	}
}

// printPath runs fn holding the state dir's lock and prints the kubeconfig
// path it returns, last on stdout, for scripts to read.
func printPath(e *env, fn func() (string, error)) error {
	var path string
	err := e.withLock(func() error {
		var ferr error
		path, ferr = fn()
		return ferr
	})
	if err == nil {
		fmt.Println(path)
	}
	return err
}

func fatal(err error) {
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, "sandbox:", ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "sandbox:", err)
	os.Exit(1)
}

// logf prints brief progress to stderr (stdout is reserved for results).
func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "sandbox: "+format+"\n", a...)
}

const sandboxModule = "github.com/k8sh/k8sh/sandbox"

// findRoot returns the repository root: the explicit -root, or the nearest
// directory (walking up from cwd) that contains sandbox/go.mod, or whose own
// go.mod is the sandbox module (then its parent).
func findRoot(explicit string) (string, error) {
	if explicit != "" {
		abs, err := filepath.Abs(explicit)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(filepath.Join(abs, "sandbox", "go.mod")); err != nil {
			return "", fmt.Errorf("-root %s: no sandbox/go.mod there", abs)
		}
		return abs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if isSandboxModule(filepath.Join(dir, "sandbox", "go.mod")) {
			return dir, nil
		}
		if isSandboxModule(filepath.Join(dir, "go.mod")) {
			return filepath.Dir(dir), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", fmt.Errorf("cannot find the repository root from %s (no sandbox/go.mod); pass -root DIR", wd)
}

func isSandboxModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module")), `"`) == sandboxModule
		}
	}
	return false
}

// env holds the resolved paths.
type env struct {
	root       string // repository root
	sandboxDir string // ROOT/sandbox (the pinning module)
	stateDir   string // ROOT/.cache/sandbox, or -state DIR
	binDir     string // ROOT/.cache/sandbox/bin, whatever the state dir
	pkiDir     string
	logDir     string
	etcdDir    string
	statePath  string
	kubeconfig string
	kwokConfig string
	// kwok1Config is the configuration of kwok-1, the kwok of kwok-node-1.
	kwok1Config string
	podLog      string
	auditPol    string
	egressCfg   string // kube-apiserver's egress selector configuration
	execDir     string // the working directory of `kubectl exec` commands
	// apiserverGates are kube-apiserver's feature gates for a sandbox
	// started anew (gates.go); gatesGiven tells whether
	// -apiserver-feature-gates was given.
	apiserverGates string
	gatesGiven     bool
}

func newEnv(root, stateDir string) (*env, error) {
	st := filepath.Join(root, ".cache", "sandbox")
	if stateDir != "" {
		abs, err := filepath.Abs(stateDir)
		if err != nil {
			return nil, err
		}
		st = abs
	}
	return &env{
		root:        root,
		sandboxDir:  filepath.Join(root, "sandbox"),
		stateDir:    st,
		binDir:      filepath.Join(root, ".cache", "sandbox", "bin"),
		pkiDir:      filepath.Join(st, "pki"),
		logDir:      filepath.Join(st, "logs"),
		etcdDir:     filepath.Join(st, "etcd"),
		statePath:   filepath.Join(st, "state.json"),
		kubeconfig:  filepath.Join(st, "kubeconfig"),
		kwokConfig:  filepath.Join(st, "kwok.yaml"),
		kwok1Config: filepath.Join(st, "kwok-1.yaml"),
		podLog:      filepath.Join(st, "pod.log"),
		auditPol:    filepath.Join(st, "audit-policy.yaml"),
		egressCfg:   filepath.Join(st, "egress-selector.yaml"),
		execDir:     filepath.Join(st, "exec"),
	}, nil
}

// withLock serialises build/up/down/restart-apiserver on one state dir
// across concurrent invocations.
func (e *env) withLock(fn func() error) error {
	return lockDir(e.stateDir, fn)
}

// lockDir runs fn holding an exclusive flock on dir/.lock.
func lockDir(dir string, fn func() error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		logf("waiting for another sandbox command to finish (lock %s) ...", f.Name())
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck
	return fn()
}

// writeFileAtomic writes data to path via a temp file and rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}
