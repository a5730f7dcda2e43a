package builtins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["shell"] = doc.Builtin("k8s.shell", shellDoc, shellBuiltin)
	K8s.Members["attach"] = doc.Builtin("k8s.attach", attachDoc, attachBuiltin)
}

// Terminal is the user's terminal, which k8s.shell and k8s.attach(tty=True)
// take over while the process in the pod runs; repl.Terminal implements it.
type Terminal interface {
	// Raw runs fn with the terminal raw: in gives the keys typed, out
	// writes to the screen, size reports the terminal's size, at once and
	// then at each change (ok false: no more). The terminal is restored
	// when fn returns, whatever happened.
	Raw(fn func(in io.Reader, out io.Writer, size func() (width, height uint16, ok bool)) error) error
}

const shellDoc = `k8s.shell(target, command=["sh"], *, container=None, namespace=None, context=None)

Runs command in a container of a pod on the user's terminal, as
kubectl exec -it does: a real TTY in the pod, the terminal raw, so that
every key (Ctrl-C and Ctrl-D too) goes to the process in the pod, and
the pod's terminal follows the size of the user's. It returns the
command's exit status (an int) when it ends; the REPL's terminal is
restored as it was, even when the connection drops (then it fails).
  k8s.shell("web-5fc9")
  k8s.shell("deploy/web", ["bash", "-l"], container="app")

target is what k8s.exec takes: a pod's name, "pod/NAME", a Pod, or a
workload ("deploy/web", "svc/web"): the pod kubectl exec picks. command
is a list of strings, or a string run through "sh -c". It needs k8sh to
run on a terminal (the REPL, or a script started on one).

Like k8s.exec, a shell is a change: refused under --read-only and in
read-only contexts, confirmed in protected ones, refused under --sandbox
without --allow-exec; --dry-run says what would run and runs nothing
(returning 0).`

func shellBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target  starlark.Value
		command starlark.Value = starlark.NewList([]starlark.Value{starlark.String("sh")})
		a       execArgs
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "command?", &command,
		"container?", starconv.OrNone(&a.container), "namespace?", starconv.OrNone(&a.namespace), "context?", starconv.OrNone(&a.kctx)); err != nil {
		return nil, err
	}
	cmd, what, err := commandArg(b, command)
	if err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if s.Terminal == nil {
		return nil, fmt.Errorf("%s: needs a terminal, and k8sh's standard input and output are not one (k8s.exec runs a command without one)", b.Name())
	}
	ec, c, t, err := execOne(thread, b, target, a)
	if err != nil {
		return nil, err
	}
	if dry, err := execAllowed(thread, b, c, "exec", []*execTarget{t}, what, true); err != nil || dry {
		return starlark.MakeInt(0), err
	}
	o := kube.ExecOptions{Container: a.container, Command: cmd, TTY: true, Warn: s.Sys.Stderr}
	// The container is picked (and kubectl's note written) before the
	// terminal turns raw.
	if o.Container, err = kube.ExecContainer(t.pod, o); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	code, err := onTerminal(sys.Context(thread), s.Terminal, ec, t, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), t.ref, err)
	}
	return starlark.MakeInt(code), nil
}

// onTerminal runs o (TTY) in t's pod on the user's terminal.
func onTerminal(ctx context.Context, term Terminal, ec execCluster, t *execTarget, o kube.ExecOptions) (int, error) {
	var code int
	err := term.Raw(func(in io.Reader, out io.Writer, size func() (uint16, uint16, bool)) error {
		o.Stdin, o.Stdout, o.Size = in, out, size
		var err error
		code, err = ec.Exec(ctx, t.pod, o)
		if err != nil {
			// The error is then printed from the start of a line, not
			// after the remote prompt.
			io.WriteString(out, "\r\n")
		}
		return err
	})
	return code, err
}

