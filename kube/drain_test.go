package kube

import (
	"context"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestBudgetCauses: an eviction that a PodDisruptionBudget refuses says
// which budget and why (the status's cause) after the API server's message,
// and is still a TooManyRequests for kubectl's drain library, which retries
// it; other errors pass unchanged.
func TestBudgetCauses(t *testing.T) {
	refused := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	refused.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: policyv1.DisruptionBudgetCause, Message: "The disruption budget web needs 2 healthy pods and has 2 currently"}}
	for _, tc := range []struct {
		name    string
		err     error
		want    string
		tooMany bool
	}{
		{"refused", refused, "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget web needs 2 healthy pods and has 2 currently", true},
		{"no cause", apierrors.NewTooManyRequests("slow down", 1), "slow down", true},
		{"not found", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "x"), `pods "x" not found`, false},
		{"ok", nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.err
			})
			err := budgetCauses{cs}.PolicyV1().Evictions("ns").Evict(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want || apierrors.IsTooManyRequests(err) != tc.tooMany {
				t.Errorf("got %q (TooManyRequests %v), want %q (%v)", got, apierrors.IsTooManyRequests(err), tc.want, tc.tooMany)
			}
		})
	}
}

// TestTableCauses reads the change causes of kubectl's history table.
func TestTableCauses(t *testing.T) {
	text := "REVISION  CHANGE-CAUSE\n1         <none>\n2         kubectl set image deploy/web c=nginx:2\n10        a  b\n"
	got := tableCauses(text)
	want := map[int64]string{1: "", 2: "kubectl set image deploy/web c=nginx:2", 10: "a  b"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("revision %d: got %q, want %q", k, got[k], v)
		}
	}
}
