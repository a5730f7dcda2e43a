package main

import (
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestExplainRequestsE2E runs k8sh -v twice, as two processes on one cache
// directory: the first explain reads the list of OpenAPI documents and the
// one of apps/v1 (beside discovery), the second sends no request at all;
// both print what kubectl explain prints.
func TestExplainRequestsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	want := env.Kubectl(t).Must(t, "", "explain", "deploy.spec.strategy")
	dir := t.TempDir()
	run := func() (out string, requests []string) {
		r := k8sh(t, "", nil, "-v", "--kubeconfig", env.Kubeconfig, "--cache-dir", dir, "-c", `print(k8s.explain("deploy.spec.strategy"))`)
		if r.Code != 0 {
			t.Fatalf("k8sh: %+v", r)
		}
		for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
			if l != "" {
				requests = append(requests, l)
			}
		}
		return strings.TrimSuffix(r.Stdout, "\n"), requests // print's line break
	}
	out, cold := run()
	if out != want {
		t.Errorf("cold explain:\n%s\nkubectl explain:\n%s", out, want)
	}
	var docs []string
	for _, l := range cold {
		if strings.Contains(l, "/openapi/") {
			docs = append(docs, l)
		}
	}
	if len(docs) != 2 || !strings.Contains(docs[0], "/openapi/v3 200 OK") || !strings.Contains(docs[1], "/openapi/v3/apis/apps/v1?hash=") {
		t.Errorf("cold explain: OpenAPI requests %q, want the list and apps/v1's document", docs)
	}
	out, warm := run()
	if out != want {
		t.Errorf("warm explain:\n%s\nkubectl explain:\n%s", out, want)
	}
	if len(warm) > 0 {
		t.Errorf("warm explain, a new process: %d requests, want none:\n%s", len(warm), strings.Join(warm, "\n"))
	}
}
