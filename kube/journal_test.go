package kube

import (
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestJournaledRequests(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		want        bool
		target      apiTarget
	}{
		{"POST", "/api/v1/namespaces/ns/configmaps", true, apiTarget{version: "v1", namespace: "ns", resource: "configmaps"}},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web?fieldManager=k8sh", true, apiTarget{group: "apps", version: "v1", namespace: "ns", resource: "deployments", name: "web"}},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web/scale", true, apiTarget{group: "apps", version: "v1", namespace: "ns", resource: "deployments", name: "web", sub: "scale"}},
		{"PUT", "/api/v1/namespaces/ns/pods/p/status", true, apiTarget{version: "v1", namespace: "ns", resource: "pods", name: "p", sub: "status"}},
		{"DELETE", "/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db", true, apiTarget{version: "v1", namespace: "ns", resource: "configmaps"}},
		{"POST", "/api/v1/namespaces/ns/pods/p/eviction", true, apiTarget{version: "v1", namespace: "ns", resource: "pods", name: "p", sub: "eviction"}},
		{"DELETE", "/api/v1/namespaces/gone", true, apiTarget{version: "v1", resource: "namespaces", name: "gone"}},
		{"PUT", "/api/v1/namespaces/gone/finalize", true, apiTarget{version: "v1", resource: "namespaces", name: "gone", sub: "finalize"}},
		{"PATCH", "/api/v1/nodes/n1", true, apiTarget{version: "v1", resource: "nodes", name: "n1"}},
		{"PATCH", "/k8s/clusters/c1/api/v1/nodes/n1", true, apiTarget{prefix: "/k8s/clusters/c1", version: "v1", resource: "nodes", name: "n1"}},
		{"GET", "/api/v1/namespaces/ns/configmaps/x", false, apiTarget{}},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web?dryRun=All", false, apiTarget{}},
		{"POST", "/api/v1/namespaces/ns/pods/p/exec?command=ls", false, apiTarget{}},
		{"POST", "/api/v1/namespaces/ns/pods/p/attach", false, apiTarget{}},
		{"POST", "/api/v1/namespaces/ns/pods/p/portforward", false, apiTarget{}},
		{"POST", "/api/v1/namespaces/ns/services/s/proxy/x", false, apiTarget{}},
		{"POST", "/api/v1/namespaces/ns/serviceaccounts/default/token", false, apiTarget{}},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", false, apiTarget{}},
		{"POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", false, apiTarget{}},
		{"POST", "/apis/authorization.k8s.io/v1/namespaces/ns/localsubjectaccessreviews", false, apiTarget{}},
		{"POST", "/api", false, apiTarget{}},
	} {
		req, _ := http.NewRequest(tc.method, "https://127.0.0.1:6443"+tc.url, nil)
		got, ok := journaled(req)
		if ok != tc.want {
			t.Errorf("%s %s: journaled %v, want %v", tc.method, tc.url, ok, tc.want)
			continue
		}
		if ok && got != tc.target {
			t.Errorf("%s %s: target %+v, want %+v", tc.method, tc.url, got, tc.target)
		}
	}
	for _, body := range []string{`{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"]}`,
		`{"kind":"Eviction","apiVersion":"policy/v1","metadata":{"name":"p"},"deleteOptions":{"dryRun":["All"]}}`} {
		req, _ := http.NewRequest("DELETE", "https://127.0.0.1:6443/api/v1/namespaces/ns/configmaps/x", strings.NewReader(body))
		if strings.Contains(body, "Eviction") {
			req, _ = http.NewRequest("POST", "https://127.0.0.1:6443/api/v1/namespaces/ns/pods/p/eviction", strings.NewReader(body))
		}
		if _, ok := journaled(req); ok {
			t.Errorf("a dry run in the body is journaled: %s", body)
		}
	}
	req, _ := http.NewRequest("DELETE", "https://127.0.0.1:6443/api/v1/namespaces/ns/configmaps/x", strings.NewReader(`{"propagationPolicy":"Background"}`))
	if _, ok := journaled(req); !ok {
		t.Error("a delete with a body is not journaled")
	}
	tg := apiTarget{group: "apps", version: "v1", namespace: "ns", resource: "deployments", name: "web"}
	if got := tg.objectPath(); got != "/apis/apps/v1/namespaces/ns/deployments/web" {
		t.Errorf("objectPath %q", got)
	}
	if got := (apiTarget{version: "v1", resource: "namespaces", name: "x"}).objectPath(); got != "/api/v1/namespaces/x" {
		t.Errorf("objectPath %q", got)
	}
}

