package builtins

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/sys"
)

// x18Env is the sandbox with a namespace of this helper's prefix (x18-),
// deleted at cleanup.
func x18Env(t *testing.T) *kubetest.Env {
	t.Helper()
	env := kubetest.Sandbox(t)
	e := *env
	e.Namespace = "x18-" + rand.String(6)
	ctx := context.Background()
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: e.Namespace, Labels: map[string]string{"k8sh.test": "e2e"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		env.Clientset.CoreV1().Namespaces().Delete(context.Background(), e.Namespace, metav1.DeleteOptions{})
	})
	return &e
}

// execStar runs src (NS replaced by env's namespace) on the sandbox with
// the session that edit changes, and the global kubectl(*args, stdin="")
// that runs the sandbox's kubectl in NS and returns struct(code, stdout,
// stderr). It returns what k8sh wrote to stderr.
func execStar(t *testing.T, env *kubetest.Env, edit func(*Session), src string) string {
	t.Helper()
	return execStarWith(t, env, edit, nil, src)
}

// execStarWith is execStar with the globals extra added.
func execStarWith(t *testing.T, env *kubetest.Env, edit func(*Session), extra starlark.StringDict, src string) string {
	t.Helper()
	var stderr strings.Builder
	thread := &starlark.Thread{Name: t.Name(), Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
		return starlarktest.LoadAssertModule()
	}}
	starlarktest.SetReporter(thread, t)
	thread.Print = func(_ *starlark.Thread, msg string) { stderr.WriteString(msg + "\n") }
	s := &Session{Cluster: e2eClient(t, env, "sandbox"), File: file.Options{Dir: t.TempDir()}, Sys: sys.Options{Stderr: &stderr}}
	if edit != nil {
		edit(s)
	}
	SetSession(thread, s)
	sys.SetContext(thread, context.Background())
	g := Globals(nil)
	k := env.Kubectl(t)
	g["kubectl"] = starlark.NewBuiltin("kubectl", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var stdin string
		if err := starlark.UnpackArgs(b.Name(), nil, kwargs, "stdin?", &stdin); err != nil {
			return nil, err
		}
		argv := make([]string, len(args))
		for i, a := range args {
			argv[i], _ = starlark.AsString(a)
		}
		out, errOut, code := k.Run(stdin, argv...)
		return execResult(code, out, errOut), nil
	})
	g["sha256"] = starlark.NewBuiltin("sha256", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var s string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s); err != nil {
			return nil, err
		}
		return starlark.String(fmt.Sprintf("%x", sha256.Sum256([]byte(s)))), nil
	})
	for k, v := range extra {
		g[k] = v
	}
	src = "load('assert.star', 'assert')\n" + strings.ReplaceAll(src, "NS", env.Namespace)
	if _, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, g); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return stderr.String()
}

// execPods makes Ready pods named names in env's namespace, with the
// containers given (one "main" when none), labelled app=x18.
const execPods = `
def pods(names, containers=["main"], annotations={}):
    for n in names:
        k8s.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": n, "labels": {"app": "x18"}, "annotations": annotations},
                   "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]}})
    for n in names:
        k8s.wait("pod", n, condition="Ready", timeout="60s")
`

