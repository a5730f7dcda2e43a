package builtins

// Benchmarks of the read path, for the targets of docs/performance.md:
//
//	go test -run '^$' -bench . -benchmem -benchtime 5x -count 3 -timeout 30m ./builtins/
//
// They are benchmarks, not tests: nothing here asserts a duration. The List
// and Filter benchmarks need the sandbox (make sandbox-up) and skip without
// it; they read 10,000 ConfigMaps of about 1 KB from the namespace
// k8sh-bench, which the first run fills and later runs reuse.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

const (
	benchNamespace = kubetest.BenchNamespace
	benchCount     = kubetest.BenchCount
	benchMatches   = benchCount / 10 // ConfigMaps labelled x=y
)

var benchTotal int // ConfigMaps in benchNamespace: the 10,000 and kube-root-ca.crt

// benchSandbox returns the sandbox with benchNamespace holding the 10,000
// ConfigMaps. It skips in -short mode and when no sandbox answers.
func benchSandbox(b *testing.B) *kubetest.Env {
	env, total := kubetest.Bench10k(b)
	benchTotal = total
	return env
}

// benchClient is k8sh's client of the sandbox, as `k8sh --kubeconfig KC
// --context sandbox` makes it, with a discovery cache of the benchmark's own.
func benchClient(b *testing.B, env *kubetest.Env) *kube.Client {
	flags := kube.NewConfigFlags()
	kc, kctx, dir := env.Kubeconfig, "sandbox", b.TempDir()
	flags.KubeConfig, flags.Context, flags.CacheDir = &kc, &kctx, &dir
	return kube.NewClient(flags)
}

// benchThread is a Starlark thread whose session is c.
func benchThread(c Cluster) *starlark.Thread {
	thread := &starlark.Thread{Name: "bench", Print: func(*starlark.Thread, string) {}}
	SetSession(thread, &Session{Cluster: c})
	sys.SetContext(thread, context.Background())
	return thread
}

// k8shList runs `cms = k8s.list("cm", namespace=NS, ARGS)` and returns cms.
func k8shList(thread *starlark.Thread, args string) (*starlark.List, error) {
	src := fmt.Sprintf("cms = k8s.list(\"cm\", namespace=%q%s)\n", benchNamespace, args)
	g, err := starlark.ExecFileOptions(starOptions, thread, "bench.star", src, Globals(nil))
	if err != nil {
		return nil, err
	}
	cms, _ := g["cms"].(*starlark.List)
	if cms == nil {
		return nil, fmt.Errorf("cms is %v", g["cms"])
	}
	return cms, nil
}

// BenchmarkList10k lists the 10,000 ConfigMaps three ways, in one run:
// client-go's dynamic client (List and decode, page by page as k8sh does),
// k8sh's k8s.list (the same, then a Starlark list of k8s.objects), and
// `kubectl get cm -o json > /dev/null` as a process.
func BenchmarkList10k(b *testing.B) {
	env := benchSandbox(b)
	ctx := context.Background()

	b.Run("client-go", func(b *testing.B) {
		// The same rest config as k8sh's client: kube.NewConfigFlags'
		// QPS/Burst and retry wrapper, and dynamic.NewForConfig's JSON.
		flags := kube.NewConfigFlags()
		kc, kctx := env.Kubeconfig, "sandbox"
		flags.KubeConfig, flags.Context = &kc, &kctx
		cfg, err := flags.ToRESTConfig()
		if err != nil {
			b.Fatal(err)
		}
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			b.Fatal(err)
		}
		rc := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(benchNamespace)
		list := func() (int, error) {
			var items []unstructured.Unstructured
			for cont := ""; ; {
				page, err := rc.List(ctx, metav1.ListOptions{Limit: kube.PageSize, Continue: cont})
				if err != nil {
					return 0, err
				}
				items = append(items, page.Items...)
				if cont = page.GetContinue(); cont == "" {
					return len(items), nil
				}
			}
		}
		if _, err := list(); err != nil { // warm: connection
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			n, err := list()
			if err != nil {
				b.Fatal(err)
			}
			if n != benchTotal {
				b.Fatalf("listed %d ConfigMaps, want %d", n, benchTotal)
			}
		}
	})

	b.Run("k8sh", func(b *testing.B) {
		thread := benchThread(benchClient(b, env))
		if _, err := k8shList(thread, ""); err != nil { // warm: connection, discovery
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			cms, err := k8shList(thread, "")
			if err != nil {
				b.Fatal(err)
			}
			if cms.Len() != benchTotal {
				b.Fatalf("len(cms) = %d, want %d", cms.Len(), benchTotal)
			}
		}
	})

	b.Run("kubectl", func(b *testing.B) {
		root, err := kubetest.RepoRoot()
		if err != nil {
			b.Fatal(err)
		}
		kubectl := filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
		if _, err := os.Stat(kubectl); err != nil {
			b.Skipf("no sandbox kubectl: %v", err)
		}
		args := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox",
			"--cache-dir", b.TempDir(), "get", "cm", "-n", benchNamespace, "-o", "json"}
		// Warm the discovery cache, and check what kubectl prints.
		out, err := exec.Command(kubectl, args...).Output()
		if err != nil {
			b.Fatalf("kubectl: %v", err)
		}
		var l struct{ Items []json.RawMessage }
		if err := json.Unmarshal(out, &l); err != nil || len(l.Items) != benchTotal {
			b.Fatalf("kubectl printed %d items (%v), want %d", len(l.Items), err, benchTotal)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			var stderr strings.Builder
			cmd := exec.Command(kubectl, args...)
			cmd.Stderr = &stderr // stdout: nil, so /dev/null
			if err := cmd.Run(); err != nil {
				b.Fatalf("kubectl: %v\n%s", err, stderr.String())
			}
		}
	})
}

// BenchmarkFilter10k times the comprehension that picks, among the 10,000
// listed ConfigMaps, the 1,000 labelled x=y.
func BenchmarkFilter10k(b *testing.B) {
	env := benchSandbox(b)
	thread := benchThread(benchClient(b, env))
	// Only the 10,000: kube-root-ca.crt has no labels, so the comprehension
	// would fail on it (a missing field is an error, not None).
	cms, err := k8shList(thread, fmt.Sprintf(", selector=%q", kubetest.BenchSelector))
	if err != nil {
		b.Fatal(err)
	}
	if cms.Len() != benchCount {
		b.Fatalf("len(cms) = %d, want %d", cms.Len(), benchCount)
	}
	const src = `ys = [c for c in cms if c.metadata.labels.get("x") == "y"]` + "\n"
	predeclared := Globals(nil)
	predeclared["cms"] = cms
	_, prog, err := starlark.SourceProgramOptions(starOptions, "filter.star", src, predeclared.Has)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		g, err := prog.Init(thread, predeclared)
		if err != nil {
			b.Fatal(err)
		}
		if n := g["ys"].(*starlark.List).Len(); n != benchMatches {
			b.Fatalf("filter kept %d ConfigMaps, want %d", n, benchMatches)
		}
	}
}

// sandboxReachable tells whether a sandbox answers, without starting one.
var sandboxReachable = kubetest.SandboxReachable
