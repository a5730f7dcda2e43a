package builtins

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/tools/netproxy"
)

// fleetContext is a context of a generated kubeconfig on the sandbox: its
// server ("" for the sandbox's own), namespace, and the identity the
// sandbox's admin impersonates ("" for none). kubeconfig, when not "",
// names another sandbox's kubeconfig whose "sandbox" context it copies.
type fleetContext struct {
	name, server, namespace, as string
	kubeconfig                  string
}

// writeFleetKubeconfig writes a kubeconfig holding ctxs, each its own
// cluster and user entries made from the sandbox's ("sandbox",
// "sandbox-admin"), the first one current.
func writeFleetKubeconfig(t testing.TB, env *kubetest.Env, ctxs []fleetContext) string {
	t.Helper()
	base, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	for _, c := range ctxs {
		from := base
		if c.kubeconfig != "" {
			if from, err = clientcmd.LoadFromFile(c.kubeconfig); err != nil {
				t.Fatal(err)
			}
		}
		cl := from.Clusters["sandbox"].DeepCopy()
		if c.server != "" {
			cl.Server = c.server
		}
		user := from.AuthInfos["sandbox-admin"].DeepCopy()
		user.Impersonate = c.as
		cfg.Clusters[c.name], cfg.AuthInfos[c.name] = cl, user
		cfg.Contexts[c.name] = &clientcmdapi.Context{Cluster: c.name, AuthInfo: c.name, Namespace: c.namespace}
	}
	cfg.CurrentContext = ctxs[0].name
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// fleetSession is the session k8sh makes for kubeconfig (main.go's
// newThread): the current context's client, and a client per context for
// contexts=. stdout and stderr are what the program printed.
type fleetSession struct {
	thread         *starlark.Thread
	s              *Session
	stdout, stderr *syncBuffer
}

func newFleetSession(t testing.TB, kubeconfig string) *fleetSession {
	silenceOnce.Do(kube.SilenceClientLogs) // as main does
	flags := kube.NewConfigFlags()
	dir := t.TempDir()
	flags.KubeConfig, flags.CacheDir = &kubeconfig, &dir
	clients := kube.NewClients(flags)
	fs := &fleetSession{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	fs.s = &Session{
		Cluster:    kube.NewClient(flags),
		ForContext: func(name string) (Cluster, error) { return clients.For(name) },
		Contexts:   clients,
		Policy:     &Policy{},
		Sys:        sys.Options{Stderr: fs.stderr},
	}
	fs.thread = &starlark.Thread{
		Name:  "fleet",
		Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(fs.stdout, msg) },
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return starlarktest.LoadAssertModule()
		},
	}
	if tt, ok := t.(*testing.T); ok {
		starlarktest.SetReporter(fs.thread, tt)
	}
	SetSession(fs.thread, fs.s)
	sys.SetContext(fs.thread, context.Background())
	return fs
}

// run runs src (with the assert module) and returns its globals.
func (fs *fleetSession) run(t testing.TB, src string) starlark.StringDict {
	t.Helper()
	g, err := starlark.ExecFileOptions(starOptions, fs.thread, "fleet.star", "load('assert.star', 'assert')\n"+src, Globals(fs.s))
	if err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return g
}