// TestExecE2E: k8s.exec prints, exits and reads stdin as kubectl exec
// does on the same pods (same stdout, stderr and code), picks kubectl's
// container and pod of a workload, times out, and runs on a list.
func TestExecE2E(t *testing.T) {
	env := x18Env(t)
	stderr := execStar(t, env, nil, execPods+`
pods(["p1", "p2", "p3"])
pods(["two"], containers=["a", "b"])
pods(["anno"], containers=["a", "b"], annotations={"kubectl.kubernetes.io/default-container": "b"})

def same(target, cmd, stdin=None, **kw):
    args = ["exec"] + (["-i"] if stdin != None else []) + [target, "--"] + (["sh", "-c", cmd] if type(cmd) == "string" else cmd)
    want = kubectl(stdin=stdin or "", *args)
    got = k8s.exec(target, cmd, stdin=stdin, check=False, **kw)
    assert.eq((got.stdout, got.code), (want.stdout, want.code))
    return got, want

# exit codes, stdout and stderr
got, want = same("p1", "echo out; echo err >&2; exit 3")
assert.eq((got.stdout, got.stderr, got.code), ("out\n", "err\n", 3))
assert.true(want.stderr.startswith("err\n"), want.stderr)
got, _ = same("pod/p1", ["sh", "-c", "echo $POD_NAME $POD_NAMESPACE $CONTAINER_NAME"])
assert.eq(got.stdout, "p1 NS main\n")
assert.eq(k8s.exec("p1", ["true"]).code, 0)
assert.fails(lambda: k8s.exec("p1", "echo bad >&2; exit 7"), "^k8s.exec: pod/p1: command terminated with exit code 7: bad$")
assert.fails(lambda: k8s.exec("p1", ["no-such-command-x18"]), "k8s.exec: pod/p1: ")

# stdin to its end
got, _ = same("p1", ["cat"], stdin="line 1\nline 2\n")
assert.eq(got.stdout, "line 1\nline 2\n")
got, _ = same("p1", "wc -c", stdin="x" * 100000)
assert.eq(got.stdout.strip(), "100000")

# the pod as an object, containers
p = k8s.get("pod", "p1")
assert.eq(k8s.exec(p, "echo $POD_NAME").stdout, "p1\n")
got, _ = same("two", "echo $CONTAINER_NAME")
assert.eq(got.stdout, "a\n")
assert.eq(k8s.exec("two", "echo $CONTAINER_NAME", container="b").stdout, "b\n")
assert.eq(k8s.exec("anno", "echo $CONTAINER_NAME").stdout, "b\n")
assert.fails(lambda: k8s.exec("two", "true", container="c"), "container c is not valid for pod two out of: a, b")
assert.fails(lambda: k8s.exec("nope", "true"), 'k8s.exec: pods "nope" not found')
assert.fails(lambda: k8s.exec("p1", []), "non-empty list")
assert.fails(lambda: k8s.exec(3, "true"), "for parameter target: got int")

# a timeout
assert.fails(lambda: k8s.exec("p1", "sleep 30", timeout="1s"), "k8s.exec: pod/p1: timed out after 1s")

# a list: in order, bounded, one failure not hiding the others
rs = k8s.exec(["p1", "p2", "p3"], "echo $POD_NAME; test $POD_NAME != p2", parallel=2, check=False)
assert.eq([(r.code, r.stdout) for r in rs], [(0, "p1\n"), (1, "p2\n"), (0, "p3\n")])
assert.fails(lambda: k8s.exec(["p1", "p2", "p3"], "test $POD_NAME != p2"), "^k8s.exec: 1 of 3 objects failed: NS/pod/p2: command terminated with exit code 1$")
assert.fails(lambda: k8s.exec(["p1", "p2", "p3"], "test $POD_NAME = p2"), "^k8s.exec: 2 of 3 objects failed: NS/pod/p1: command terminated with exit code 1; NS/pod/p3: ")
assert.fails(lambda: k8s.exec(["p1"], "true", parallel=0), "parallel must be at least 1")
`)
	if want := "Defaulted container \"a\" out of: a, b\n"; !strings.Contains(stderr, want) {
		t.Errorf("k8sh's stderr %q lacks kubectl's note %q", stderr, want)
	}
	if strings.Contains(stderr, `Defaulted container "b"`) {
		t.Errorf("a pod with a default-container annotation got a note: %q", stderr)
	}
}

// TestExecWorkloadE2E: k8s.exec("deploy/web") runs in the pod that
// kubectl exec deploy/web picks.
func TestExecWorkloadE2E(t *testing.T) {
	env := x18Env(t)
	execStar(t, env, nil, `
k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "main", "image": "busybox"}]}}}})
k8s.wait("deploy/web", condition="Available", timeout="60s")
want = kubectl("exec", "deploy/web", "--", "sh", "-c", "echo $POD_NAME")
assert.eq(want.code, 0)
assert.eq(k8s.exec("deploy/web", "echo $POD_NAME").stdout, want.stdout)
assert.eq(k8s.exec(k8s.get("deploy", "web"), "echo $POD_NAME").stdout, want.stdout)
assert.fails(lambda: k8s.exec("cm/kube-root-ca.crt", "true"), "cannot pick a pod of configmap/kube-root-ca.crt")
`)
}

