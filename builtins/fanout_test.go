package builtins

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/sys"
)

// fakeFleet is a session over several in-memory clusters (kube.NewFake),
// one per context, and "fleet-down", a real client of a closed loopback
// port: the unit tests of the fan-out's logic. The e2e tests
// (fanout_e2e_test.go) run it on the sandbox.
type fakeFleet struct {
	names   []string
	clients map[string]*kube.Client
}

func (f *fakeFleet) Contexts() ([]kube.ContextInfo, error) {
	var out []kube.ContextInfo
	for _, n := range f.names {
		out = append(out, kube.ContextInfo{Name: n, Namespace: "default"})
	}
	return out, nil
}

func (f *fakeFleet) New(name, ns string) (*kube.Client, error) {
	c, ok := f.clients[name]
	if !ok {
		return nil, fmt.Errorf("no context %q", name)
	}
	return c, nil
}

var silenceOnce sync.Once

func pod(name string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "nginx"}}}}
}

// newFakeFleet makes contexts fleet-a (pods a1, a2), fleet-b (pod b1) and
// fleet-down (nothing listens), and a thread whose session uses fleet-a.
func newFakeFleet(t *testing.T) (*starlark.Thread, *Session, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	silenceOnce.Do(kube.SilenceClientLogs) // as main does; not safe twice at once
	fl := &fakeFleet{clients: map[string]*kube.Client{}}
	for name, objs := range map[string][]map[string]any{
		"fleet-a": {pod("a1"), pod("a2")},
		"fleet-b": {pod("b1")},
	} {
		f, err := kube.NewFake(objs, name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		fl.clients[name] = f.Client
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: down, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: fleet-down, context: {cluster: down, user: u}}]
current-context: fleet-down
`), 0o600)
	flags := kube.NewConfigFlags()
	flags.KubeConfig = &kc
	cache := filepath.Join(dir, "cache")
	flags.CacheDir = &cache
	fl.clients["fleet-down"] = kube.NewClient(flags)
	fl.names = []string{"fleet-a", "fleet-b", "fleet-down"}
	var out, errOut bytes.Buffer
	var mu sync.Mutex
	s := &Session{
		Cluster:    fl.clients["fleet-a"],
		ForContext: func(name string) (Cluster, error) { return fl.New(name, "") },
		Contexts:   fl,
		Policy:     &Policy{},
		Sys:        sys.Options{Stderr: &errOut},
	}
	thread := &starlark.Thread{Name: "test", Print: func(_ *starlark.Thread, msg string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(msg + "\n")
	}}
	SetSession(thread, s)
	return thread, s, &out, &errOut
}

func runFleet(t *testing.T, thread *starlark.Thread, s *Session, src string) starlark.StringDict {
	t.Helper()
	g, err := starlark.ExecFileOptions(starOptions, thread, "test.star", src, Globals(s))
	if err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return g
}

func TestFanoutList(t *testing.T) {
	t.Parallel()
	thread, s, _, errOut := newFakeFleet(t)
	g := runFleet(t, thread, s, `
pods = k8s.list("pods", contexts=["fleet-*"])
names = [(k8s.context_of(p), p.metadata.name) for p in pods]
errs = k8s.last_errors()
one = k8s.list("pods", contexts="fleet-b")
one_errs = k8s.last_errors()
got = k8s.get("pod", "b1", contexts=["fleet-a", "fleet-b"], default=None)
ex = k8s.exists("pod", "a1", contexts=["fleet-a", "fleet-b"])
it = [(k8s.context_of(p), p.metadata.name) for p in k8s.iter("pods", contexts=["fleet-b", "fleet-a"])]
single = k8s.context_of(k8s.list("pods")[0])
desc = k8s.describe("pod", "a1", contexts=["fleet-a", "fleet-b"])
evs = k8s.events("pod", "a1", contexts=["fleet-a"])
logs = catch(k8s.logs, "a1", contexts=["fleet-a", "fleet-b"]).error
`)
	// The fake serves no logs (the e2e test reads real ones): both
	// contexts fail, each for its own reason.
	if msg, _ := starlark.AsString(g["logs"]); !strings.Contains(msg, "every context failed") ||
		!strings.Contains(msg, "fleet-a: the fake cluster does not serve pods/log") || !strings.Contains(msg, `fleet-b: pods "a1" not found`) {
		t.Errorf("logs: got %s, want both contexts' errors", g["logs"])
	}
	if d := g["desc"].(*starlark.Dict); d.Len() != 1 || !strings.Contains(Echo(thread, d), "==> fleet-a <==\nName:         a1") {
		t.Errorf("describe: got %s", Echo(thread, d))
	}
	if got, want := g["names"].String(), `[("fleet-a", "a1"), ("fleet-a", "a2"), ("fleet-b", "b1")]`; got != want {
		t.Errorf("objects: got %s, want %s", got, want)
	}
	errs := g["errs"].(*starlark.Dict)
	if errs.Len() != 1 {
		t.Fatalf("last_errors: got %s, want fleet-down only", errs)
	}
	msg, _, _ := errs.Get(starlark.String("fleet-down"))
	if msg == nil || !strings.Contains(msg.String(), "127.0.0.1:1") {
		t.Errorf("last_errors: got %s, want fleet-down's connection refused", errs)
	}
	if !strings.Contains(errOut.String(), "k8s.list: fleet-down: ") {
		t.Errorf("stderr: got %q, want a line for fleet-down", errOut)
	}
	if g["one_errs"].(*starlark.Dict).Len() != 0 {
		t.Errorf("last_errors after a call where all answered: got %s, want {}", g["one_errs"])
	}
	if got, want := g["got"].String(), `[<Pod default/b1>]`; got != want {
		t.Errorf("get with default: got %s, want %s", got, want)
	}
	if got, want := g["ex"].String(), `{"fleet-a": True, "fleet-b": False}`; got != want {
		t.Errorf("exists: got %s, want %s", got, want)
	}
	if got, want := g["it"].String(), `[("fleet-b", "b1"), ("fleet-a", "a1"), ("fleet-a", "a2")]`; got != want {
		t.Errorf("iter: got %s, want %s", got, want)
	}
	if got, want := g["single"].String(), `"fleet-a"`; got != want {
		t.Errorf("context_of a single-context read: got %s, want %s", got, want)
	}
	// The table: CONTEXT first, each context's rows.
	table := Echo(thread, g["pods"])
	lines := strings.Split(table, "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "CONTEXT") || !strings.HasPrefix(lines[1], "fleet-a ") || !strings.HasPrefix(lines[3], "fleet-b ") {
		t.Errorf("table:\n%s\nwant a CONTEXT column and a row per pod", table)
	}
}

func TestFanoutFailures(t *testing.T) {
	t.Parallel()
	thread, s, _, _ := newFakeFleet(t)
	for _, c := range []struct{ src, want string }{
		{`k8s.list("pods", contexts=["nope-*"])`, `k8s.list: contexts: "nope-\*" matches no context of the kubeconfig; the contexts are: fleet-a, fleet-b, fleet-down`},
		{`k8s.list("pods", contexts=["fleet-down"])`, `k8s.list: fleet-down: .*127.0.0.1:1`},
		{`k8s.get("pod", "zz", contexts=["fleet-a", "fleet-b"])`, `(?s)k8s.get: every context failed:\n  fleet-a: pods "zz" not found.*\n  fleet-b: pods "zz" not found`},
		{`k8s.list("pods", context="fleet-a", contexts=["fleet-b"])`, `context="fleet-a" and contexts=: give one`},
		{`k8s.list("pods", contexts=[])`, `an empty list names no context`},
		{`k8s.list("pods", contexts=["["])`, `bad pattern "\["`},
		{`k8s.list("pods", contexts=["fleet-a"], parallel=0)`, `parallel must be at least 1`},
		{`k8s.list("podz", contexts=["fleet-a", "fleet-b"])`, `every context failed`},
		{`ctx.each("fleet-*", lambda: 1 // 0)`, `ctx.each: every context failed`},
		{`k8s.top(contexts=["fleet-a", "fleet-b"])`, `(?s)k8s.top: every context failed:\n  fleet-a: Metrics API not available\n  fleet-b: Metrics API not available`},
	} {
		_, err := starlark.ExecFileOptions(starOptions, thread, "test.star", "assert.fails(lambda: "+c.src+", "+fmt.Sprintf("%q", c.want)+")", Globals(s))
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
		}
	}
}

