package builtins

// Benchmark of the write path, for docs/performance.md:
//
//	go test -run '^$' -bench Apply500 -benchtime 3x ./builtins/
//
// It applies 500 small ConfigMaps with one k8s.apply call and with
// `kubectl apply --server-side -f DIR` on the same 500 files, side by side,
// on plain loopback and through tools/netproxy delaying every chunk 5 ms
// each way. Each run changes every ConfigMap, so that each apply writes;
// both take ownership of the fields (force=True, --force-conflicts), since
// they apply the same objects in turn.

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/tools/netproxy"
)

const applyCount = 500

func BenchmarkApply500(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark of the write path: needs the sandbox cluster")
	}
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skipf("no sandbox (make sandbox-up starts it): %v", err)
	}
	env := kubetest.Sandbox(b)
	root, err := kubetest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	kubectl := filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		b.Skipf("no sandbox kubectl: %v", err)
	}

	for _, network := range []struct {
		name  string
		delay time.Duration
	}{{"loopback", 0}, {"delay5ms", 5 * time.Millisecond}} {
		b.Run(network.name, func(b *testing.B) {
			kc := env.Kubeconfig
			if network.delay > 0 {
				kc = proxiedKubeconfig(b, env.Kubeconfig, network.delay)
			}
			run := 0
			b.Run("k8sh", func(b *testing.B) {
				flags := kube.NewConfigFlags()
				kctx, dir, ns := "sandbox", b.TempDir(), env.Namespace
				flags.KubeConfig, flags.Context, flags.CacheDir, flags.Namespace = &kc, &kctx, &dir, &ns
				thread := benchThread(kube.NewClient(flags))
				apply := func() {
					run++
					src := fmt.Sprintf(`l = k8s.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "apply-%%d" %% i}, "data": {"i": str(i), "run": "k%d"}} for i in range(%d)], force=True)
if len(l) != %d: fail(len(l))
`, run, applyCount, applyCount)
					if _, err := starlark.ExecFileOptions(starOptions, thread, "apply.star", src, Globals(nil)); err != nil {
						b.Fatal(err)
					}
				}
				apply() // warm: connection, discovery
				b.ResetTimer()
				for range b.N {
					apply()
				}
			})
			b.Run("kubectl", func(b *testing.B) {
				dir, cache := b.TempDir(), b.TempDir()
				args := []string{"--kubeconfig", kc, "--context", "sandbox", "--cache-dir", cache,
					"-n", env.Namespace, "apply", "--server-side", "--force-conflicts", "-f", dir}
				apply := func() {
					b.StopTimer()
					run++
					for i := range applyCount {
						y := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: apply-%d\ndata:\n  i: %q\n  run: c%d\n", i, fmt.Sprint(i), run)
						if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("cm-%03d.yaml", i)), []byte(y), 0o644); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
					var stderr strings.Builder
					cmd := exec.Command(kubectl, args...)
					cmd.Stderr = &stderr
					if err := cmd.Run(); err != nil {
						b.Fatalf("kubectl: %v\n%s", err, stderr.String())
					}
				}
				apply() // warm: discovery cache; kubectl's own field manager takes over
				b.ResetTimer()
				for range b.N {
					apply()
				}
			})
		})
	}
}

// proxiedKubeconfig writes a copy of kc whose clusters are reached through a
// netproxy delaying every chunk by delay each way, stopped when b ends.
func proxiedKubeconfig(b *testing.B, kc string, delay time.Duration) string {
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		b.Fatal(err)
	}
	for _, cl := range cfg.Clusters {
		u, err := url.Parse(cl.Server)
		if err != nil {
			b.Fatal(err)
		}
		p, err := netproxy.Start("127.0.0.1:0", u.Host, delay)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close() })
		u.Host = p.Addr()
		cl.Server = u.String()
	}
	out := filepath.Join(b.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, out); err != nil {
		b.Fatal(err)
	}
	return out
}
