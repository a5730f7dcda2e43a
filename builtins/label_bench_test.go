package builtins

// Benchmark of the bulk changes, for docs/performance.md:
//
//	go test -run '^$' -bench 'Bulk200' -benchtime 3x ./builtins/
//
// 200 Deployments (no replicas) labelled app=bulk: k8s.label and
// k8s.set_image on all of them by selector (one list, then the patches 8
// at a time), against kubectl label / set image -l app=bulk (one process,
// one patch after the other) and a shell-style loop of one kubectl label
// per Deployment. Each run sets another value, so that each one writes.

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

func BenchmarkBulk200(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark of bulk changes: needs the sandbox cluster")
	}
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skipf("no sandbox (make sandbox-up starts it): %v", err)
	}
	env := kubetest.Sandbox(b)
	createBulk(b, env, env.Namespace, 200)
	k := env.Kubectl(b)
	flags := kube.NewConfigFlags()
	kc, kctx, dir, ns := env.Kubeconfig, "sandbox", b.TempDir(), env.Namespace
	flags.KubeConfig, flags.Context, flags.CacheDir, flags.Namespace = &kc, &kctx, &dir, &ns
	thread := benchThread(kube.NewClient(flags))
	run := 0
	k8sh := func(b *testing.B, src string) {
		run++
		src = strings.ReplaceAll(src, "RUN", fmt.Sprint(run))
		if _, err := starlark.ExecFileOptions(starOptions, thread, "bulk.star", src, Globals(nil)); err != nil {
			b.Fatal(err)
		}
	}
	kubectl := func(b *testing.B, args ...string) {
		run++
		for i := range args {
			args[i] = strings.ReplaceAll(args[i], "RUN", fmt.Sprint(run))
		}
		if _, errOut, code := k.Run("", args...); code != 0 {
			b.Fatalf("kubectl %s: %s", strings.Join(args, " "), errOut)
		}
	}
	bench := func(name string, do func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			do(b) // warm: connection, discovery
			b.ResetTimer()
			for range b.N {
				do(b)
			}
		})
	}
	const label = `l = k8s.label("deploy", {"run": "kRUN"}, selector="app=bulk", overwrite=True)
if len(l) != 200: fail(len(l))
`
	bench("label/k8sh", func(b *testing.B) { k8sh(b, label) })
	bench("label/kubectl-selector", func(b *testing.B) {
		kubectl(b, "label", "deploy", "-l", "app=bulk", "run=cRUN", "--overwrite")
	})
	// 200 kubectl processes, ~30 s a run: only when asked for, so that
	// make bench stays within its time.
	if os.Getenv("K8SH_BENCH_KUBECTL_LOOP") != "" {
		bench("label/kubectl-loop", kubectlLoop(k, env))
	}
	const image = `l = k8s.set_image("deploy", {"app": "nginx:RUN"}, selector="app=bulk")
if len(l) != 200: fail(len(l))
`
	bench("set_image/k8sh", func(b *testing.B) { k8sh(b, image) })
	bench("set_image/kubectl-selector", func(b *testing.B) {
		kubectl(b, "set", "image", "deploy", "-l", "app=bulk", "app=nginx:RUN")
	})
}

// kubectlLoop labels the 200 with one kubectl process each, as a shell
// loop over kubectl does.
func kubectlLoop(k *kubetest.Kubectl, env *kubetest.Env) func(b *testing.B) {
	run := 0
	return func(b *testing.B) {
		run++
		for i := range 200 {
			cmd := exec.Command(k.Bin, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace,
				"label", fmt.Sprintf("deploy/bulk-%03d", i), fmt.Sprintf("run=l%d", run), "--overwrite")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("kubectl label: %v: %s", err, out)
			}
		}
	}
}