func TestRedactCommand(t *testing.T) {
	got := redactCommand([]string{"k8sh", "--token", "abc", "--password=pw", "-c", "x", "--", "--token", "keep"})
	want := []string{"k8sh", "--token", "REDACTED", "--password=REDACTED", "-c", "x", "--", "--token", "keep"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSameContentIgnoresControllers(t *testing.T) {
	after := map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "web", "resourceVersion": "5",
		"annotations": map[string]any{"team": "a"}}, "spec": map[string]any{"replicas": 1.0}}
	live := map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "web", "resourceVersion": "9", "generation": 2.0,
		"annotations": map[string]any{"team": "a", "deployment.kubernetes.io/revision": "1"}},
		"spec": map[string]any{"replicas": 1.0}, "status": map[string]any{"replicas": 1.0}}
	if !sameContent(live, after) {
		t.Error("a status, a revision annotation and a new resourceVersion count as a change")
	}
	node := map[string]any{"kind": "Node", "metadata": map[string]any{"name": "n"}, "spec": map[string]any{"unschedulable": true}}
	cordoned := map[string]any{"kind": "Node", "metadata": map[string]any{"name": "n"}, "spec": map[string]any{"unschedulable": true,
		"taints": []any{map[string]any{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}}}}
	if !sameContent(node, cordoned) {
		t.Error("the node controller's taint counts as a change")
	}
	cordoned["spec"].(map[string]any)["taints"] = []any{map[string]any{"key": "dedicated", "value": "db", "effect": "NoSchedule"}}
	if sameContent(node, cordoned) {
		t.Error("a user's taint does not count as a change")
	}
	live["metadata"].(map[string]any)["annotations"].(map[string]any)["kubectl.kubernetes.io/restartedAt"] = "now"
	if sameContent(live, after) {
		t.Error("kubectl's annotation does not count as a change")
	}
}

func TestJournalFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j := NewJournal(dir, RunInfo{Context: "c", Command: []string{"k8sh", "x.star"}}, JournalOptions{})
	// A run whose only change the server refused leaves no file.
	c := &JournalChange{Method: "POST", Version: "v1", Resource: "configmaps", Namespace: "ns", Name: "a"}
	if err := j.record([]*JournalChange{c}); err != nil {
		t.Fatal(err)
	}
	j.result(c, &JournalResult{Status: 409, Error: "exists"})
	path := j.Path()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a run that changed nothing left %s", path)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("journal directory: %v %v, want mode 0700", fi.Mode(), err)
	}

	j = NewJournal(dir, RunInfo{Context: "c", Command: []string{"k8sh", "x.star"}}, JournalOptions{})
	s := &JournalChange{Method: "DELETE", Version: "v1", Resource: "secrets", Namespace: "ns", Name: "s", Existed: true,
		Before: map[string]any{"kind": "Secret", "metadata": map[string]any{"name": "s"}, "data": map[string]any{"k": "c2VjcmV0"}}}
	if err := j.record([]*JournalChange{s}); err != nil {
		t.Fatal(err)
	}
	j.result(s, &JournalResult{Status: 200, Gone: true})
	j.Close()
	fi, err := os.Stat(j.Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("journal file: %v, want mode 0600", err)
	}
	data, _ := os.ReadFile(j.Path())
	if strings.Contains(string(data), "c2VjcmV0") {
		t.Errorf("the journal holds a Secret's data:\n%s", data)
	}
	// A line cut short by a kill is left out.
	os.WriteFile(j.Path(), append(data, []byte(`{"change":{"seq":2,"meth`)...), 0o600)
	r, err := ReadRun(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != j.ID() || len(r.Changes) != 1 || !r.Changes[0].SecretDataOmitted || r.Changes[0].Result == nil || !r.Changes[0].Result.Gone {
		t.Errorf("read back %+v, changes %+v", r.RunInfo, r.Changes)
	}
	runs, err := ReadRuns(dir)
	if err != nil || len(runs) != 1 {
		t.Fatalf("ReadRuns: %v %d", err, len(runs))
	}
	if _, err := FindRun(runs, j.ID()[:8]); err != nil {
		t.Error(err)
	}
}
