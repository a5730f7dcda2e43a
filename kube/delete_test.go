package kube

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestDeletionBlockers: the conditions that say why a deletion does not
// finish are named, the others (Established, a namespace's False ones) not.
func TestDeletionBlockers(t *testing.T) {
	cond := func(typ, status, reason, msg string) any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg}
	}
	for _, c := range []struct {
		name  string
		conds []any
		want  []string
	}{
		{"crd held", []any{
			cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
			cond("Terminating", "True", "InstanceDeletionFailed", "could not list instances: storage is (re)initializing"),
		}, []string{"InstanceDeletionFailed: could not list instances: storage is (re)initializing"}},
		{"crd going", []any{cond("Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress")}, nil},
		{"namespace", []any{
			cond("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
			cond("NamespaceContentRemaining", "True", "SomeResourcesRemain", "Some resources are remaining: pods. has 1 resource instances"),
			cond("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: x in 1 resource instances"),
		}, []string{"SomeResourcesRemain: Some resources are remaining: pods. has 1 resource instances",
			"SomeFinalizersRemain: Some content in the namespace has finalizers remaining: x in 1 resource instances"}},
		{"none", nil, nil},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": c.conds}}}
		if got := deletionBlockers(u); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
