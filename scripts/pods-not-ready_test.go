package scripts

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

func TestScriptPodsNotReadyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	pods := env.Clientset.CoreV1().Pods(env.Namespace)
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "fine"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "stuck"}, Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"no-such": "node"},
			Containers:   []corev1.Container{{Name: "c", Image: "nginx"}}}},
	} {
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := "NAMESPACE" // header, then the stuck pod only
	deadline := time.Now().Add(60 * time.Second)
	var last result
	for time.Now().Before(deadline) {
		last = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "pods-not-ready.star")
		lines := strings.Split(strings.TrimSpace(last.Stdout), "\n")
		if last.Code == 0 && len(lines) == 2 && strings.HasPrefix(lines[0], want) &&
			strings.Contains(lines[1], "stuck") && strings.Contains(lines[1], "Pending") &&
			strings.Contains(lines[1], "PodScheduled: Unschedulable") {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("pods-not-ready.star: want the header and the stuck pod with its reason; last run: %+v", last)
}
