package builtins

import (
	"fmt"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// BenchmarkRolloutPauseResume50E2E pauses then resumes 50 deployments by
// selector: k8s.rollout.pause and .resume (parallel=8, one client, warm),
// against kubectl rollout pause -l and resume -l (one process each, which
// patches them in turn). A pause and resume rather than a restart: two
// restarts within a second are refused (restartedAt has a resolution of
// one second), and they start no pods.
func BenchmarkRolloutPauseResume50E2E(b *testing.B) {
	env := kubetest.Sandbox(b)
	kubectl := env.Kubectl(b)
	var docs []string
	for i := range 50 {
		docs = append(docs, fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: d%02d, labels: {bench: pause}}
spec:
  replicas: 0
  selector: {matchLabels: {app: d%02d}}
  template:
    metadata: {labels: {app: d%02d}}
    spec: {containers: [{name: c, image: nginx}]}
`, i, i, i))
	}
	kubectl.Must(b, strings.Join(docs, "---\n"), "apply", "-f", "-")
	b.Run("k8sh", func(b *testing.B) {
		flags := kube.NewConfigFlags()
		kc, ns, dir := env.Kubeconfig, env.Namespace, b.TempDir()
		flags.KubeConfig, flags.Namespace, flags.CacheDir = &kc, &ns, &dir
		c := kube.NewClient(flags)
		if _, err := describeText(c, `len(k8s.list("deploy", selector="bench=pause"))`); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := describeText(c, `len(k8s.rollout.pause("deploy", selector="bench=pause")) + len(k8s.rollout.resume("deploy", selector="bench=pause"))`); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kubectl", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, verb := range []string{"pause", "resume"} {
				if _, errOut, code := kubectl.Run("", "rollout", verb, "deploy", "-l", "bench=pause"); code != 0 {
					b.Fatalf("kubectl rollout %s: %s", verb, errOut)
				}
			}
		}
	})
}
