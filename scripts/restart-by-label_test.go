package scripts

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k8sh/k8sh/kube/kubetest"
)

const restartedAt = "kubectl.kubernetes.io/restartedAt"

// restartDeployment is a Deployment of replicas nginx pods labelled labels;
// stuck ones select no node, so that they never become ready.
func restartDeployment(name string, labels map[string]string, replicas int32, stuck bool) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	podLabels := map[string]string{"app": name}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.25"}}}
	if stuck {
		spec.NodeSelector = map[string]string{"no-such": "node"}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}, Spec: spec},
		},
	}
}

// restartWaitAvailable polls until the deployment has rolled out every replica.
func restartWaitAvailable(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if restartRolledOut(d) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s/%s not available: %+v", ns, name, d.Status)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// restartRolledOut: the controller saw the latest spec and every replica is updated,
// ready and available, with no old one left.
func restartRolledOut(d *appsv1.Deployment) bool {
	want := *d.Spec.Replicas
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.Replicas == want &&
		s.UpdatedReplicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want
}

func TestScriptRestartByLabelE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	cs := env.Clientset
	ns1, ns2 := env.Namespace, env.CreateNamespace(t)
	tag := ns1 // a label value no other test's deployments carry, for -A
	lbl := func(kv ...string) map[string]string {
		m := map[string]string{"k8sh-test": tag}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	type dep struct {
		ns string
		d  *appsv1.Deployment
	}
	deps := []dep{
		{ns1, restartDeployment("front-a", lbl("tier", "front"), 2, false)},
		{ns1, restartDeployment("front-prod", lbl("tier", "front", "env", "prod"), 1, false)},
		{ns1, restartDeployment("back", lbl("tier", "back"), 1, false)},
		{ns2, restartDeployment("front-b", lbl("tier", "front"), 1, false)},
		{ns2, restartDeployment("stuck", lbl("tier", "stuck"), 1, true)},
	}
	for _, d := range deps {
		if _, err := cs.AppsV1().Deployments(d.ns).Create(ctx, d.d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range deps {
		if d.d.Name != "stuck" {
			restartWaitAvailable(t, cs, d.ns, d.d.Name)
		}
	}
	get := func(ns, name string) *appsv1.Deployment {
		t.Helper()
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	generations := map[string]int64{}
	for _, d := range deps {
		generations[d.ns+"/"+d.d.Name] = get(d.ns, d.d.Name).Generation
	}
	script := "restart-by-label.star"
	front := "k8sh-test=" + tag + ",tier=front,env!=prod"

	// --dry-run: the server accepts the restart, nothing changes, no wait.
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns1, "--dry-run", script, front)
	if r.Code != 0 || !strings.Contains(r.Stdout, "dry run: would restart 1 deployment(s)") ||
		!strings.Contains(r.Stdout, ns1+"/deployment/front-a   restart accepted (server-side dry run") ||
		!strings.Contains(r.Stdout, "dry run: nothing was changed") ||
		strings.Contains(r.Stdout, "front-prod") || strings.Contains(r.Stdout, "back") {
		t.Fatalf("dry run: got %+v", r)
	}
	for _, d := range deps {
		got := get(d.ns, d.d.Name)
		if _, ok := got.Spec.Template.Annotations[restartedAt]; ok || got.Generation != generations[d.ns+"/"+d.d.Name] {
			t.Fatalf("dry run changed %s/%s: generation %d, template annotations %v",
				d.ns, d.d.Name, got.Generation, got.Spec.Template.Annotations)
		}
	}

	// The session's namespace: front-a only, rolled out when the script ends.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns1, script, front, "--timeout", "2m")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.Code != 0 || len(lines) != 2 ||
		lines[0] != `restarting 1 deployment(s) matching "`+front+`" in namespace `+ns1 ||
		!strings.HasPrefix(lines[1], ns1+"/deployment/front-a   restarted, ready 2/2 after ") {
		t.Fatalf("restart in %s: got %+v", ns1, r)
	}
	a := get(ns1, "front-a")
	if a.Spec.Template.Annotations[restartedAt] == "" || a.Generation <= generations[ns1+"/front-a"] {
		t.Fatalf("front-a was not restarted: generation %d, template annotations %v", a.Generation, a.Spec.Template.Annotations)
	}
	if !restartRolledOut(a) { // the script waited for the rollout to finish
		t.Fatalf("front-a not rolled out when the script returned: generation %d, status %+v", a.Generation, a.Status)
	}
	rss, err := cs.AppsV1().ReplicaSets(ns1).List(ctx, metav1.ListOptions{LabelSelector: "app=front-a"})
	if err != nil {
		t.Fatal(err)
	}
	var newRS, oldRS int
	for _, rs := range rss.Items {
		if rs.Spec.Template.Annotations[restartedAt] == a.Spec.Template.Annotations[restartedAt] {
			newRS++
			if rs.Status.ReadyReplicas != 2 {
				t.Errorf("new replicaset %s: %d ready, want 2", rs.Name, rs.Status.ReadyReplicas)
			}
		} else {
			oldRS++
			if *rs.Spec.Replicas != 0 {
				t.Errorf("old replicaset %s still wants %d replicas", rs.Name, *rs.Spec.Replicas)
			}
		}
	}
	if newRS != 1 || oldRS != 1 {
		t.Errorf("front-a: %d new and %d old replicasets, want 1 and 1", newRS, oldRS)
	}
	for _, n := range []string{"front-prod", "back"} {
		if d := get(ns1, n); d.Spec.Template.Annotations[restartedAt] != "" {
			t.Errorf("%s was restarted, but the selector does not match it", n)
		}
	}
	if d := get(ns2, "front-b"); d.Spec.Template.Annotations[restartedAt] != "" {
		t.Errorf("front-b in %s was restarted without -A", ns2)
	}

	// -A: both namespaces, the stuck one and front-prod still left out.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns1, script, "-A", "--timeout=2m", front)
	lines = strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.Code != 0 || len(lines) != 3 || !strings.Contains(lines[0], "restarting 2 deployment(s)") ||
		!strings.Contains(lines[0], "in all namespaces") {
		t.Fatalf("-A: got %+v", r)
	}
	for _, want := range []string{ns1 + "/deployment/front-a", ns2 + "/deployment/front-b"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("-A: no line for %s in %q", want, r.Stdout)
		}
	}
	b := get(ns2, "front-b")
	if b.Spec.Template.Annotations[restartedAt] == "" || !restartRolledOut(b) {
		t.Errorf("-A: front-b not restarted and rolled out: annotations %v, status %+v", b.Spec.Template.Annotations, b.Status)
	}
	if d := get(ns1, "front-prod"); d.Spec.Template.Annotations[restartedAt] != "" {
		t.Errorf("-A restarted front-prod")
	}

	// A deployment that cannot become ready: restarted, then the wait times
	// out and the script says so and fails.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns2, script, "k8sh-test="+tag+",tier=stuck", "--timeout", "2s")
	if r.Code != 1 || !strings.Contains(r.Stdout, ns2+"/deployment/stuck   restarted, NOT READY 0/1 after ") ||
		!strings.Contains(r.Stderr, "fail: 1 of 1 deployment(s) not restarted or not ready within 2s") {
		t.Fatalf("stuck: got %+v", r)
	}
	if d := get(ns2, "stuck"); d.Spec.Template.Annotations[restartedAt] == "" {
		t.Errorf("stuck was not restarted")
	}

	// Bad arguments: a clear usage error, exit status 2, nothing done.
	for _, args := range [][]string{{}, {""}, {"a=b", "c=d"}, {"a=b", "--timeout", "soon"}, {"a=b", "--bogus"}} {
		r = k8sh(t, "", nil, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns1, script}, args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "usage: restart-by-label.star") || r.Stdout != "" {
			t.Errorf("args %q: want a usage error, got %+v", args, r)
		}
	}
}