func TestFanoutEachAndWrites(t *testing.T) {
	t.Parallel()
	thread, s, _, errOut := newFakeFleet(t)
	g := runFleet(t, thread, s, `
counts = ctx.each(["fleet-a", "fleet-b"], lambda: len(k8s.list("pods")))
named = ctx.each("fleet-*", lambda name: (name, ctx.current().name, len(k8s.list("pods"))), timeout="20s")
each_errs = k8s.last_errors()
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}}
applied = k8s.apply(cm, contexts=["fleet-a", "fleet-b"])
after = [(k8s.context_of(c), c.data.a) for c in k8s.list("cm", contexts="fleet-[ab]", fields="metadata.name=cfg")]
deleted = k8s.delete("cm", "cfg", contexts=["fleet-a", "fleet-b"])
texts = ctx.each("fleet-[ab]", lambda name: "one\ntwo " + name + "\n")
`)
	if got, want := Echo(thread, g["texts"]), "==> fleet-a <==\none\ntwo fleet-a\n\n==> fleet-b <==\none\ntwo fleet-b"; got != want {
		t.Errorf("echo of texts by context: got %q, want %q", got, want)
	}
	if got, want := g["counts"].String(), `{"fleet-a": 2, "fleet-b": 1}`; got != want {
		t.Errorf("ctx.each: got %s, want %s", got, want)
	}
	if got, want := g["named"].String(), `{"fleet-a": ("fleet-a", "fleet-a", 2), "fleet-b": ("fleet-b", "fleet-b", 1)}`; got != want {
		t.Errorf("ctx.each with the name: got %s, want %s", got, want)
	}
	if e := g["each_errs"].(*starlark.Dict); e.Len() != 1 {
		t.Errorf("ctx.each's last_errors: got %s, want fleet-down", e)
	}
	if got, want := g["applied"].String(), `{"fleet-a": <ConfigMap default/cfg>, "fleet-b": <ConfigMap default/cfg>}`; got != want {
		t.Errorf("apply: got %s, want %s", got, want)
	}
	if got, want := g["after"].String(), `[("fleet-a", "1"), ("fleet-b", "1")]`; got != want {
		t.Errorf("after apply: got %s, want %s", got, want)
	}
	if got, want := g["deleted"].String(), `{"fleet-a": ["cfg"], "fleet-b": ["cfg"]}`; got != want {
		t.Errorf("delete: got %s, want %s", got, want)
	}
	_ = errOut
}

