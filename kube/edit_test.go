package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func TestConflictManager(t *testing.T) {
	for _, c := range []struct {
		msg    string
		name   string
		update bool
	}{
		{`conflict with "k8sh" using apps/v1`, "k8sh", true},
		{`conflict with "kubectl-client-side-apply" using v1 at 2026-12-02T10:00:00Z`, "kubectl-client-side-apply", true},
		{`conflict with "alice"`, "alice", false},
		{`conflict with "k8sh" with subresource "status" using v1`, "k8sh", false},
		{`conflict with "a \"quoted\" one" using v1`, `a "quoted" one`, true},
		{`something else`, "", false},
	} {
		name, update := conflictManager(c.msg)
		if name != c.name || update != c.update {
			t.Errorf("conflictManager(%q) = %q, %v; want %q, %v", c.msg, name, update, c.name, c.update)
		}
	}
}

func TestEditPatch(t *testing.T) {
	obj := func(kind, apiVersion, name string, data map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": "ns", "resourceVersion": "7"},
			"spec":     data,
		}}
	}
	for _, c := range []struct {
		name     string
		from, to *unstructured.Unstructured
		patch    string
		pt       types.PatchType
		err      string
	}{
		{"built-in kind: strategic, with the resourceVersion read",
			obj("Deployment", "apps/v1", "web", map[string]any{"replicas": int64(1), "paused": false}),
			obj("Deployment", "apps/v1", "web", map[string]any{"replicas": int64(3), "paused": false}),
			`{"metadata":{"resourceVersion":"7"},"spec":{"replicas":3}}`, types.StrategicMergePatchType, ""},
		{"custom resource: JSON merge patch",
			obj("Widget", "example.com/v1", "w", map[string]any{"size": int64(1), "color": "red"}),
			obj("Widget", "example.com/v1", "w", map[string]any{"size": int64(1)}),
			`{"metadata":{"resourceVersion":"7"},"spec":{"color":null}}`, types.MergePatchType, ""},
		{"no change: the precondition alone",
			obj("Widget", "example.com/v1", "w", map[string]any{"size": int64(1)}),
			obj("Widget", "example.com/v1", "w", map[string]any{"size": int64(1)}),
			`{"metadata":{"resourceVersion":"7"}}`, types.MergePatchType, ""},
		{"renamed", obj("Widget", "example.com/v1", "w", nil), obj("Widget", "example.com/v1", "v", nil), "", "", "cannot change"},
		{"renamed built-in", obj("Deployment", "apps/v1", "w", nil), obj("Deployment", "apps/v1", "v", nil), "", "", "cannot change"},
	} {
		t.Run(c.name, func(t *testing.T) {
			patch, pt, err := EditPatch(c.from, c.to)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || string(patch) != c.patch || pt != c.pt {
				t.Errorf("EditPatch = %s, %s, %v; want %s, %s", patch, pt, err, c.patch, c.pt)
			}
		})
	}
}
