package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// Cluster data that tries to drive the terminal: an OSC sequence that sets
// the window title, SGR colours and blinking, and line breaks.
const (
	escTitle   = "\x1b]0;pwned\x07hello\nsecond line"
	escColor   = "\x1b[31mred\x1b[0m"
	escMessage = "\x1b]0;pwned\x07title set\x1b[31m red\nline two\r\nthree"
	escReason  = "Pwn\x1b[5m"
	escDeny    = "\x1b]0;pwned\x07 denied\x1b[31m red"
)

// kubectlRunner runs the sandbox's kubectl on its kubeconfig.
type kubectlRunner func(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error)

// sandboxKubectl is the kubectl the sandbox built, beside its kubeconfig.
func sandboxKubectl(t *testing.T, env *kubetest.Env) kubectlRunner {
	t.Helper()
	bin := filepath.Join(filepath.Dir(env.Kubeconfig), "bin", "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the sandbox's kubectl: %v", err)
	}
	return func(t *testing.T, stdin string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
}

// mustKubectl runs kubectl, retrying for up to 30s while it fails (a new
// CRD's resource or a new policy is not served at once).
func mustKubectl(t *testing.T, kubectl kubectlRunner, stdin string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, err := kubectl(t, stdin, args...)
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// seedEscapes creates, in env's namespace, a CRD (EscWidget, with printer
// columns on two string fields) whose CR w1 holds escapes and a line break
// in both, an EscWidget w2-longer-name without, and an Event about w1 whose
// reason and message hold escapes and line breaks. The CRD's group is
// group, unique to the test, and is removed when t ends.
func seedEscapes(t *testing.T, env *kubetest.Env, kubectl kubectlRunner, group string) {
	t.Helper()
	crdName := "escwidgets." + group
	crd := map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": crdName},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "escwidgets", "singular": "escwidget", "kind": "EscWidget"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
				"additionalPrinterColumns": []any{
					map[string]any{"name": "Title", "type": "string", "jsonPath": ".spec.title"},
					map[string]any{"name": "Color", "type": "string", "jsonPath": ".spec.color"},
					map[string]any{"name": "Note", "type": "string", "jsonPath": ".spec.note", "priority": 1},
				},
			}},
		},
	}
	mustKubectl(t, kubectl, jsonText(t, crd), "create", "-f", "-")
	t.Cleanup(func() { kubectl(t, "", "delete", "crd", crdName, "--wait=false") })
	mustKubectl(t, kubectl, "", "wait", "--for", "condition=Established", "crd/"+crdName, "--timeout", "60s")
	for _, w := range []map[string]any{
		{"name": "w1", "spec": map[string]any{"title": escTitle, "color": escColor, "note": "wide\x1b[7m\nnote"}},
		{"name": "w2-longer-name", "spec": map[string]any{"title": "plain", "color": "blue", "note": "n"}},
	} {
		mustKubectl(t, kubectl, jsonText(t, map[string]any{
			"apiVersion": group + "/v1", "kind": "EscWidget",
			"metadata": map[string]any{"name": w["name"], "namespace": env.Namespace},
			"spec":     w["spec"],
		}), "create", "-f", "-")
	}
	mustKubectl(t, kubectl, jsonText(t, map[string]any{
		"apiVersion": "v1", "kind": "Event",
		"metadata":       map[string]any{"name": "ev1", "namespace": env.Namespace},
		"involvedObject": map[string]any{"apiVersion": group + "/v1", "kind": "EscWidget", "name": "w1", "namespace": env.Namespace},
		"reason":         escReason, "message": escMessage, "type": "Warning", "count": 1,
		"firstTimestamp": "2020-01-01T00:00:00Z", "lastTimestamp": "2020-01-01T00:00:00Z",
		"source": map[string]any{"component": "k8sh-test"},
	}), "create", "-f", "-")
}

