package main

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/repl"
)

// sandboxCompleter is the completer the REPL gives readline, on the
// sandbox as context kctx.
func sandboxCompleter(tb testing.TB, env *kubetest.Env, kctx, ns string) *repl.Completer {
	_, globals, session, clients, err := newThread(flagsFor(tb, env, kctx, ns), options{}, nil, "", nil, io.Discard, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	return &repl.Completer{Globals: globals, Source: builtins.NewCompletionSource(session, clients)}
}

func TestCompletionE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	for _, n := range []string{"web-1", "web-2", "db-1"} {
		_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	other := env.CreateNamespace(t)
	if _, err := env.Clientset.CoreV1().ConfigMaps(other).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-other"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := sandboxCompleter(t, env, "sandbox", env.Namespace)
	complete := func(before string) []string {
		got, _ := c.Complete(before)
		return got
	}
	check := func(before string, want ...string) {
		t.Helper()
		got := complete(before)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("Complete(%q) = %q, lacks %q", before, got, w)
			}
		}
	}
	check(`k8s.get("dep`, `deployments"`, `deploy"`, `deployments.apps"`)
	check(`k8s.list("configm`, `configmaps"`)
	if got := complete(`k8s.get("cm", "web-`); !slices.Equal(got, []string{`web-1"`, `web-2"`}) {
		t.Errorf("names in the session's namespace: %q", got)
	}
	if got := complete(`k8s.get("configmap", namespace="` + other + `", name="w`); !slices.Equal(got, []string{`web-other"`}) {
		t.Errorf("names in namespace=: %q", got)
	}
	check(`k8s.list("pods", namespace="kube-`, `kube-system"`, `kube-public"`)
	check(`ctx.use("sandbox`, `sandbox"`, `sandbox-viewer"`)
	check(`k8s.get("pods", sel`, "selector=")
	check(`k8s.`, "get", "list", "print")

	// A list the user may not make completes nothing, and quickly.
	viewer := sandboxCompleter(t, env, "sandbox-viewer", env.Namespace)
	if got, _ := viewer.Complete(`k8s.get("secrets", "`); len(got) != 0 {
		t.Errorf("viewer's secrets: %q", got)
	}
	if got, _ := viewer.Complete(`k8s.get("cm", "db`); !slices.Equal(got, []string{`db-1"`}) {
		t.Errorf("viewer's configmaps: %q", got)
	}

	// Attributes of a value bound by a statement.
	thread, globals, _, _, err := newThread(flagsFor(t, env, "sandbox", env.Namespace), options{}, nil, "", nil, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sys.SetContext(thread, ctx)
	v, err := starlark.EvalOptions(fileOptions, thread, "<test>", `k8s.get("cm", "web-1")`, globals)
	if err != nil {
		t.Fatal(err)
	}
	globals["p"] = v
	bound := &repl.Completer{Globals: globals}
	got, _ := bound.Complete("p.metadata.")
	sort.Strings(got)
	for _, w := range []string{"creationTimestamp", "name", "namespace", "uid"} {
		if !slices.Contains(got, w) {
			t.Errorf("p.metadata. lacks %q: %q", w, got)
		}
	}
}

func TestNameCompletionServedFromCacheE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := sandboxCompleter(t, env, "sandbox", env.Namespace)
	c.Complete(`k8s.get("cm", "`) // the first fetch
	_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Served from the cache at once, then refreshed in the background once
	// the entry is older than its TTL: "late" shows up without blocking.
	deadline := time.Now().Add(40 * time.Second)
	for {
		start := time.Now()
		got, _ := c.Complete(`k8s.get("cm", "la`)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a TAB after the first fetch took %v", d)
		}
		if slices.Equal(got, []string{`late"`}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new ConfigMap never appeared in completion: %q", got)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// flagsFor is what `k8sh --kubeconfig KC --context kctx -n ns` parses,
// with a discovery cache of the test's own.
func flagsFor(tb testing.TB, env *kubetest.Env, kctx, ns string) *genericclioptions.ConfigFlags {
	f := kube.NewConfigFlags()
	kc, dir := env.Kubeconfig, tb.TempDir()
	f.KubeConfig, f.Context, f.Namespace, f.CacheDir = &kc, &kctx, &ns, &dir
	return f
}

// BenchmarkNameCompletion times a TAB in the name argument with 10,000
// objects of the kind in the namespace, after the first fetch; it reports
// the 95th percentile as p95-ms.
func BenchmarkNameCompletion(b *testing.B) {
	env, _ := kubetest.Bench10k(b)
	c := sandboxCompleter(b, env, "sandbox", kubetest.BenchNamespace)
	const line = `k8s.get("cm", "bench-012`
	if got, _ := c.Complete(line); len(got) != 100 {
		b.Fatalf("first fetch: %d candidates, want 100", len(got))
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		c.Complete(line)
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
}

// BenchmarkNameCompletionKubectl is the peer: kubectl's own completion of
// the same name prefix (`kubectl __complete`, what its shell completion
// runs on each TAB), as a process.
func BenchmarkNameCompletionKubectl(b *testing.B) {
	env, _ := kubetest.Bench10k(b)
	root, err := kubetest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	kubectl := filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
	args := []string{"__complete", "get", "cm", "--kubeconfig", env.Kubeconfig, "--cache-dir", b.TempDir(), "-n", kubetest.BenchNamespace, "bench-012"}
	out, err := exec.Command(kubectl, args...).Output()
	if err != nil || strings.Count(string(out), "bench-012") != 100 {
		b.Fatalf("kubectl __complete: %v\n%.300s", err, out)
	}
	b.ResetTimer()
	for range b.N {
		if err := exec.Command(kubectl, args...).Run(); err != nil {
			b.Fatal(err)
		}
	}
}
