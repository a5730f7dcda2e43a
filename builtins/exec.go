package builtins

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	corev1 "k8s.io/api/core/v1"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["exec"] = doc.Builtin("k8s.exec", execDoc, execBuiltin)
}

// execCluster is what k8s.exec, k8s.shell and k8s.attach need of a
// cluster: kube.Client implements it.
type execCluster interface {
	ExecPod(ctx context.Context, kind, name, namespace string) (*corev1.Pod, error)
	Exec(ctx context.Context, pod *corev1.Pod, o kube.ExecOptions) (int, error)
}

var _ execCluster = (*kube.Client)(nil)

const execDoc = `k8s.exec(target, command, *, container=None, stdin=None, timeout=None, check=True, parallel=8, namespace=None, context=None)

Runs command in a container of a pod, as kubectl exec does, and returns
struct(code, stdout, stderr):
  k8s.exec("web-5fc9", ["ls", "/"]).stdout
  r = k8s.exec("deploy/web", "cat /etc/hostname | tr a-z A-Z", check=False)

target is a pod's name ("web-5fc9" or "pod/web-5fc9"), a Pod k8s.object,
or a workload ("deploy/web", "svc/web", "job/backup", or its k8s.object):
the pod kubectl exec picks for it (the most active of its selector's,
waiting up to 20s for one to exist). command is a list of strings, or a
string run through "sh -c". container defaults to the pod's default
container (its kubectl.kubernetes.io/default-container annotation, else
the first, saying "Defaulted container ..." on stderr as kubectl does
when the pod has several). stdin, a string, is the command's standard
input until its end. timeout (a duration, "30s", or seconds) ends the
command's stream after that long, as an error.

A non-zero exit status fails with the code and the end of stderr, unless
check=False, which returns it in code.

A list of targets runs the command in each, parallel at a time, and
returns the results in the order of the list; with check=True the error
lists every target that failed, the others having run.

Running a command is a change: it is refused under --read-only and in
read-only contexts, confirmed in protected ones, refused under --sandbox
without --allow-exec; --dry-run says what would run and runs nothing
(code 0, empty output). context names another kubeconfig context for
this one call.`

// execArgs are what k8s.exec, k8s.shell and k8s.attach share of their
// arguments.
type execArgs struct {
	container, namespace, kctx string
}

// execTarget is one pod a command runs in, as resolved from a target.
type execTarget struct {
	pod *corev1.Pod
	ref string // "pod/web-1"
}

// execPod resolves one target of builtin b: a pod's name, "kind/name", a
// k8s.object.
func execPod(ctx context.Context, b *starlark.Builtin, ec execCluster, v starlark.Value, namespace string) (*execTarget, error) {
	kind, name := "pods", ""
	switch t := v.(type) {
	case starlark.String:
		r, err := unpackRef(b, t, "")
		if err != nil {
			return nil, err
		}
		name = r.kind // a pod's name alone
		if r.name != "" {
			name = r.name
			if k := strings.ToLower(r.kind); k != "pod" && k != "pods" && k != "po" {
				kind = r.kind
			}
		}
	case *Object, starlark.IterableMapping:
		r, err := unpackRef(b, t, "")
		if err != nil {
			return nil, err
		}
		name = r.name
		if r.kind != "Pod" {
			kind = r.kind
		}
		if namespace == "" {
			namespace = r.namespace
		}
	default:
		return nil, fmt.Errorf("%s: for parameter target: got %s, want str, k8s.object or a list of them", b.Name(), v.Type())
	}
	p, err := ec.ExecPod(ctx, kind, name, namespace)
	if err != nil {
		return nil, err
	}
	return &execTarget{pod: p, ref: "pod/" + p.Name}, nil
}

// execAllowed is the safety check of a builtin that runs a process in a
// pod: --sandbox without --allow-exec refuses it; when change, it is a
// change (Mutating: --read-only, protected contexts). It returns whether
// the session is a dry run, having said what would run.
func execAllowed(thread *starlark.Thread, b *starlark.Builtin, c Cluster, verb string, targets []*execTarget, what string, change bool) (dry bool, err error) {
	s, err := session(thread, b)
	if err != nil {
		return false, err
	}
	if s.Sys.Sandbox && !s.Sys.AllowExec {
		return false, fmt.Errorf("%s: running commands in pods is not allowed with --sandbox (add --allow-exec to allow it)", b.Name())
	}
	info, err := c.Context()
	if err != nil {
		return false, fmt.Errorf("%s: %w", b.Name(), err)
	}
	refs := make([]string, len(targets))
	for i, t := range targets {
		refs[i] = t.ref
	}
	ns := ""
	if len(targets) > 0 {
		ns = targets[0].pod.Namespace
	}
	line := fmt.Sprintf("%s in %s/%s %s", verb, info.Name, ns, strings.Join(refs, ", "))
	if what != "" {
		line += ": " + what
	}
	if change {
		if err := Mutating(thread, b, c, fmt.Sprintf("%s in %s", verb, strings.Join(refs, ", ")), false); err != nil {
			return false, err
		}
	}
	if s.DryRun && change {
		if s.Unsent != nil {
			sub := "exec"
			if strings.HasPrefix(verb, "attach") {
				sub = "attach"
			}
			for _, t := range targets {
				s.Unsent(http.MethodPost, "/api/v1/namespaces/"+t.pod.Namespace+"/pods/"+t.pod.Name+"/"+sub)
			}
		}
		if s.Sys.Stderr != nil {
			fmt.Fprintf(s.Sys.Stderr, "%s (dry run: not run)\n", line)
		}
		return true, nil
	}
	Announce(thread, c, []string{line}, nil)
	return false, nil
}