// TestFanoutSafety: a protected context among several asks once, naming
// it; one not confirmed is left unchanged and reported, the others are
// changed; a read-only one is refused.
func TestFanoutSafety(t *testing.T) {
	t.Parallel()
	thread, s, _, errOut := newFakeFleet(t)
	s.Policy = &Policy{Protected: []string{"fleet-b"}, ReadOnly: []string{"fleet-down"}}
	var prompts []string
	s.Confirm = func(p string) (string, error) {
		prompts = append(prompts, p)
		return "no", nil
	}
	g := runFleet(t, thread, s, `
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "safe", "namespace": "default"}}
applied = k8s.apply(cm, contexts=["fleet-*"])
errs = k8s.last_errors()
where = k8s.exists("cm", "safe", contexts=["fleet-a", "fleet-b"])
`)
	if len(prompts) != 1 || !strings.Contains(prompts[0], `context "fleet-b" is protected`) {
		t.Errorf("prompts: got %q, want one naming fleet-b", prompts)
	}
	if got, want := g["applied"].String(), `{"fleet-a": <ConfigMap default/safe>}`; got != want {
		t.Errorf("apply: got %s, want %s", got, want)
	}
	if got, want := g["errs"].String(), `{"fleet-b": "not confirmed: nothing was changed in context \"fleet-b\"", "fleet-down": "context \"fleet-down\" is read-only (read_only in the k8sh config): refusing to apply configmap/safe"}`; got != want {
		t.Errorf("last_errors: got %s, want %s", got, want)
	}
	if got, want := g["where"].String(), `{"fleet-a": True, "fleet-b": False}`; got != want {
		t.Errorf("exists: got %s, want %s", got, want)
	}
	if !strings.Contains(errOut.String(), "k8s.apply: fleet-b: not confirmed") {
		t.Errorf("stderr: got %q", errOut)
	}
}

func TestFanoutWatch(t *testing.T) {
	t.Parallel()
	thread, s, out, errOut := newFakeFleet(t)
	g := runFleet(t, thread, s, `
evs = sorted([(k8s.context_of(ev.object), ev.type, ev.object.metadata.name) for ev in k8s.watch("pods", contexts=["fleet-*"], timeout="1s")])
k8s.print(k8s.watch("pods", contexts=["fleet-a", "fleet-b"], timeout="1s"))
`)
	if got, want := g["evs"].String(), `[("fleet-a", "ADDED", "a1"), ("fleet-a", "ADDED", "a2"), ("fleet-b", "ADDED", "b1")]`; got != want {
		t.Errorf("watch: got %s, want %s", got, want)
	}
	if !strings.HasPrefix(out.String(), "CONTEXT") || strings.Count(out.String(), "\n") != 4 {
		t.Errorf("printed watch:\n%s\nwant a CONTEXT column", out)
	}
	if !strings.Contains(errOut.String(), "k8s.watch: fleet-down: ") {
		t.Errorf("stderr: got %q", errOut)
	}
}

// sortedKeysOf is the keys of dict v, joined by ",".
func sortedKeysOf(v starlark.Value) string {
	var keys []string
	for _, k := range v.(*starlark.Dict).Keys() {
		keys = append(keys, string(k.(starlark.String)))
	}
	return strings.Join(keys, ",")
}
