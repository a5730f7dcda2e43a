package kube

import "testing"

func TestParseAPIPath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want apiTarget
		ok   bool
	}{
		{"/api/v1/namespaces/ns/configmaps/x", apiTarget{version: "v1", namespace: "ns", resource: "configmaps", name: "x"}, true},
		{"/api/v1/namespaces/ns/configmaps", apiTarget{version: "v1", namespace: "ns", resource: "configmaps"}, true},
		{"/api/v1/namespaces/ns", apiTarget{version: "v1", resource: "namespaces", name: "ns"}, true},
		{"/api/v1/namespaces/ns/status", apiTarget{version: "v1", resource: "namespaces", name: "ns", sub: "status"}, true},
		{"/api/v1/namespaces/ns/finalize", apiTarget{version: "v1", resource: "namespaces", name: "ns", sub: "finalize"}, true},
		{"/api/v1/namespaces", apiTarget{version: "v1", resource: "namespaces"}, true},
		{"/apis/apps/v1/namespaces/ns/deployments/web/scale", apiTarget{group: "apps", version: "v1", namespace: "ns", resource: "deployments", name: "web", sub: "scale"}, true},
		{"/apis/apps/v1/deployments", apiTarget{group: "apps", version: "v1", resource: "deployments"}, true},
		{"/api/v1/nodes/n1", apiTarget{version: "v1", resource: "nodes", name: "n1"}, true},
		{"/api/v1/namespaces/ns/pods/p/exec", apiTarget{version: "v1", namespace: "ns", resource: "pods", name: "p", sub: "exec"}, true},
		{"/api/v1/namespaces/ns/services/s/proxy/a/b", apiTarget{version: "v1", namespace: "ns", resource: "services", name: "s", sub: "proxy"}, true},
		{"/k8s/clusters/c1/api/v1/nodes/n1", apiTarget{prefix: "/k8s/clusters/c1", version: "v1", resource: "nodes", name: "n1"}, true},
		{"/apis/apps/v1", apiTarget{}, false},
		{"/apis/apps", apiTarget{}, false},
		{"/api", apiTarget{}, false},
		{"/version", apiTarget{}, false},
		{"/openapi/v3/apis/apps/v1", apiTarget{prefix: "/openapi/v3"}, false},
	} {
		got, ok := parseAPIPath(tc.path)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("parseAPIPath(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
		}
	}
	i, _ := parseAPIPath("/apis/apps/v1/namespaces/ns/deployments/web/scale")
	if got := i.objectPath(); got != "/apis/apps/v1/namespaces/ns/deployments/web" {
		t.Errorf("objectPath: %s", got)
	}
	if got := i.collectionPath(); got != "/apis/apps/v1/namespaces/ns/deployments" {
		t.Errorf("collectionPath: %s", got)
	}
	n, _ := parseAPIPath("/k8s/clusters/c1/api/v1/namespaces/ns/configmaps/x")
	if got := n.objectPath(); got != "/k8s/clusters/c1/api/v1/namespaces/ns/configmaps/x" {
		t.Errorf("objectPath with a prefix: %s", got)
	}
}

func TestLastManager(t *testing.T) {
	entry := func(manager, op, sub, at string) map[string]any {
		return map[string]any{"manager": manager, "operation": op, "subresource": sub, "time": at, "fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:data": map[string]any{}}}
	}
	obj := func(entries ...any) map[string]any {
		return map[string]any{"metadata": map[string]any{"managedFields": entries}}
	}
	seen := obj(entry("kubectl-client-side-apply", "Update", "", "2026-12-06T04:00:00Z"))
	now := obj(entry("kubectl-client-side-apply", "Update", "", "2026-12-06T04:00:00Z"),
		entry("kubectl-patch", "Update", "", "2026-12-06T04:41:07Z"),
		entry("kube-controller-manager", "Update", "status", "2026-12-06T04:42:00Z"))
	for _, tc := range []struct {
		obj, seen map[string]any
		want      string
	}{
		{now, nil, `"kubectl-patch" (Update at 2026-12-06T04:41:07Z)`},
		{now, seen, `"kubectl-patch" (Update at 2026-12-06T04:41:07Z)`},
		{seen, seen, ""},
		{obj(entry("kube-controller-manager", "Update", "status", "2026-12-06T04:42:00Z")), nil, `"kube-controller-manager" (Update of status at 2026-12-06T04:42:00Z)`},
		{obj(), nil, "an unknown manager (the object has no managedFields)"},
	} {
		if got := lastManager(tc.obj, tc.seen); got != tc.want {
			t.Errorf("lastManager = %q, want %q", got, tc.want)
		}
	}
}