// commandArg reads a command: a list of strings, or a string for sh -c.
func commandArg(b *starlark.Builtin, v starlark.Value) ([]string, string, error) {
	if s, ok := v.(starlark.String); ok {
		if s == "" {
			return nil, "", fmt.Errorf("%s: the command is empty", b.Name())
		}
		return []string{"sh", "-c", string(s)}, string(s), nil
	}
	var l []string
	seq, ok := v.(starlark.Indexable)
	if ok {
		for i := range seq.Len() {
			s, isStr := seq.Index(i).(starlark.String)
			if !isStr {
				ok = false
				break
			}
			l = append(l, string(s))
		}
	}
	if !ok || len(l) == 0 {
		return nil, "", fmt.Errorf("%s: for parameter command: want a non-empty list of str, or a str to run with sh -c; got %s", b.Name(), v.Type())
	}
	return l, strings.Join(l, " "), nil
}

func execBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target, command starlark.Value
		a               execArgs
		stdin           starlark.Value = starlark.None
		timeout         watchDuration
		check           = true
		parallel        = 8
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "command", &command,
		"container?", starconv.OrNone(&a.container), "stdin?", &stdin, "timeout?", &timeout, "check?", &check,
		"parallel?", &parallel, "namespace?", starconv.OrNone(&a.namespace), "context?", starconv.OrNone(&a.kctx)); err != nil {
		return nil, err
	}
	cmd, what, err := commandArg(b, command)
	if err != nil {
		return nil, err
	}
	var in *string
	switch s := stdin.(type) {
	case starlark.NoneType:
	case starlark.String:
		str := string(s)
		in = &str
	case starlark.Bytes:
		str := string(s)
		in = &str
	default:
		return nil, fmt.Errorf("%s: for parameter stdin: got %s, want str or bytes", b.Name(), stdin.Type())
	}
	if parallel < 1 {
		return nil, fmt.Errorf("%s: parallel must be at least 1, got %d", b.Name(), parallel)
	}
	var targets []starlark.Value
	list := false
	switch t := target.(type) {
	case *starlark.List, starlark.Tuple:
		list = true
		it := t.(starlark.Iterable).Iterate()
		var x starlark.Value
		for it.Next(&x) {
			targets = append(targets, x)
		}
		it.Done()
	default:
		targets = []starlark.Value{target}
	}
	ec, c, err := clusterAs[execCluster](thread, b, a.kctx, "this session's cluster cannot run commands in pods")
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	pods := make([]*execTarget, len(targets))
	for i, t := range targets {
		if pods[i], err = execPod(ctx, b, ec, t, a.namespace); err != nil {
			if strings.HasPrefix(err.Error(), b.Name()+":") {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	dry, err := execAllowed(thread, b, c, "exec", pods, what, true)
	if err != nil {
		return nil, err
	}
	s, _ := session(thread, b)
	warn := s.Sys.Stderr
	results := make([]starlark.Value, len(pods))
	errs := make([]error, len(pods))
	run := func(i int) {
		if dry {
			results[i] = execResult(0, "", "")
			return
		}
		var stdout, stderr strings.Builder
		o := kube.ExecOptions{Container: a.container, Command: cmd, Stdout: &stdout, Stderr: &stderr, Warn: warn}
		if in != nil {
			o.Stdin = strings.NewReader(*in)
		}
		cctx := ctx
		if timeout.set {
			var cancel context.CancelFunc
			cctx, cancel = context.WithTimeout(ctx, timeout.d)
			defer cancel()
		}
		code, err := ec.Exec(cctx, pods[i].pod, o)
		switch {
		case err != nil && errors.Is(err, context.DeadlineExceeded) && timeout.set && ctx.Err() == nil:
			errs[i] = fmt.Errorf("timed out after %s (timeout=)", timeout.d)
		case err != nil:
			errs[i] = err
		case code != 0 && check:
			errs[i] = fmt.Errorf("command terminated with exit code %d%s", code, stderrTail(stderr.String()))
		}
		results[i] = execResult(code, stdout.String(), stderr.String())
	}
	if len(pods) == 1 {
		run(0)
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, parallel)
		for i := range pods {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				run(i)
			}()
		}
		wg.Wait()
	}
	if !list {
		if errs[0] != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.Name(), pods[0].ref, errs[0])
		}
		return results[0], nil
	}
	be := &kube.BulkError{Total: len(pods)}
	for i, err := range errs {
		if err != nil {
			be.Errors = append(be.Errors, &kube.ObjectError{Namespace: pods[i].pod.Namespace, Object: pods[i].ref, Err: err})
		}
	}
	if len(be.Errors) > 0 {
		return nil, fmt.Errorf("%s: %w", b.Name(), be)
	}
	return starlark.NewList(results), nil
}

func execResult(code int, stdout, stderr string) starlark.Value {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"code":   starlark.MakeInt(code),
		"stdout": starlark.String(stdout),
		"stderr": starlark.String(stderr),
	})
}

// stderrTail is the end of a failed command's stderr for its error: its
// last lines, up to about 1 KB.
func stderrTail(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	if len(s) > 1024 {
		s = s[len(s)-1024:]
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		s = "..." + s
	}
	return ": " + s
}
