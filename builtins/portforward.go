package builtins

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["port_forward"] = doc.Builtin("k8s.port_forward", portForwardDoc, portForwardBuiltin)
	K8s.Members["forwards"] = doc.Builtin("k8s.forwards", forwardsDoc, forwardsBuiltin)
}

// forwardCluster is what k8s.port_forward needs of a cluster: kube.Client
// implements it.
type forwardCluster interface {
	PortForward(ctx context.Context, kind, name, namespace string, ports []string, address string, errOut io.Writer) (*kube.Forward, error)
}

var _ forwardCluster = (*kube.Client)(nil)

const portForwardDoc = `k8s.port_forward(target, ports, *, address="127.0.0.1", namespace=None, context=None)

Forwards local ports to a pod, like kubectl port-forward, and returns at
once a handle while it goes on forwarding in the background:
  fw = k8s.port_forward("deploy/web", "8080:80")
  fw = k8s.port_forward(pod, 0)          # 0 or ":80": a free local port
  fw.ports                               # {43127: 80}: local -> remote
  fw.stop()

target is what kubectl port-forward takes: a Pod k8s.object, "pod/web-1",
"web-1", or a workload ("deploy/web", "sts/db", "svc/web", ...): the pod
kubectl would pick (the first active one of its selector). ports is one
port or a list of them, each an int (80: local 80 to remote 80), a string
in kubectl's syntax ("8080:80", ":80" or "0:80" for a free local port,
"8080:http" for a container port by name; for a Service its port, by
number or name, goes to that port's targetPort in the pod), or a dict
{local: remote}. address is where it listens.

The handle prints as kubectl's lines ("Forwarding from 127.0.0.1:8080 ->
80"); fw.ports is a dict local -> remote port, fw.target what was asked,
fw.pod the pod forwarded to now, fw.stop() ends it, fw.wait() blocks until
it ends (Ctrl-C stops it). k8s.forwards() lists the live ones.

It survives what ends kubectl's: an error on one connection ends that
connection only; when the tunnel to the API server drops, or the pod is
deleted or replaced (a Deployment's pod rolled), it picks the target's pod
again and reconnects, saying so in one line on stderr
("k8s.port_forward: pod/web-abc gone; forwarding to pod/web-def"). A new
local connection meanwhile waits for the reconnect (up to a minute); after
a minute without a pod to forward to, the forward ends (wait() fails).

In the REPL a forward lives until stopped or the REPL ends; in a script,
until stopped or the script ends. With --sandbox it is refused unless
--allow-exec is given too. context names another kubeconfig context for
this one call.`

const forwardsDoc = `k8s.forwards()

Returns the list of the session's live port-forwards (k8s.port_forward's
handles), each printable and stoppable:
  [fw.stop() for fw in k8s.forwards()]`

// forwards are the live forwards of each session.
var forwards = struct {
	sync.Mutex
	m map[*Session][]*forwardValue
}{m: map[*Session][]*forwardValue{}}

// StopForwards stops every port-forward of thread's session: what a script
// or the REPL does when it ends.
func StopForwards(thread *starlark.Thread) {
	s, _ := thread.Local(sessionKey).(*Session)
	forwards.Lock()
	fs := forwards.m[s]
	delete(forwards.m, s)
	forwards.Unlock()
	for _, f := range fs {
		f.f.Stop()
	}
}

func forgetForward(s *Session, fv *forwardValue) {
	forwards.Lock()
	defer forwards.Unlock()
	fs := forwards.m[s]
	for i, f := range fs {
		if f == fv {
			forwards.m[s] = append(fs[:i:i], fs[i+1:]...)
			break
		}
	}
	if len(forwards.m[s]) == 0 {
		delete(forwards.m, s)
	}
}

func portForwardBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target, portsV  starlark.Value
		address         = "127.0.0.1"
		namespace, kctx string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"target", &target, "ports", &portsV, "address?", &address,
		"namespace?", starconv.OrNone(&namespace), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if s.Sys.Sandbox && !s.Sys.AllowExec {
		return nil, fmt.Errorf("%s: port-forwarding is not allowed with --sandbox (add --allow-exec to allow it)", b.Name())
	}
	kind, name, shown, ns, err := podTarget(b, target, namespace)
	if err != nil {
		return nil, err
	}
	ports, err := forwardPorts(b, portsV)
	if err != nil {
		return nil, err
	}
	fc, c, err := clusterAs[forwardCluster](thread, b, kctx, "this session's cluster cannot port-forward")
	if err != nil {
		return nil, err
	}
	var errOut io.Writer = os.Stderr
	if s.Sys.Stderr != nil {
		errOut = s.Sys.Stderr
	}
	f, err := fc.PortForward(sys.Context(thread), kind, name, ns, ports, address, errOut)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), shown, err)
	}
	fv := &forwardValue{f: f, target: shown, s: s}
	forwards.Lock()
	forwards.m[s] = append(forwards.m[s], fv)
	forwards.Unlock()
	where := f.Namespace()
	if info, err := c.Context(); err == nil {
		where = info.Name + "/" + where
	}
	Announce(thread, c, []string{fmt.Sprintf("port-forward in %s %s (pod/%s)", where, shown, f.Pod())}, nil)
	return fv, nil
}

