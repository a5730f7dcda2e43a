package main

import (
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestREPLChangeLinesE2E: a change in the REPL prints the one line kubectl
// prints for the same change on a twin object ("kc-" for kubectl's, "ks-"
// for k8sh's), and nothing more: the object is not echoed, yet it is _.
func TestREPLChangeLinesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace
	cm := func(name, extra string) string {
		return `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "` + name + `", "namespace": "` + ns + `"}` + extra + `}`
	}
	cr := "cr-" + ns[len(ns)-5:]
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "-n", ns)
	prompt := "k8sh sandbox:" + ns + "> "
	at := tm.expect(0, prompt)
	for _, name := range []string{"kc-web", "ks-web"} {
		mustKubectl(t, kubectl, "", "-n", ns, "create", "deployment", name, "--image=nginx")
	}
	for _, step := range []struct {
		kubectl []string
		stdin   string
		k8sh    string
	}{
		{[]string{"create", "-f", "-"}, cm("kc-a", ""), `k8s.create(` + cm("ks-a", "") + `)`},
		{[]string{"apply", "--server-side", "-f", "-"}, cm("kc-a", `, "data": {"a": "b"}`), `k8s.apply(` + cm("ks-a", `, "data": {"a": "b"}`) + `)`},
		{[]string{"patch", "cm", "kc-a", "--type", "merge", "-p", `{"data":{"c":"d"}}`}, "", `k8s.patch("cm", "ks-a", {"data": {"c": "d"}})`},
		{[]string{"scale", "deploy", "kc-web", "--replicas=2"}, "", `k8s.scale("deploy", "ks-web", 2)`},
		{[]string{"scale", "deploy", "kc-web", "--replicas=3", "--dry-run=server"}, "", `k8s.scale("deploy", "ks-web", 3, dry_run=True)`},
		{[]string{"rollout", "restart", "deploy", "kc-web"}, "", `k8s.restart("deploy", "ks-web")`},
		{[]string{"delete", "cm", "kc-a"}, "", `k8s.delete("cm", "ks-a")`},
		{[]string{"create", "clusterrole", "kc-" + cr, "--verb=get", "--resource=pods"}, "",
			`k8s.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ks-` + cr + `"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})`},
		{[]string{"delete", "clusterrole", "kc-" + cr}, "", `k8s.delete("clusterrole", "ks-` + cr + `")`},
	} {
		out := mustKubectl(t, kubectl, step.stdin, append([]string{"-n", ns}, step.kubectl...)...)
		want := strings.ReplaceAll(out, "kc-", "ks-")
		if strings.Count(want, "\n") != 1 {
			t.Fatalf("kubectl %v printed %q, want one line", step.kubectl, out)
		}
		tm.send(step.k8sh + "\r")
		// The line, then the prompt: nothing of the object is echoed.
		at = tm.expectOnly(at, want, prompt)
	}
	// update is kubectl replace.
	out := mustKubectl(t, kubectl, mustKubectl(t, kubectl, "", "-n", ns, "get", "deploy", "kc-web", "-o", "yaml"), "-n", ns, "replace", "-f", "-")
	tm.send(`k8s.update(k8s.get("deploy", "ks-web"))` + "\r")
	at = tm.expectOnly(at, strings.ReplaceAll(out, "kc-", "ks-"), prompt)
	// The value of the change is still _, and echoes in full when asked.
	tm.send("_\r")
	at = tm.expect(at, "kind: Deployment\nmetadata:\n")
	at = tm.expect(at, "  name: ks-web\n")
	// An assignment, a change in a loop: each change says its line.
	tm.send(`cms = [k8s.create(` + cm("ks-l", "") + `)]` + "\r")
	at = tm.expectOnly(at, "configmap/ks-l created\n", prompt)
	tm.send(`for n in ["ks-l"]: k8s.delete("cm", n)` + "\r")
	tm.expectOnly(at, `configmap "ks-l" deleted from `+ns+" namespace\n", prompt)
}

// expectOnly waits for lines (ending in a line break) on lines of their own,
// followed by nothing but the prompt; it returns the offset after it.
func (tm *ptyTerm) expectOnly(from int, lines, prompt string) int {
	tm.t.Helper()
	at := tm.expect(from, "\n"+lines)
	end := tm.expect(at, prompt)
	if between := strings.Trim(tm.screen()[at:end-len(prompt)], "\r"); between != "" {
		tm.t.Fatalf("after %q, before the prompt, the screen shows %q", lines, between)
	}
	return end
}