// denyPolicy makes the apiserver refuse, in env's namespace, a ConfigMap
// with data.deny, quoting data.deny in its message (a
// ValidatingAdmissionPolicy's messageExpression). It returns the policy's
// name; the policy is removed when t ends.
func denyPolicy(t *testing.T, env *kubetest.Env, kubectl kubectlRunner) string {
	t.Helper()
	return admissionPolicy(t, env, kubectl, "Deny", "deny", "denied")
}

// TestTerminalEscapesE2E: escapes and line breaks in an Event and in a
// custom resource print as kubectl prints them, byte for byte (ESC as "^[",
// a cell cut at its first line break with "..."), and no ESC byte from the
// cluster reaches k8sh's stdout or stderr.
func TestTerminalEscapesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	group := "esc" + env.Namespace[len(env.Namespace)-5:] + ".k8sh.test"
	seedEscapes(t, env, kubectl, group)
	args := []string{"--kubeconfig", env.Kubeconfig, "-n", env.Namespace}
	for _, tc := range []struct{ star, kubectl string }{
		{`k8s.print(k8s.list("events"))`, "get events"},
		{`k8s.print(k8s.list("events"), output="wide")`, "get events -o wide"},
		{`k8s.print(k8s.list("escwidgets"))`, "get escwidgets"},
		{`k8s.print(k8s.list("escwidgets"), output="wide")`, "get escwidgets -o wide"},
		{`k8s.print(k8s.get("escwidget", "w1"))`, "get escwidget w1"},
		{`k8s.print(k8s.list("escwidgets"), output="name")`, "get escwidgets -o name"},
		{`k8s.print(k8s.get("escwidget", "w1"), output="yaml")`, "get escwidget w1 -o yaml"},
		{`k8s.print(k8s.get("escwidget", "w1"), output="json")`, "get escwidget w1 -o json"},
		{`k8s.print(k8s.get("event", "ev1"), output="yaml")`, "get event ev1 -o yaml"},
		{`k8s.print(k8s.get("event", "ev1"), output="json")`, "get event ev1 -o json"},
	} {
		t.Run(tc.kubectl, func(t *testing.T) {
			var got, want string
			// Once more when they differ: an AGE may have ticked over.
			for try := 0; try < 2; try++ {
				r := k8sh(t, "", nil, append(args, "-c", tc.star)...)
				if r.Code != 0 {
					t.Fatalf("k8sh -c %s: exit %d\n%s", tc.star, r.Code, r.Stderr)
				}
				got = r.Stdout
				want = mustKubectl(t, kubectl, "", append([]string{"-n", env.Namespace}, strings.Fields(tc.kubectl)...)...)
				if got == want {
					break
				}
			}
			if got != want {
				t.Errorf("k8sh -c %s:\n%q\nkubectl %s:\n%q", tc.star, got, tc.kubectl, want)
			}
			if strings.Contains(got, "\x1b") {
				t.Errorf("an ESC byte reached stdout: %q", got)
			}
		})
	}
	// The table really has the escapes and the cut cells in it.
	r := k8sh(t, "", nil, append(args, "-c", `k8s.print(k8s.list("escwidgets"))`)...)
	if !strings.Contains(r.Stdout, "^[]0;pwned\x07hello...") || !strings.Contains(r.Stdout, "^[[31mred^[[0m") ||
		strings.Contains(r.Stdout, "second line") {
		t.Errorf("widgets table:\n%q", r.Stdout)
	}

	// An error quoting server text (an admission policy's message) shows
	// the escapes harmless on stderr.
	denyPolicy(t, env, kubectl)
	cm := `k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"deny": ` + jsonText(t, escDeny) + `}})`
	r = k8sh(t, "", nil, append(args, "-c", cm)...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "denied: ^[]0;pwned\x07 denied^[[31m red") || strings.Contains(r.Stderr, "\x1b") {
		t.Errorf("exit %d, stderr %q", r.Code, r.Stderr)
	}
}