// TestExecLargeOutputE2E: 50 MB of output arrive whole (the same hash as
// kubectl exec's), the heap while they stream staying within what one
// string grown by doubling needs.
func TestExecLargeOutputE2E(t *testing.T) {
	env := x18Env(t)
	const size = 50 << 20
	cmd := fmt.Sprintf("yes 0123456789abcdef | head -c %d", size)
	execStar(t, env, nil, execPods+`pods(["big"])`)
	runtime.GC()
	base := heapLive()
	peak, done := base, make(chan struct{})
	sampled := make(chan struct{})
	go func() { // samples the live heap while the command streams
		defer close(sampled)
		for {
			if h := heapLive(); h > peak {
				peak = h
			}
			select {
			case <-done:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	var kept string
	keep := starlark.NewBuiltin("keep", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return starlark.None, starlark.UnpackArgs(b.Name(), args, kwargs, "s", &kept)
	})
	execStarWith(t, env, nil, starlark.StringDict{"keep": keep}, fmt.Sprintf(`
r = k8s.exec("big", %q)
assert.eq(len(r.stdout), %d)
keep(r.stdout)
`, cmd, size))
	close(done)
	<-sampled
	got := fmt.Sprintf("%x\n", sha256.Sum256([]byte(kept)))
	k := env.Kubectl(t)
	out, _, code := k.Run("", "exec", "big", "--", "sh", "-c", cmd)
	if want := fmt.Sprintf("%x\n", sha256.Sum256([]byte(out))); code != 0 || got != want || len(out) != size {
		t.Errorf("k8s.exec's output hashes to %q, kubectl exec's (exit %d, %d bytes) to %q", got, code, len(out), want)
	}
	t.Logf("live heap peak: %d MB above the start for %d MB of output", (peak-base)>>20, size>>20)
	// The sample counts garbage not yet collected too (GOGC=100 lets the
	// heap reach twice what is live): the string's last doubling (64 MB
	// and the 32 MB before it) and the streams' frames. A second copy of
	// the output held (a buffer, then a string of it) would pass 4x.
	if peak-base > 4*size {
		t.Errorf("the live heap grew by %d MB while %d MB streamed: more than the output's copies it needs", (peak-base)>>20, size>>20)
	}
}

// heapLive is the bytes of the heap's objects, live or not yet collected.
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestExecSafetyE2E: k8s.exec is refused under --read-only and --sandbox
// (without --allow-exec), and --dry-run says what it would run.
func TestExecSafetyE2E(t *testing.T) {
	env := x18Env(t)
	execStar(t, env, nil, execPods+`pods(["s1"])`)
	execStar(t, env, func(s *Session) { s.ReadOnly = true }, `
assert.fails(lambda: k8s.exec("s1", "touch made"), r'k8s.exec: context "sandbox" is read-only \(--read-only\): refusing to exec in pod/s1')
`)
	execStar(t, env, func(s *Session) { s.Sys.Sandbox = true }, `
assert.fails(lambda: k8s.exec("s1", "touch made"), r"k8s.exec: running commands in pods is not allowed with --sandbox \(add --allow-exec to allow it\)")
`)
	stderr := execStar(t, env, func(s *Session) { s.DryRun = true }, `
r = k8s.exec("s1", "touch made")
assert.eq((r.code, r.stdout), (0, ""))
`)
	if want := "exec in sandbox/" + env.Namespace + " pod/s1: touch made (dry run: not run)\n"; stderr != want {
		t.Errorf("dry run said %q, want %q", stderr, want)
	}
	execStar(t, env, func(s *Session) { s.Sys.Sandbox, s.Sys.AllowExec = true, true }, `
assert.eq(k8s.exec("s1", "test -e made", check=False).code, 1)  # the refused ones made nothing
assert.eq(k8s.exec("s1", "echo ok").stdout, "ok\n")
`)
}
