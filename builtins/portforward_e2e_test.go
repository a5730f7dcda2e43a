package builtins

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// p18Env is the sandbox with a namespace "p18-..." of its own holding
// Deployment web (one running pod, whose name it returns).
func p18Env(t *testing.T) (*kubetest.Env, string) {
	env := kubetest.Sandbox(t)
	e := *env
	e.Namespace = kubetest.PrefixNamespace(t, env, "p18-")
	return &e, kubetest.CreateWeb(t, &e, e.Namespace)
}

// runSession runs src with session s (POD and NS replaced); it returns
// what it printed and what it announced, and stops its forwards at the
// end, as a script's end does.
func runSession(t *testing.T, s *Session, src string, repl map[string]string) (out, announced string) {
	t.Helper()
	var o, a strings.Builder
	thread := &starlark.Thread{Name: t.Name(),
		Print: func(_ *starlark.Thread, msg string) { o.WriteString(msg + "\n") },
		Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
			return starlarktest.LoadAssertModule()
		}}
	starlarktest.SetReporter(thread, t)
	s.Announce = func(line string) { a.WriteString(line + "\n") }
	SetSession(thread, s)
	sys.SetContext(thread, context.Background())
	defer StopForwards(thread)
	for k, v := range repl {
		src = strings.ReplaceAll(src, k, v)
	}
	if _, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", "load('assert.star', 'assert')\n"+src, Globals(s)); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return o.String(), a.String()
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPortForwardLikeKubectlE2E: k8s.port_forward prints what kubectl
// port-forward --address 127.0.0.1 prints for the same target and ports;
// targets as kubectl takes them (a Pod, a name, deploy/, svc/ with a named
// targetPort), k8s.forwards() and stop().
func TestPortForwardLikeKubectlE2E(t *testing.T) {
	env, pod := p18Env(t)
	ctx := context.Background()
	_, err := env.Clientset.CoreV1().Services(env.Namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "web", Port: 8080, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ target, ports string }{
		{"pod/" + pod, "%d:80"},
		{"deploy/web", "%d:http"},
		{"svc/web", "%d:web"},
		{"svc/web", "%d:8080"},
	} {
		port := freePort(t)
		ports := fmt.Sprintf(c.ports, port)
		cmd := exec.Command(env.Kubectl(t).Bin, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "port-forward", "--address", "127.0.0.1", c.target, ports)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		cmd.Process.Kill()
		cmd.Wait()
		if err != nil {
			t.Fatalf("kubectl port-forward %s %s: %v", c.target, ports, err)
		}
		// The same local port, free again now that kubectl has ended.
		out, announced := runSession(t, &Session{Cluster: e2eClient(t, env, "sandbox")}, `
fw = k8s.port_forward(TARGET, PORTS)
print(fw)
assert.eq(fw.target, TARGET)
assert.eq(fw.pod, POD)
assert.true(fw.running)
`, map[string]string{"TARGET": fmt.Sprintf("%q", c.target), "PORTS": fmt.Sprintf("%q", ports), "POD": fmt.Sprintf("%q", pod)})
		if out != line {
			t.Errorf("%s %s: k8sh printed %q, kubectl %q", c.target, ports, out, line)
		}
		if want := fmt.Sprintf("port-forward in sandbox/%s %s (pod/%s)\n", env.Namespace, c.target, pod); announced != want {
			t.Errorf("announced %q, want %q", announced, want)
		}
	}

	runSession(t, &Session{Cluster: e2eClient(t, env, "sandbox")}, `
p = k8s.get("pod", POD)
a = k8s.port_forward(p, [0 + 9000, ":80"])
b = k8s.port_forward(POD, {0: 80})
assert.eq(a.target, "pod/" + POD)
assert.eq(sorted(a.ports.values()), [80, 9000])
assert.true(9000 in a.ports)
assert.eq(list(b.ports.values()), [80])
assert.eq(len(k8s.forwards()), 2)
a.stop()
assert.eq(k8s.forwards(), [b])
assert.true(not a.running)
assert.eq(str(k8s.forwards()[0]), str(b))
[fw.stop() for fw in k8s.forwards()]
assert.eq(k8s.forwards(), [])
assert.eq(b.wait(), None)
`, map[string]string{"POD": fmt.Sprintf("%q", pod)})
}

// TestPortForwardRefusalsE2E: refused under --sandbox without
// --allow-exec, bad ports and targets said, nothing left listening.
func TestPortForwardRefusalsE2E(t *testing.T) {
	env, pod := p18Env(t)
	repl := map[string]string{"POD": fmt.Sprintf("%q", pod)}
	runSession(t, &Session{Cluster: e2eClient(t, env, "sandbox"), Sys: sys.Options{Sandbox: true}}, `
assert.fails(lambda: k8s.port_forward(POD, 80), "k8s.port_forward: port-forwarding is not allowed with --sandbox \\(add --allow-exec to allow it\\)")
assert.eq(k8s.forwards(), [])
`, repl)
	runSession(t, &Session{Cluster: e2eClient(t, env, "sandbox"), Sys: sys.Options{Sandbox: true, AllowExec: true}}, `
fw = k8s.port_forward(POD, ":80")
assert.eq(list(fw.ports.values()), [80])
`, repl)
	runSession(t, &Session{Cluster: e2eClient(t, env, "sandbox")}, `
assert.fails(lambda: k8s.port_forward(POD, "1:2:3"), 'k8s.port_forward: invalid port "1:2:3"')
assert.fails(lambda: k8s.port_forward(POD, "x:80"), 'k8s.port_forward: invalid local port "x" in "x:80"')
assert.fails(lambda: k8s.port_forward(POD, 70000), "k8s.port_forward: port 70000 out of range")
assert.fails(lambda: k8s.port_forward(POD, 0), "k8s.port_forward: port 0: give the remote port")
assert.fails(lambda: k8s.port_forward(POD, []), "k8s.port_forward: at least 1 port is required")
assert.fails(lambda: k8s.port_forward(POD, ":nope"), 'k8s.port_forward: pod/.*: .*nope')
assert.fails(lambda: k8s.port_forward(5, 80), "k8s.port_forward: got int, want")
assert.fails(lambda: k8s.port_forward("pod/missing", 80), 'k8s.port_forward: pod/missing: pods "missing" not found')
assert.fails(lambda: k8s.port_forward("svc/missing", 80), 'k8s.port_forward: svc/missing: services "missing" not found')
assert.eq(k8s.forwards(), [])
`, repl)
}