// podTarget reads a target that names a pod as kubectl takes it (a Pod, "x",
// "pod/x", "deploy/web", a workload object): its kind, name, how to show it
// and its namespace.
func podTarget(b *starlark.Builtin, target starlark.Value, namespace string) (kind, name, shown, ns string, err error) {
	r, err := unpackRef(b, target, "")
	if err != nil {
		return "", "", "", "", err
	}
	if r.name == "" { // a pod's name alone
		r.kind, r.name = "pod", r.kind
	}
	if r.name == "" {
		return "", "", "", "", fmt.Errorf("%s: which pod? got an empty target", b.Name())
	}
	if ns, err = r.inNamespace(b, namespace); err != nil {
		return "", "", "", "", err
	}
	k, _, _ := strings.Cut(r.kind, ".")
	if r.object {
		k = strings.ToLower(k)
	}
	return r.kind, r.name, k + "/" + r.name, ns, nil
}

// forwardPorts reads k8s.port_forward's ports into kubectl's syntax.
func forwardPorts(b *starlark.Builtin, v starlark.Value) ([]string, error) {
	one := func(v starlark.Value) (string, error) {
		switch v := v.(type) {
		case starlark.Int:
			n, ok := v.Int64()
			if !ok || n < 0 || n > 65535 {
				return "", fmt.Errorf("%s: port %s out of range", b.Name(), v)
			}
			if n == 0 {
				return "", fmt.Errorf("%s: port 0: give the remote port (\":80\" or \"0:80\" for a free local one)", b.Name())
			}
			return strconv.FormatInt(n, 10), nil
		case starlark.String:
			p := string(v)
			if p == "" || strings.Count(p, ":") > 1 {
				return "", fmt.Errorf("%s: invalid port %q: want \"8080:80\", \"80\", \":80\" or \"8080:http\"", b.Name(), p)
			}
			if l, _, ok := strings.Cut(p, ":"); ok && l != "" {
				if _, err := strconv.ParseUint(l, 10, 16); err != nil {
					return "", fmt.Errorf("%s: invalid local port %q in %q", b.Name(), l, p)
				}
			}
			return p, nil
		}
		return "", fmt.Errorf("%s: for parameter ports: got %s, want int, str, list or dict", b.Name(), v.Type())
	}
	var out []string
	switch v := v.(type) {
	case *starlark.List, starlark.Tuple:
		it := starlark.Iterate(v)
		defer it.Done()
		var x starlark.Value
		for it.Next(&x) {
			p, err := one(x)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	case *starlark.Dict:
		for _, kv := range v.Items() {
			l, ok := kv[0].(starlark.Int)
			n, exact := l.Int64()
			if !ok || !exact || n < 0 || n > 65535 {
				return nil, fmt.Errorf("%s: invalid local port %s: want an int (0 for a free one)", b.Name(), kv[0])
			}
			r, err := one(kv[1])
			if err != nil || strings.Contains(r, ":") {
				return nil, fmt.Errorf("%s: invalid remote port %s", b.Name(), kv[1])
			}
			out = append(out, fmt.Sprintf("%d:%s", n, r))
		}
	default:
		p, err := one(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: at least 1 port is required", b.Name())
	}
	return out, nil
}

// forwardValue is k8s.port_forward's handle.
type forwardValue struct {
	f      *kube.Forward
	target string
	s      *Session
}

var _ starlark.HasAttrs = (*forwardValue)(nil)

func (fv *forwardValue) String() string {
	return strings.Join(fv.f.Lines(), "\n")
}
func (fv *forwardValue) Type() string          { return "k8s.forward" }
func (fv *forwardValue) Freeze()               {}
func (fv *forwardValue) Truth() starlark.Bool  { return true }
func (fv *forwardValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.forward") }

func (fv *forwardValue) AttrNames() []string {
	return []string{"address", "namespace", "pod", "ports", "running", "stop", "target", "wait"}
}

func (fv *forwardValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "ports":
		d := starlark.NewDict(1)
		for _, p := range fv.f.Ports() {
			d.SetKey(starlark.MakeInt(int(p.Local)), starlark.MakeInt(int(p.Remote)))
		}
		return d, nil
	case "target":
		return starlark.String(fv.target), nil
	case "pod":
		return starlark.String(fv.f.Pod()), nil
	case "namespace":
		return starlark.String(fv.f.Namespace()), nil
	case "address":
		return starlark.String(fv.f.Address()), nil
	case "running":
		select {
		case <-fv.f.Done():
			return starlark.False, nil
		default:
			return starlark.True, nil
		}
	case "stop":
		return starlark.NewBuiltin("stop", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs("k8s.forward.stop", args, kwargs); err != nil {
				return nil, err
			}
			fv.f.Stop()
			forgetForward(fv.s, fv)
			return starlark.None, nil
		}).BindReceiver(fv), nil
	case "wait":
		return starlark.NewBuiltin("wait", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs("k8s.forward.wait", args, kwargs); err != nil {
				return nil, err
			}
			select {
			case <-fv.f.Done():
			case <-sys.Context(thread).Done():
				fv.f.Stop() // Ctrl-C ends a forward waited for, as it ends kubectl's
			}
			forgetForward(fv.s, fv)
			if err := fv.f.Err(); err != nil {
				return nil, fmt.Errorf("k8s.forward.wait: %s: %w", fv.target, err)
			}
			return starlark.None, nil
		}).BindReceiver(fv), nil
	}
	return nil, nil
}

func forwardsBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	forwards.Lock()
	defer forwards.Unlock()
	var out []starlark.Value
	for _, f := range forwards.m[s] {
		select {
		case <-f.f.Done():
		default:
			out = append(out, f)
		}
	}
	return starlark.NewList(out), nil
}
