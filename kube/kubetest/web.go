package kubetest

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
)

// PrefixNamespace makes a namespace prefix+"XXXXXX", deleted at cleanup.
func PrefixNamespace(t testing.TB, env *Env, prefix string) string {
	t.Helper()
	name := prefix + rand.String(6)
	ctx := context.Background()
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"k8sh.test": "e2e"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := env.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// CreateWeb makes Deployment web (one pod, container port 80 named http)
// in ns and waits for its pod to run; it returns the pod's name.
func CreateWeb(t testing.TB, env *Env, ns string) string {
	t.Helper()
	ctx := context.Background()
	one := int32(1)
	labels := map[string]string{"app": "web"}
	_, err := env.Clientset.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return RunningPod(t, env, ns, "")
}

// RunningPod waits (bounded) for a running pod of app=web in ns other than
// not, and returns its name.
func RunningPod(t testing.TB, env *Env, ns, not string) string {
	t.Helper()
	var name string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := env.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, nil
		}
		for _, p := range l.Items {
			if p.Name != not && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				name = p.Name
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no running pod of deploy/web in %s: %v", ns, err)
	}
	return name
}
