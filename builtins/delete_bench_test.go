package builtins

// Benchmark of deleting what was applied, for docs/performance.md:
//
//	go test -run '^$' -bench DeleteIngressNginx -benchtime 3x -count 3 ./builtins/
//
// Each iteration applies ingress-nginx's 19 objects (../shared/manifests,
// skipped when absent) with kubectl apply --server-side, untimed, then times
// deleting them and waiting until they are gone: k8s.delete(FILE, wait=True)
// in process, and `kubectl delete -f FILE --wait` as a process, side by side
// in the same run.

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

func BenchmarkDeleteIngressNginx(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark of delete: needs the sandbox cluster")
	}
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skipf("no sandbox (make sandbox-up starts it): %v", err)
	}
	path := sharedManifest(b, "ingress-nginx-cloud-deploy.yaml")
	env := kubetest.Sandbox(b)
	root, err := kubetest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
	kc, cache := env.Kubeconfig, b.TempDir()
	run := func(args ...string) {
		b.Helper()
		var stderr strings.Builder
		cmd := exec.Command(bin, append([]string{"--kubeconfig", kc, "--context", "sandbox", "--cache-dir", cache}, args...)...)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
	}
	apply := func() {
		b.StopTimer()
		run("apply", "--server-side", "--force-conflicts", "-f", path)
		b.StartTimer()
	}
	b.Cleanup(func() {
		exec.Command(bin, "--kubeconfig", kc, "--context", "sandbox", "delete", "--ignore-not-found", "-f", path).Run()
	})

	b.Run("k8sh", func(b *testing.B) {
		flags := kube.NewConfigFlags()
		kctx, dir := "sandbox", b.TempDir()
		flags.KubeConfig, flags.Context, flags.CacheDir = &kc, &kctx, &dir
		thread := benchThread(kube.NewClient(flags))
		// Its two Jobs have ttlSecondsAfterFinished: 0: they may be gone
		// already, for kubectl too (--ignore-not-found).
		src := `n = len(k8s.delete(` + starlark.String(path).String() + `, wait=True, missing_ok=True))
if n < 17: fail(n)
`
		del := func() {
			apply()
			if _, err := starlark.ExecFileOptions(starOptions, thread, "delete.star", src, Globals(nil)); err != nil {
				b.Fatal(err)
			}
		}
		del() // warm: connection, discovery
		b.ResetTimer()
		for range b.N {
			del()
		}
	})
	b.Run("kubectl", func(b *testing.B) {
		del := func() {
			apply()
			run("delete", "--wait", "--ignore-not-found", "-f", path)
		}
		del() // warm: discovery cache
		b.ResetTimer()
		for range b.N {
			del()
		}
	})
}
