package kube

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

func TestRulesFor(t *testing.T) {
	calls := []APICall{
		{"GET", "/api"},
		{"GET", "/apis"},
		{"GET", "/openapi/v3/api/v1"},
		{"GET", "/version"},
		{"GET", "/api/v1/namespaces/ops/pods?limit=500"},
		{"GET", "/api/v1/namespaces/ops/pods?watch=true&resourceVersion=12"},
		{"GET", "/api/v1/namespaces/ops/pods/web-1/log?tailLines=10"},
		{"GET", "/api/v1/namespaces/ops/configmaps/settings"},
		{"GET", "/api/v1/namespaces/ops/secrets/tls"},
		{"PATCH", "/apis/apps/v1/namespaces/ops/deployments/web?fieldManager=k8sh&dryRun=All"},
		{"PUT", "/apis/apps/v1/namespaces/ops/deployments/web/scale?dryRun=All"},
		{"DELETE", "/api/v1/namespaces/ops/pods?labelSelector=a%3Db"},
		{"POST", "/api/v1/namespaces/ops/pods/web-1/exec"},
		{"GET", "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt"},
		{"GET", "/api/v1/namespaces/ops"},
		{"GET", "/api/v1/nodes"},
		{"GET", "/apis/apps/v1/deployments?limit=500"},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
		{"POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews"},
		{"GET", "/metrics"},
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
				rule("apps", []string{"deployments"}, "patch"),
				rule("apps", []string{"deployments/scale"}, "update"),
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