// kubectlCtx runs the sandbox's kubectl on kubeconfig in context name.
func kubectlCtx(t testing.TB, env *kubetest.Env, kubeconfig, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(env.Kubectl(t).Bin, append([]string{"--kubeconfig", kubeconfig, "--context", name}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// closedPort is a loopback port nothing listens on.
func closedPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestFanoutE2E: one query over a fleet of contexts on the sandbox: two
// teams (each its own namespace), one cluster down (a closed loopback
// port), one user Forbidden (the admin impersonating a ServiceAccount
// without rights), one slow past timeout= (a netproxy adding 2 s each
// way). The teams' answers are kubectl's, the others' failures are data.
func TestFanoutE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	nsA, nsB := env.Namespace, env.CreateNamespace(t)
	ctx := context.Background()
	for ns, names := range map[string][]string{nsA: {"a-1", "a-2"}, nsB: {"b-1"}} {
		for _, n := range names {
			if _, err := env.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{"fleet": "yes"}},
				Data:       map[string]string{"team": ns},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := env.Clientset.CoreV1().ServiceAccounts(nsA).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slow, err := netproxy.Start("127.0.0.1:0", strings.TrimPrefix(env.Config.Host, "https://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Close() })
	down := closedPort(t)
	kc := writeFleetKubeconfig(t, env, []fleetContext{
		{name: "team-a", namespace: nsA},
		{name: "team-b", namespace: nsB},
		{name: "down", namespace: nsA, server: "https://" + down},
		{name: "forbidden", namespace: nsA, as: "system:serviceaccount:" + nsA + ":nobody"},
		{name: "slow", namespace: nsA, server: "https://" + slow.Addr()},
	})
	fs := newFleetSession(t, kc)
	g := fs.run(t, `
cms = k8s.list("cm", selector="fleet=yes", contexts=["team-*", "down", "forbidden", "slow"], timeout="1s")
got = [(k8s.context_of(c), c.metadata.name) for c in cms]
errs = k8s.last_errors()
k8s.print(cms)
`)
	// The objects: kubectl's, context by context.
	var want []string
	for _, c := range []string{"team-a", "team-b"} {
		out, errOut, code := kubectlCtx(t, env, kc, c, "get", "cm", "-l", "fleet=yes", "-o", "name")
		if code != 0 {
			t.Fatalf("kubectl --context %s: %s", c, errOut)
		}
		for _, n := range strings.Fields(out) {
			want = append(want, fmt.Sprintf("(%q, %q)", c, strings.TrimPrefix(n, "configmap/")))
		}
	}
	if got, want := g["got"].String(), "["+strings.Join(want, ", ")+"]"; got != want {
		t.Errorf("objects: got %s, want kubectl's %s", got, want)
	}
	// The failures: one per context, in kubectl's words.
	errs := g["errs"].(*starlark.Dict)
	if keys := errs.Keys(); len(keys) != 3 || keys[0] != starlark.String("down") || keys[1] != starlark.String("forbidden") || keys[2] != starlark.String("slow") {
		t.Fatalf("last_errors: got %s, want down, forbidden and slow", errs)
	}
	for _, c := range []struct{ name, want string }{
		{"down", "connection to the server " + down + " was refused"},
		{"forbidden", "cannot list resource \"configmaps\""},
	} {
		msg, _, _ := errs.Get(starlark.String(c.name))
		text := string(msg.(starlark.String))
		_, kerr, code := kubectlCtx(t, env, kc, c.name, "get", "cm", "-l", "fleet=yes")
		if code == 0 || !strings.Contains(kerr, c.want) || !strings.Contains(text, c.want) {
			t.Errorf("%s: k8sh says %q, kubectl (exit %d) %q; want both to say %q", c.name, text, code, kerr, c.want)
		}
		// kubectl's message is k8sh's: "Error from server (Forbidden): MSG"
		// and "MSG (Forbidden)".
		if c.name == "forbidden" && kerr != "Error from server (Forbidden): "+strings.TrimSuffix(text, " (Forbidden)")+"\n" {
			t.Errorf("forbidden: k8sh says %q, kubectl %q", text, kerr)
		}
	}
	if msg, _, _ := errs.Get(starlark.String("slow")); msg.String() != `"no answer within 1s (timeout=)"` {
		t.Errorf("slow: got %s, want no answer within 1s", msg)
	}
	for _, c := range []string{"down", "forbidden", "slow"} {
		if !strings.Contains(fs.stderr.String(), "k8s.list: "+c+": ") {
			t.Errorf("stderr: got %q, want a line for %s", fs.stderr, c)
		}
	}
	// The table: CONTEXT first, then each context's rows as kubectl get
	// prints them (NAME and DATA; AGE may tick between the two reads).
	lines := strings.Split(strings.TrimSpace(fs.stdout.String()), "\n")
	if !strings.HasPrefix(lines[0], "CONTEXT ") || strings.Join(strings.Fields(lines[0]), " ") != "CONTEXT NAME DATA AGE" {
		t.Errorf("header: got %q, want CONTEXT NAME DATA AGE", lines[0])
	}
	var wantRows []string
	for _, c := range []string{"team-a", "team-b"} {
		out, _, _ := kubectlCtx(t, env, kc, c, "get", "cm", "-l", "fleet=yes", "--no-headers")
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			wantRows = append(wantRows, c+" "+strings.Join(f[:len(f)-1], " "))
		}
	}
	var gotRows []string
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		gotRows = append(gotRows, strings.Join(f[:len(f)-1], " "))
	}
	if strings.Join(gotRows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("rows:\n%s\nwant kubectl's, with their context:\n%s", strings.Join(gotRows, "\n"), strings.Join(wantRows, "\n"))
	}
}

// TestFanoutBuiltinsE2E: the other read builtins, ctx.each and writes
// across contexts on the sandbox, against kubectl.
func TestFanoutBuiltinsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	nsA, nsB := env.Namespace, env.CreateNamespace(t)
	podA := kubetest.CreateWeb(t, env, nsA)
	kc := writeFleetKubeconfig(t, env, []fleetContext{
		{name: "team-a", namespace: nsA},
		{name: "team-b", namespace: nsB},
		{name: "down", namespace: nsA, server: "https://" + closedPort(t)},
	})
	fs := newFleetSession(t, kc)
	fs.s.Policy = &Policy{Protected: []string{"team-b"}}
	var prompts []string
	fs.s.Confirm = func(p string) (string, error) {
		prompts = append(prompts, p)
		return "team-b", nil
	}
	g := fs.run(t, `
# exists, get, describe, events, logs, watch across contexts
ex = k8s.exists("deploy", "web", contexts=["team-*"])
assert.eq(ex, {"team-a": True, "team-b": False})
deps = k8s.get("deploy", "web", contexts=["team-*"], default=None)
assert.eq([k8s.context_of(d) for d in deps], ["team-a"])
desc = k8s.describe("deploy", "web", contexts=["team-a", "down"])
assert.eq(list(desc.keys()), ["team-a"])
assert.eq(list(k8s.last_errors().keys()), ["down"])
logs = k8s.logs("`+podA+`", contexts=["team-a"])
evs = k8s.events("pod", "`+podA+`", contexts=["team-a"])
assert.true(len(evs) > 0)
assert.eq(set([k8s.context_of(e) for e in evs]), set(["team-a"]))
seen = [(k8s.context_of(ev.object), ev.object.metadata.name) for ev in k8s.watch("deploy", contexts=["team-*"], timeout="1s")]
assert.eq(seen, [("team-a", "web")])

top = catch(lambda: k8s.top("pods", contexts=["team-a", "down"]))
top_pods = [r.name for r in top.value["team-a"]] if top.value else None

# ctx.each: each context's own session
counts = ctx.each("team-*", lambda: len(k8s.list("deploy")))
assert.eq(counts, {"team-a": 1, "team-b": 0})
namespaces = ctx.each(["team-a", "team-b"], lambda name: ctx.current().namespace)

# a write across contexts: the protected one asks once, naming it
cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fleet-cfg"}, "data": {"v": "1"}}
applied = k8s.apply(cm, contexts=["team-a", "team-b"])
assert.eq(sorted(applied.keys()), ["team-a", "team-b"])
`)
	if got, want := g["namespaces"].String(), fmt.Sprintf(`{"team-a": %q, "team-b": %q}`, nsA, nsB); got != want {
		t.Errorf("ctx.each: got %s, want %s", got, want)
	}
	if len(prompts) != 1 || !strings.Contains(prompts[0], `context "team-b" is protected`) {
		t.Errorf("prompts: got %q, want one naming team-b", prompts)
	}
	// kubectl sees what was applied, in each context's namespace.
	for _, c := range []string{"team-a", "team-b"} {
		out, errOut, code := kubectlCtx(t, env, kc, c, "get", "cm", "fleet-cfg", "-o", "jsonpath={.data.v}")
		if code != 0 || out != "1" {
			t.Errorf("kubectl --context %s get cm fleet-cfg: %q %s", c, out, errOut)
		}
	}
	// The describe and the logs are kubectl's.
	desc := g["desc"].(*starlark.Dict)
	text, _, _ := desc.Get(starlark.String("team-a"))
	kdesc, _, _ := kubectlCtx(t, env, kc, "team-a", "describe", "deploy", "web")
	if d := describeDiff(string(text.(starlark.String)), kdesc); d != "" {
		t.Errorf("describe in team-a differs from kubectl's: %s", d)
	}
	// k8s.top's rows are kubectl top's pods (their figures change between
	// two reads), or both say that there are no metrics yet.
	ktop, ktopErr, code := kubectlCtx(t, env, kc, "team-a", "top", "pod", "--no-headers")
	top := g["top"].(*starlarkstruct.Struct)
	if code != 0 {
		msg, _ := top.Attr("error")
		want := strings.TrimPrefix(strings.TrimSpace(ktopErr), "error: ")
		if !strings.Contains(msg.String(), "team-a: "+want) {
			t.Errorf("top: k8s.top says %s, kubectl %q", msg, ktopErr)
		}
	} else {
		var kpods []string
		for _, l := range strings.Split(strings.TrimSpace(ktop), "\n") {
			kpods = append(kpods, fmt.Sprintf("%q", strings.Fields(l)[0]))
		}
		if got, want := g["top_pods"].String(), "["+strings.Join(kpods, ", ")+"]"; got != want {
			t.Errorf("top pods in team-a: got %s, want kubectl's %s", got, want)
		}
	}
	logs := g["logs"].(*starlark.Dict)
	ltext, _, _ := logs.Get(starlark.String("team-a"))
	klogs, _, _ := kubectlCtx(t, env, kc, "team-a", "logs", podA)
	if string(ltext.(starlark.String)) != klogs {
		t.Errorf("logs in team-a: got %q, want kubectl's %q", ltext, klogs)
	}
}

// describeDiff compares two describe texts but for their ages ("10s",
// "11s"), which tick between the reads; "" when they agree.
func describeDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) != len(bl) {
		return fmt.Sprintf("%d lines, kubectl %d", len(al), len(bl))
	}
	for i := range al {
		if strings.Fields(al[i]) == nil && strings.Fields(bl[i]) == nil {
			continue
		}
		fa, fb := strings.Fields(al[i]), strings.Fields(bl[i])
		if len(fa) != len(fb) {
			return fmt.Sprintf("line %d: %q, kubectl %q", i+1, al[i], bl[i])
		}
		for j := range fa {
			if fa[j] != fb[j] && !(ageLike(fa[j]) && ageLike(fb[j])) {
				return fmt.Sprintf("line %d: %q, kubectl %q", i+1, al[i], bl[i])
			}
		}
	}
	return ""
}

