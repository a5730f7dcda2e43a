package builtins

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// benchPods makes n running pods bench-exec-0.. in a namespace of their
// own and returns it.
func benchPods(b *testing.B, env *kubetest.Env, n int) string {
	b.Helper()
	ns := kubetest.PrefixNamespace(b, env, "x18-bench-")
	ctx := context.Background()
	for i := range n {
		if _, err := env.Clientset.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-exec-%d", i)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
		}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200e6, 120e9, true, func(ctx context.Context) (bool, error) {
		l, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		running := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == n, nil
	}); err != nil {
		b.Fatalf("%d pods not running: %v", n, err)
	}
	return ns
}

// BenchmarkExec100 runs `true` in a pod 100 times one after the other: with
// k8s.exec in one k8sh (one process, one connection pool) and as 100
// `kubectl exec POD -- true` processes, in the same run.
//
//	go test -run '^$' -bench 'Exec100|ExecParallel50' -benchtime 1x -count 3 ./builtins/
func BenchmarkExec100(b *testing.B) {
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skip(err)
	}
	env := kubetest.Sandbox(b)
	ns := benchPods(b, env, 1)
	b.Run("k8sh", func(b *testing.B) {
		thread := benchThread(benchExecClient(b, env, ns))
		src := `for i in range(100): k8s.exec("bench-exec-0", ["true"])`
		b.ResetTimer()
		for range b.N {
			if _, err := starlark.ExecFileOptions(starOptions, thread, "bench.star", src, Globals(nil)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kubectl", func(b *testing.B) {
		bin := env.Kubectl(b).Bin
		for range b.N {
			for range 100 {
				if out, err := exec.Command(bin, "--kubeconfig", env.Kubeconfig, "-n", ns, "exec", "bench-exec-0", "--", "true").CombinedOutput(); err != nil {
					b.Fatalf("kubectl exec: %v: %s", err, out)
				}
			}
		}
	})
}

// BenchmarkExecParallel50 runs `true` in each of 50 pods: one k8s.exec on
// the list with parallel=8, against a shell loop of kubectl exec (one after
// the other, as `for p in ...; do kubectl exec $p -- true; done` runs).
func BenchmarkExecParallel50(b *testing.B) {
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skip(err)
	}
	env := kubetest.Sandbox(b)
	ns := benchPods(b, env, 50)
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("bench-exec-%d", i))
	}
	b.Run("k8sh", func(b *testing.B) {
		thread := benchThread(benchExecClient(b, env, ns))
		src := fmt.Sprintf(`rs = k8s.exec(["%s"], ["true"], parallel=8)`, strings.Join(names, `", "`))
		b.ResetTimer()
		for range b.N {
			if _, err := starlark.ExecFileOptions(starOptions, thread, "bench.star", src, Globals(nil)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kubectl-loop", func(b *testing.B) {
		bin := env.Kubectl(b).Bin
		script := fmt.Sprintf(`for p in %s; do %q --kubeconfig %q -n %q exec $p -- true || exit 1; done`, strings.Join(names, " "), bin, env.Kubeconfig, ns)
		for range b.N {
			if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
				b.Fatalf("the kubectl loop: %v: %s", err, out)
			}
		}
	})
}

// benchExecClient is k8sh's client of the sandbox in namespace ns.
func benchExecClient(b *testing.B, env *kubetest.Env, ns string) *kube.Client {
	flags := kube.NewConfigFlags()
	kc, kctx, dir := env.Kubeconfig, "sandbox", b.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &kctx, &dir
	return kube.NewClient(flags)
}
