package builtins

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.starlark.net/starlark"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// runOnScript runs src as a script against c with extra predeclared
// names, ends its session, and returns its globals, what it printed, and
// what its background work reported.
func runOnScript(t *testing.T, c Cluster, src string, extra starlark.StringDict) (starlark.StringDict, string, string, error) {
	var out, errOut syncBuffer
	thread := &starlark.Thread{
		Name:  t.Name(),
		Print: func(_ *starlark.Thread, msg string) { out.Write([]byte(msg + "\n")) },
	}
	s := &Session{Cluster: c}
	s.Sys.Stderr = &errOut
	SetSession(thread, s)
	sys.SetContext(thread, context.Background())
	g := Globals(s)
	for k, v := range extra {
		g[k] = v
	}
	globals, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, g)
	EndSession(thread)
	return globals, out.String(), errOut.String(), err
}

// kubectlNames is the sorted output of `kubectl get cm -o name` with args.
func kubectlNames(t *testing.T, env *kubetest.Env, args ...string) []string {
	t.Helper()
	out := env.Kubectl(t).Must(t, "", append([]string{"get", "cm", "-n", env.Namespace, "-o", "name"}, args...)...)
	names := strings.Fields(out)
	sort.Strings(names)
	return names
}

// TestOnE2E: a handler with a selector and initial=True sees the objects
// that exist, then the ones created between k8s.on and k8s.run, each once;
// the ones it labels are the ones kubectl lists by its selector;
// k8s.handlers() lists it as a table.
func TestOnE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	createConfigMaps(t, env, 3, map[string]string{"app": "web"}, "old-")
	createConfigMaps(t, env, 2, map[string]string{"app": "db"}, "db-")
	g, out, errOut, err := runOnScript(t, c, `
seen = []
def label(ev):
    seen.append(ev.type + " " + ev.object.metadata.name)
    k8s.label(ev.object, {"seen": "yes"})
    if len(seen) == 5:
        k8s.stop()
h = k8s.on("cm", label, selector="app=web", initial=True)
for i in range(2):
    k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new-%d" % i, "labels": {"app": "web"}}})
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "labels": {"app": "db"}}})
table = str(k8s.handlers())
print(h)
k8s.run(timeout="60s")
count, errors, running, namespace = h.count, h.errors, h.running, h.namespace
`, nil)
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, errOut)
	}
	var seen []string
	for _, v := range starlark.Tuple(listValues(g["seen"])) {
		seen = append(seen, string(v.(starlark.String)))
	}
	sort.Strings(seen)
	if want := []string{"ADDED new-0", "ADDED new-1", "ADDED old-0", "ADDED old-1", "ADDED old-2"}; fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("seen %v, want %v", seen, want)
	}
	if got, want := kubectlNames(t, env, "-l", "seen=yes"), kubectlNames(t, env, "-l", "app=web"); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 5 {
		t.Errorf("labelled %v, kubectl lists %v by the handler's selector", got, want)
	}
	if g["count"] != starlark.MakeInt(5) || g["errors"] != starlark.MakeInt(0) || g["running"] != starlark.False || g["namespace"] != starlark.String(env.Namespace) {
		t.Errorf("count %v errors %v running %v namespace %v", g["count"], g["errors"], g["running"], g["namespace"])
	}
	table := string(g["table"].(starlark.String))
	lines := strings.Split(table, "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID    KIND         NAMESPACE") ||
		!strings.Contains(lines[1], "configmaps   "+env.Namespace) || !strings.Contains(lines[1], "app=web") ||
		!strings.Contains(lines[1], "ADDED,MODIFIED,DELETED   label      ") || !strings.Contains(lines[1], "Running") {
		t.Errorf("k8s.handlers():\n%s", table)
	}
	if want := "<k8s.handler 1: label on configmaps in " + env.Namespace + " (ADDED,MODIFIED,DELETED): 0 events, 0 errors, running>\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}

func listValues(v starlark.Value) []starlark.Value {
	l, _ := v.(*starlark.List)
	var out []starlark.Value
	for i := 0; l != nil && i < l.Len(); i++ {
		out = append(out, l.Index(i))
	}
	return out
}

