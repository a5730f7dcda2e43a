package kube

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestWriteErrorConflict(t *testing.T) {
	st := &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 409, Reason: metav1.StatusReasonConflict,
		Message: "Apply failed with 1 conflict",
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Type: metav1.CauseTypeFieldManagerConflict, Field: ".data.k", Message: `conflict with "alice" using v1`},
			{Type: metav1.CauseTypeFieldManagerConflict, Field: ".spec.replicas", Message: `conflict with "hpa" using apps/v1`},
		}},
	}}
	err := writeError(st, "ns")
	want := `apply conflict: 2 field(s) owned by another manager: .data.k (conflict with "alice" using v1), .spec.replicas (conflict with "hpa" using apps/v1); apply with force=True to take ownership (Conflict)`
	if err.Error() != want {
		t.Errorf("got  %s\nwant %s", err, want)
	}
	if !apierrors.IsConflict(err) {
		t.Error("the API error is not kept")
	}

	stale := writeError(apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "c", errors.New("the object has been modified")), "ns")
	if !strings.HasPrefix(stale.Error(), "conflict: the object changed since it was read") {
		t.Errorf("stale update: %v", stale)
	}
}

func TestBulkError(t *testing.T) {
	err := bulkError([]string{"a/1", "b/2", "c/3"}, make([]string, 3), []error{nil, errors.New("boom"), errors.New("bang")})
	want := "2 of 3 objects failed: b/2: boom; c/3: bang"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	single := bulkError([]string{"configmap/a"}, []string{"ns"}, []error{errors.New("boom")})
	if single.Error() != "configmap/a: boom" {
		t.Errorf("one object: %v, want configmap/a: boom (the caller knows where)", single)
	}
	if err := bulkError([]string{"configmap/a", "namespace/b"}, []string{"ns", ""}, []error{errors.New("x"), errors.New("y")}); err.Error() != "2 of 2 objects failed: ns/configmap/a: x; namespace/b: y" {
		t.Errorf("many objects: %v", err)
	}
	if bulkError([]string{"a"}, []string{""}, []error{nil}) != nil {
		t.Error("no failure must give a nil error")
	}
	one := bulkError([]string{"deployment/web"}, []string{"ns"}, []error{errors.New("boom")})
	if one.Error() != "deployment/web: boom" {
		t.Errorf("one object: %v", one)
	}
}

func TestUnifiedDiff(t *testing.T) {
	live := &unstructured.Unstructured{Object: map[string]any{
		"kind": "ConfigMap", "metadata": map[string]any{"name": "x", "resourceVersion": "1", "uid": "u",
			"managedFields": []any{map[string]any{"manager": "k8sh"}}}, "data": map[string]any{"k": "1"}}}
	merged := live.DeepCopy()
	merged.SetResourceVersion("2")
	if d, err := unifiedDiff("configmap/x", live, merged); err != nil || d != "" {
		t.Errorf("only resourceVersion changed: got %q, %v", d, err)
	}
	unstructured.SetNestedField(merged.Object, "2", "data", "k")
	d, err := unifiedDiff("configmap/x", live, merged)
	if err != nil {
		t.Fatal(err)
	}
	want := "--- live/configmap/x\n+++ applied/configmap/x\n@@ -1,5 +1,5 @@\n data:\n-  k: \"1\"\n+  k: \"2\"\n kind: ConfigMap\n metadata:\n   name: x\n"
	if d != want {
		t.Errorf("got\n%s\nwant\n%s", d, want)
	}
	d, _ = unifiedDiff("configmap/x", nil, merged)
	if !strings.HasPrefix(d, "--- /dev/null\n+++ applied/configmap/x\n@@ -0,0 +1,5 @@\n+data:\n") {
		t.Errorf("new object:\n%s", d)
	}
}

func TestObjectName(t *testing.T) {
	for _, tc := range []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "web"}}, "deployment/web"},
		{map[string]any{"metadata": map[string]any{"name": "web"}}, "object/web"},
		{map[string]any{"kind": "Pod", "metadata": map[string]any{"generateName": "web-"}}, "pod/web-*"},
		{map[string]any{"kind": "Pod"}, "pod/<no name>"},
	} {
		if got := ObjectName(&unstructured.Unstructured{Object: tc.obj}); got != tc.want {
			t.Errorf("ObjectName(%v) = %q, want %q", tc.obj, got, tc.want)
		}
	}
}
