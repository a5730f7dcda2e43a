package kube

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestRulesFor(t *testing.T) {
	calls := []APICall{
		{Method: "GET", URL: "/api"},
		{Method: "GET", URL: "/apis"},
		{Method: "GET", URL: "/openapi/v3/api/v1"},
		{Method: "GET", URL: "/version"},
		{Method: "GET", URL: "/api/v1/namespaces/ops/pods?limit=500"},
		{Method: "GET", URL: "/api/v1/namespaces/ops/pods?watch=true&resourceVersion=12"},
		{Method: "GET", URL: "/api/v1/namespaces/ops/pods/web-1/log?tailLines=10"},
		{Method: "GET", URL: "/api/v1/namespaces/ops/configmaps/settings"},
		{Method: "GET", URL: "/api/v1/namespaces/ops/secrets/tls"},
		{Method: "PATCH", URL: "/apis/apps/v1/namespaces/ops/deployments/web?fieldManager=k8sh&dryRun=All", ContentType: "application/apply-patch+yaml"},
		{Method: "PATCH", URL: "/api/v1/namespaces/ops/services/web", ContentType: "application/merge-patch+json"},
		{Method: "PATCH", URL: "/apis/apps/v1/namespaces/ops/deployments/web/status", ContentType: "application/apply-patch+yaml"},
		{Method: "PUT", URL: "/apis/apps/v1/namespaces/ops/deployments/web/scale?dryRun=All"},
		{Method: "DELETE", URL: "/api/v1/namespaces/ops/pods?labelSelector=a%3Db"},
		{Method: "POST", URL: "/api/v1/namespaces/ops/pods/web-1/exec"},
		{Method: "GET", URL: "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt"},
		{Method: "GET", URL: "/api/v1/namespaces/ops"},
		{Method: "GET", URL: "/api/v1/nodes"},
		{Method: "GET", URL: "/apis/apps/v1/deployments?limit=500"},
		{Method: "POST", URL: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
		{Method: "POST", URL: "/apis/authentication.k8s.io/v1/selfsubjectreviews"},
		{Method: "GET", URL: "/metrics"},
	}
	got, err := RulesFor(calls)
	if err != nil {
		t.Fatal(err)
	}
	rule := func(group string, resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
	}
	want := Rules{
		Namespaces: map[string][]rbacv1.PolicyRule{
			"ops": {
				rule("", []string{"configmaps", "namespaces", "pods/log", "secrets"}, "get"),
				rule("", []string{"pods"}, "list", "watch", "deletecollection"),
				rule("", []string{"pods/exec"}, "get", "create"),
				rule("", []string{"services"}, "patch"),
				rule("apps", []string{"deployments"}, "create", "patch"),
				rule("apps", []string{"deployments/scale"}, "update"),
				rule("apps", []string{"deployments/status"}, "patch"),
			},
			"kube-system": {rule("", []string{"configmaps"}, "get")},
		},
		Cluster: []rbacv1.PolicyRule{
			rule("", []string{"nodes"}, "list"),
			rule("apps", []string{"deployments"}, "list"),
			{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RulesFor (-want +got):\n%s", diff)
	}
	if got.Empty() {
		t.Error("Empty() = true")
	}
	if names := got.NamespaceNames(); !cmp.Equal(names, []string{"kube-system", "ops"}) {
		t.Errorf("NamespaceNames() = %v", names)
	}
	// What every authenticated user may do needs no rule.
	none, err := RulesFor(calls[:4])
	if err != nil || !none.Empty() {
		t.Errorf("RulesFor(discovery) = %+v, %v; want none", none, err)
	}
}

func TestParseRules(t *testing.T) {
	list := "- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list]\n"
	r, err := ParseRules([]byte(list), "r.yaml", "ops")
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{Namespaces: map[string][]rbacv1.PolicyRule{"ops": {{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("a list (-want +got):\n%s", diff)
	}
	// The YAML RulesFor's rules print as reads back as they were.
	full := Rules{
		Namespaces: map[string][]rbacv1.PolicyRule{"ops": want.Namespaces["ops"]},
		Cluster:    []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}}, {NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	back, err := ParseRules([]byte(full.YAML()), "r.yaml", "other")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ data, err string }{
		{"- apiGroups: [\"\"]\n  resources: [pods]\n", "r.yaml: namespace ops rule 1: it names no verbs"},
		{"- resources: [pods]\n  verbs: [get]\n", "r.yaml: namespace ops rule 1: it needs apiGroups and resources (or nonResourceURLs)"},
		{"- nonResourceURLs: [/metrics]\n  verbs: [get]\n", "r.yaml: namespace ops rule 1: nonResourceURLs go in the cluster's rules"},
		{"cluster:\n- nonResourceURLs: [/metrics]\n  apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n", "r.yaml: cluster rule 1: a rule names resources or nonResourceURLs, not both"},
		{"rules: []\n", "r.yaml: want a list of rules, or namespaces: {NAMESPACE: [rules]} and cluster: [rules]: "},
	} {
		_, err := ParseRules([]byte(tc.data), "r.yaml", "ops")
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("ParseRules(%q) = %v; want %q", tc.data, err, tc.err)
		}
	}
}