func ageLike(s string) bool {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789smhdy", r) {
			return false
		}
	}
	return true
}

// TestFanoutMissingKindE2E: a kind that one cluster has and another lacks
// (a CRD installed on the shared sandbox only; the other context is a
// PrivateSandbox of its own): the cluster with it answers, the one
// without is one failed context, in kubectl's words.
func TestFanoutMissingKindE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	other := kubetest.PrivateSandbox(t)
	group := "fleet" + strings.ToLower(strings.ReplaceAll(env.Namespace, "-", "")) + ".k8sh.test"
	k := env.Kubectl(t)
	crd := fmt.Sprintf(`{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
 "metadata": {"name": "widgets.%[1]s"},
 "spec": {"group": "%[1]s", "scope": "Namespaced",
  "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
  "versions": [{"name": "v1", "served": true, "storage": true,
   "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}`, group)
	k.Must(t, crd, "create", "-f", "-")
	t.Cleanup(func() { k.Run("", "delete", "crd", "widgets."+group) })
	k.Must(t, fmt.Sprintf(`{"apiVersion": "%s/v1", "kind": "Widget", "metadata": {"name": "w1"}}`, group), "create", "-f", "-")
	kc := writeFleetKubeconfig(t, env, []fleetContext{
		{name: "with", namespace: env.Namespace},
		{name: "without", namespace: other.Namespace, kubeconfig: other.Kubeconfig},
	})
	fs := newFleetSession(t, kc)
	g := fs.run(t, `
ws = k8s.list("widgets", contexts=["with", "without"])
got = [(k8s.context_of(w), w.metadata.name) for w in ws]
errs = k8s.last_errors()
`)
	if got, want := g["got"].String(), `[("with", "w1")]`; got != want {
		t.Errorf("objects: got %s, want %s", got, want)
	}
	msg, _, _ := g["errs"].(*starlark.Dict).Get(starlark.String("without"))
	_, kerr, code := kubectlCtx(t, env, kc, "without", "get", "widgets")
	want := `the server doesn't have a resource type "widgets"`
	if msg == nil || string(msg.(starlark.String)) != want || code == 0 || kerr != "error: "+want+"\n" {
		t.Errorf("without: k8sh says %v, kubectl (exit %d) %q; want both to say %s", msg, code, kerr, want)
	}
}
