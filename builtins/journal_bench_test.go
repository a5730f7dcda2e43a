package builtins

// Benchmark of the journal's cost, for docs/performance.md:
//
//	go test -run '^$' -bench 'Journal200' -benchtime 3x ./builtins/
//
// k8s.label on 200 Deployments by selector (one list, then the patches 8
// at a time) without and with the journal (each patch preceded by a GET
// of its object and a synced journal line), against kubectl label -l
// (which keeps no journal) on the same objects. Each run sets another
// value, so that each one writes.

import (
	"fmt"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

func BenchmarkJournal200(b *testing.B) {
	if testing.Short() {
		b.Skip("benchmark of the journal: needs the sandbox cluster")
	}
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skipf("no sandbox (make sandbox-up starts it): %v", err)
	}
	env := kubetest.Sandbox(b)
	createBulk(b, env, env.Namespace, 200)
	k := env.Kubectl(b)
	newFlags := func() *genericclioptions.ConfigFlags {
		flags := kube.NewConfigFlags()
		kc, kctx, dir, ns := env.Kubeconfig, "sandbox", b.TempDir(), env.Namespace
		flags.KubeConfig, flags.Context, flags.CacheDir, flags.Namespace = &kc, &kctx, &dir, &ns
		return flags
	}
	plain := benchThread(kube.NewClient(newFlags()))
	journaledFlags := newFlags()
	j := kube.NewJournal(b.TempDir(), kube.RunInfo{Context: "sandbox"}, kube.JournalOptions{})
	j.Attach(journaledFlags)
	defer j.Close()
	journaled := benchThread(kube.NewClient(journaledFlags))
	run := 0
	const label = `l = k8s.label("deploy", {"run": "kRUN"}, selector="app=bulk", overwrite=True)
if len(l) != 200: fail(len(l))
`
	k8sh := func(thread *starlark.Thread) func(b *testing.B) {
		return func(b *testing.B) {
			run++
			src := strings.ReplaceAll(label, "RUN", fmt.Sprint(run))
			if _, err := starlark.ExecFileOptions(starOptions, thread, "journal.star", src, Globals(nil)); err != nil {
				b.Fatal(err)
			}
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
	bench("label/k8sh-no-journal", k8sh(plain))
	bench("label/k8sh-journal", k8sh(journaled))
	bench("label/kubectl-selector", func(b *testing.B) {
		run++
		if _, errOut, code := k.Run("", "label", "deploy", "-l", "app=bulk", fmt.Sprintf("run=c%d", run), "--overwrite"); code != 0 {
			b.Fatalf("kubectl label: %s", errOut)
		}
	})
	if n := len(j.Run().Made()); n == 0 {
		b.Fatal("the journal recorded nothing")
	}
}