// execOne resolves the one target of builtin b for exec-like builtins, with
// the cluster of a.kctx.
func execOne(thread *starlark.Thread, b *starlark.Builtin, target starlark.Value, a execArgs) (execCluster, Cluster, *execTarget, error) {
	ec, c, err := clusterAs[execCluster](thread, b, a.kctx, "this session's cluster cannot run commands in pods")
	if err != nil {
		return nil, nil, nil, err
	}
	t, err := execPod(sys.Context(thread), b, ec, target, a.namespace)
	if err != nil {
		if strings.HasPrefix(err.Error(), b.Name()+":") {
			return nil, nil, nil, err
		}
		return nil, nil, nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return ec, c, t, nil
}

const attachDoc = `k8s.attach(target, *, container=None, stdin=None, tty=False, timeout=None, namespace=None, context=None)

Attaches to the process running in a container of a pod, as kubectl
attach does: what it writes from then on is printed as it comes (its
standard output through print, its standard error to k8sh's), until
the process ends, timeout passes ("30s", or seconds) or Ctrl-C. It
returns None.
  k8s.attach("web-5fc9", timeout="10s")
  k8s.attach("job/console", stdin="status\n")
  k8s.attach("debug-pod", tty=True)      # kubectl attach -it

stdin, a str or bytes, is sent to the process's standard input (the
container must have stdin: true), which is then closed if the container
says stdinOnce. tty=True connects the user's terminal instead, raw, as
k8s.shell does (the container must have tty: true). container defaults
as for k8s.exec.

Attaching with stdin or tty is a change (it writes to the process):
refused under --read-only and in read-only contexts, confirmed in
protected ones; --dry-run says what it would do and does nothing. Any
attach is refused under --sandbox without --allow-exec.`

func attachBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target  starlark.Value
		a       execArgs
		stdin   starlark.Value = starlark.None
		tty     bool
		timeout watchDuration
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target,
		"container?", starconv.OrNone(&a.container), "stdin?", &stdin, "tty?", &tty, "timeout?", &timeout,
		"namespace?", starconv.OrNone(&a.namespace), "context?", starconv.OrNone(&a.kctx)); err != nil {
		return nil, err
	}
	var in io.Reader
	switch v := stdin.(type) {
	case starlark.NoneType:
	case starlark.String:
		in = strings.NewReader(string(v))
	case starlark.Bytes:
		in = strings.NewReader(string(v))
	default:
		return nil, fmt.Errorf("%s: for parameter stdin: got %s, want str or bytes", b.Name(), stdin.Type())
	}
	if tty && in != nil {
		return nil, fmt.Errorf("%s: stdin and tty=True exclude each other: with tty the terminal is the input", b.Name())
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if tty && s.Terminal == nil {
		return nil, fmt.Errorf("%s: tty=True needs a terminal, and k8sh's standard input and output are not one", b.Name())
	}
	ec, c, t, err := execOne(thread, b, target, a)
	if err != nil {
		return nil, err
	}
	what := "attach"
	if in != nil {
		what = "attach with stdin"
	} else if tty {
		what = "attach with a terminal"
	}
	if dry, err := execAllowed(thread, b, c, what, []*execTarget{t}, "", in != nil || tty); err != nil || dry {
		return starlark.None, err
	}
	o := kube.ExecOptions{Container: a.container, Attach: true, Stdin: in, TTY: tty, Warn: s.Sys.Stderr}
	if o.Container, err = kube.ExecContainer(t.pod, o); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ctx := sys.Context(thread)
	if timeout.set {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout.d)
		defer cancel()
	}
	if tty {
		_, err = onTerminal(ctx, s.Terminal, ec, t, o)
	} else {
		stdout := &lineWriter{thread: thread}
		var stderr io.Writer = io.Discard
		if s.Sys.Stderr != nil {
			stderr = s.Sys.Stderr
		}
		o.Stdout, o.Stderr = stdout, stderr
		_, err = ec.Exec(ctx, t.pod, o)
		stdout.flush()
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The timeout, or Ctrl-C (which ends the script or statement at
		// its next step), ends an attach as they end a watch.
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), t.ref, err)
	}
	return starlark.None, nil
}

// flush prints what is left of a last line without its "\n".
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.thread.Print(l.thread, string(l.buf))
		l.buf = nil
	}
}