// TestOnAcrossAPIServerRestartE2E: a handler that labels every new
// ConfigMap sees each of 500 ConfigMaps, created at full speed by 16
// parallel writers, exactly once, while the kube-apiserver of a sandbox of
// its own is restarted in the middle; every one ends up labelled (kubectl
// lists them by the label).
func TestOnAcrossAPIServerRestartE2E(t *testing.T) {
	env := kubetest.PrivateSandbox(t)
	c := e2eClient(t, env, "sandbox")
	const total, writers = 500, 16
	registered := make(chan struct{})
	start := starlark.NewBuiltin("start", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		close(registered)
		return starlark.None, nil
	})

	type result struct {
		g              starlark.StringDict
		errOut         string
		err            error
		seenAtFinished int
	}
	done := make(chan result, 1)
	go func() {
		g, _, errOut, err := runOnScript(t, c, fmt.Sprintf(`
seen = {}
retries = []
def label(ev):
    name = ev.object.metadata.name
    seen[name] = seen.get(name, 0) + 1
    for _ in range(10):
        r = catch(k8s.label, ev.object, {"labelled": "yes"})
        if r.error == None:
            break
        retries.append(r.error)  # cut during the restart: the outcome is unknown, so again
    if len(seen) == %d:
        k8s.stop()
h = k8s.on("configmaps", label, events="ADDED", selector="batch=on")
start()
k8s.run(timeout="300s")
count, errors = h.count, h.errors
`, total), starlark.StringDict{"start": start})
		done <- result{g: g, errOut: errOut, err: err}
	}()
	select {
	case <-registered:
	case r := <-done:
		t.Fatalf("the script ended before it registered its handler: %v\n%s", r.err, r.errOut)
	}

	// 16 writers create the 500, retrying through the restart (an
	// AlreadyExists after a cut create means it was made).
	var created atomic.Int64
	names := make(chan string, total)
	for i := range total {
		names <- fmt.Sprintf("cm-%03d", i)
	}
	close(names)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cms := env.Clientset.CoreV1().ConfigMaps(env.Namespace)
	var wg sync.WaitGroup
	began := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				for {
					_, err := cms.Create(ctx, &corev1.ConfigMap{
						ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"batch": "on"}},
						Data:       map[string]string{"name": name},
					}, metav1.CreateOptions{})
					if err == nil || apierrors.IsAlreadyExists(err) {
						created.Add(1)
						break
					}
					if ctx.Err() != nil {
						t.Errorf("creating %s: %v", name, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	for created.Load() < total/2 {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d created in %s; restarting kube-apiserver", created.Load(), time.Since(began).Round(time.Millisecond))
	kubetest.RestartAPIServer(t, env)
	wg.Wait()
	t.Logf("all %d created in %s", total, time.Since(began).Round(time.Millisecond))

	var r result
	select {
	case r = <-done:
	case <-time.After(4 * time.Minute):
		t.Fatal("k8s.run did not end")
	}
	t.Logf("the handler saw the last in %s", time.Since(began).Round(time.Millisecond))
	if r.err != nil {
		t.Fatalf("%v\nstderr: %s", r.err, r.errOut)
	}
	if r.errOut != "" {
		t.Errorf("the handler reported: %s", r.errOut)
	}
	seen := r.g["seen"].(*starlark.Dict)
	if seen.Len() != total {
		t.Errorf("the handler saw %d ConfigMaps, want %d", seen.Len(), total)
	}
	var want []string
	for i := range total {
		name := fmt.Sprintf("cm-%03d", i)
		want = append(want, "configmap/"+name)
		n, found, _ := seen.Get(starlark.String(name))
		if !found || n != starlark.MakeInt(1) {
			t.Errorf("%s seen %v times, want once", name, n)
		}
	}
	if got := kubectlNames(t, env, "-l", "labelled=yes"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("kubectl get cm -l labelled=yes lists %d, want the %d", len(got), len(want))
	}
	if r.g["count"] != starlark.MakeInt(total) || r.g["errors"] != starlark.MakeInt(0) {
		t.Errorf("h.count %v h.errors %v", r.g["count"], r.g["errors"])
	}
	retries := listValues(r.g["retries"])
	t.Logf("%d labels tried again after the restart cut them: %v", len(retries), retries)
}
