package builtins

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// createBulk makes n Deployments bulk-000... in ns (no replicas), labelled
// app=bulk, 8 at a time.
func createBulk(t testing.TB, env *kubetest.Env, ns string, n int) {
	t.Helper()
	zero := int32(0)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			labels := map[string]string{"app": "bulk", "i": fmt.Sprint(i)}
			_, err := env.Clientset.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bulk-%03d", i), Labels: labels},
				Spec: appsv1.DeploymentSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}},
			}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// refuseUpdates makes the API refuse every update of Deployment name in ns
// (a ValidatingAdmissionPolicy, removed at cleanup) and waits until it does.
func refuseUpdates(t *testing.T, env *kubetest.Env, ns, name string) {
	t.Helper()
	ctx := context.Background()
	ar := env.Clientset.AdmissionregistrationV1()
	policy := "k8sh-refuse-" + ns
	fail := admissionv1.Fail
	_, err := ar.ValidatingAdmissionPolicies().Create(ctx, &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: policy},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}},
				}}}},
			Validations: []admissionv1.Validation{{Expression: fmt.Sprintf("object.metadata.name != '%s'", name), Message: name + " refuses changes"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ar.ValidatingAdmissionPolicyBindings().Create(ctx, &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ar.ValidatingAdmissionPolicyBindings().Delete(context.Background(), policy, metav1.DeleteOptions{})
		_ = ar.ValidatingAdmissionPolicies().Delete(context.Background(), policy, metav1.DeleteOptions{})
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := env.Clientset.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"probe":"1"}}}`),
			metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "refuses changes") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the policy refusing %s is not in force after 30s (last: %v)", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBulkLabelSetE2E: k8s.label and k8s.set_image on 200 Deployments by
// selector, the API refusing the one in the middle: the error names it
// (and only it), the 199 others are changed and announced in order; the
// list returned is in the API's order; all_namespaces spans namespaces.
func TestBulkLabelSetE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	createBulk(t, env, env.Namespace, 200)
	refuseUpdates(t, env, env.Namespace, "bulk-100")
	other := kubetest.PrefixNamespace(t, env, "bulk-")
	createBulk(t, env, other, 2)
	s := &Session{Cluster: e2eClient(t, env, "sandbox")}
	_, announced := runSession(t, s, `
names = ["bulk-" + ("00" + str(i))[-3:] for i in range(200)]
r = catch(lambda: k8s.label("deploy", {"tier": "front"}, selector="app=bulk"))
assert.true(r.error.startswith("k8s.label: 1 of 200 objects failed: deployment/bulk-100: "), r.error)
assert.true("bulk-100 refuses changes" in r.error, r.error)
got = k8s.list("deploy", selector="app=bulk,tier=front")
assert.eq([d.metadata.name for d in got], [n for n in names if n != "bulk-100"])

l = k8s.label("deploy", {"seen": "yes"}, selector="app=bulk,tier=front")
assert.eq([d.metadata.name for d in l], [n for n in names if n != "bulk-100"])
assert.eq(set([d.metadata.labels.seen for d in l]), set(["yes"]))

r = catch(lambda: k8s.set_image("deploy", "nginx:2", selector="app=bulk"))
assert.true(r.error.startswith("k8s.set_image: 1 of 200 objects failed: deployment/bulk-100: "), r.error)
images = {d.metadata.name: d.spec.template.spec.containers[0].image for d in k8s.list("deploy", selector="app=bulk")}
assert.eq([n for n in names if images[n] != "nginx:2"], ["bulk-100"])

# objects as read, and cluster-scoped ones
l = k8s.annotate(k8s.list("deploy", selector="app=bulk")[:3] + [k8s.get("namespace", "NS")], {"read": "yes"})
assert.eq([o.metadata.name for o in l], ["bulk-000", "bulk-001", "bulk-002", "NS"])
assert.eq(k8s.get("ns", "NS").metadata.annotations.read, "yes")
assert.eq(k8s.label("ns/NS", {"seen": "yes"}).metadata.labels.seen, "yes")

# every namespace: in namespace order, then name order
l = k8s.label("deploy", {"other": "seen"}, selector="app=bulk,i in (0,1)", all_namespaces=True)
assert.eq(sorted([d.metadata.namespace for d in l]) == [d.metadata.namespace for d in l], True)
assert.eq(sorted([(d.metadata.namespace, d.metadata.name) for d in l]), sorted([(ns, n) for ns in ["NS", "OTHER"] for n in ["bulk-000", "bulk-001"]]))
`, map[string]string{"NS": env.Namespace, "OTHER": other})
	lines := strings.Split(strings.TrimSpace(announced), "\n")
	var want []string
	for _, verb := range []string{"labeled", "labeled", "image updated"} {
		for i := range 200 {
			if i != 100 {
				want = append(want, fmt.Sprintf("deployment.apps/bulk-%03d %s", i, verb))
			}
		}
	}
	want = append(want, "deployment.apps/bulk-000 annotated", "deployment.apps/bulk-001 annotated",
		"deployment.apps/bulk-002 annotated", "namespace/"+env.Namespace+" annotated", "namespace/"+env.Namespace+" labeled")
	for range 2 { // two namespaces, each in name order; as kubectl -A, no namespace
		want = append(want, "deployment.apps/bulk-000 labeled", "deployment.apps/bulk-001 labeled")
	}
	if len(lines) != len(want) {
		t.Fatalf("announced %d lines, want %d:\n%s", len(lines), len(want), announced)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %q, want %q", i, lines[i], want[i])
		}
	}
}
