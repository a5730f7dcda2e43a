package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

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
	// update is kubectl replace. Both read the Deployment and write it back
	// with its resourceVersion: let the controllers finish the restart
	// first, or they update it in between and both conflict.
	for _, name := range []string{"kc-web", "ks-web"} {
		mustKubectl(t, kubectl, "", "-n", ns, "rollout", "status", "deploy/"+name, "--timeout", "60s")
	}
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
	at = tm.expectOnly(at, `configmap "ks-l" deleted from `+ns+" namespace\n", prompt)
	// A delete that matched nothing echoes its value.
	tm.send(`k8s.delete("cm", selector="none=here")` + "\r")
	at = tm.expectOnly(at, "[]\n", prompt)
	// A change sent to another context than the prompt's says so.
	tm.send(`ctx.use("sandbox-viewer", namespace="` + ns + `")` + "\r")
	viewer := "k8sh sandbox-viewer:" + ns + "> "
	at = tm.expect(at, viewer)
	tm.send(`k8s.create(` + cm("ks-c", "") + `, context="sandbox")` + "\r")
	tm.expectOnly(at, `configmap/ks-c created (in context "sandbox")`+"\n", viewer)
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

// TestREPLAdHocE2E: what makes the REPL quick for ad-hoc work: "a; b"
// echoes each value as Python's REPL does, text with line breaks (logs)
// echoes as text with its escapes made harmless, a one-line for runs on
// Enter, Ctrl-C on a continuation line abandons it without an error,
// ctx.namespace refuses a namespace that does not exist, and exit(code)
// ends the REPL with that status.
func TestREPLAdHocE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace
	mustKubectl(t, kubectl, "", "-n", ns, "run", "lg", "--image=nginx")
	mustKubectl(t, kubectl, "", "-n", ns, "wait", "pod/lg", "--for=condition=Ready", "--timeout=30s")
	logs := mustKubectl(t, kubectl, "", "-n", ns, "logs", "lg", "--tail=2")
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "-n", ns)
	prompt := "k8sh sandbox:" + ns + "> "
	at := tm.expect(0, prompt)

	tm.send("1; None; 2\r")
	at = tm.expectOnly(at, "1\n2\n", prompt)
	tm.send(`k8s.logs("lg", tail=2)` + "\r")
	at = tm.expectOnly(at, logs, prompt)
	tm.send(`"one\ntwo \x1b]0;pwned\x07 \x1b[31mred"` + "\r")
	at = tm.expectOnly(at, "one\ntwo ^[]0;pwned\x07 ^[[31mred\n", prompt)
	tm.send(`"no line break"` + "\r")
	at = tm.expectOnly(at, `"no line break"`+"\n", prompt)

	tm.send("for i in range(2): print('i', i)\r")
	at = tm.expectOnly(at, "i 0\ni 1\n", prompt)
	tm.send("def double(x): return 2 * x\r")
	at = tm.expect(at, prompt)
	tm.send("double(21)\r")
	at = tm.expectOnly(at, "42\n", prompt)
	// An if waits for a blank line, as in Python: an else may follow.
	tm.send("if True: print('yes')\r")
	at = tm.expect(at, "... ")
	tm.send("else: print('no')\r")
	at = tm.expect(at, "... ")
	tm.send("\r")
	at = tm.expectOnly(at, "yes\n", prompt)

	// Ctrl-C on a continuation line: the input is dropped, no error.
	tm.send("for i in range(3):\r")
	at = tm.expect(at, "... ")
	tm.send("    print('never', i)")
	tm.send("\x03")
	at = tm.expect(at, prompt)
	tm.send("print('next')\r")
	at = tm.expectOnly(at, "next\n", prompt)
	if s := tm.screen(); strings.Contains(s, "never 0") || strings.Contains(s, "Error") || strings.Contains(s, "interrupt") {
		t.Errorf("Ctrl-C on a continuation line ran it or showed an error:\n%s", s)
	}

	// ctx.namespace refuses a namespace that is not there, as kubens does.
	tm.send(`ctx.namespace("no-such-ns")` + "\r")
	at = tm.expect(at, `ctx.namespace: namespace "no-such-ns" does not exist in context "sandbox"`)
	at = tm.expect(at, prompt)
	tm.send(`ctx.namespace("kube-system")` + "\r")
	at = tm.expectOnly(at, `"kube-system"`+"\n", "k8sh sandbox:kube-system> ")

	tm.send("exit(3)\r")
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
		t.Fatal("exit(3) did not end the REPL")
	}
	var ee *exec.ExitError
	if err := tm.cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit(3): the REPL ended with %v, want exit status 3", err)
	}
	if strings.Contains(tm.screen()[at:], "exit status") {
		t.Errorf("exit(3) printed an error:\n%s", tm.screen()[at:])
	}
}

// TestExitAndSpellingE2E: exit() and quit() end a script with their code
// (sys.exit's), and a misspelt module member or keyword argument says
// what was meant.
func TestExitAndSpellingE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	for _, c := range []struct {
		code         string
		status       int
		stdout, errs string
	}{
		{`print("a"); exit(4); print("b")`, 4, "a\n", ""},
		{`quit()`, 0, "", ""},
		{`quit(2, "usage: x.star N")`, 2, "", "usage: x.star N\n"},
		{`exit("x")`, 1, "", "-c:1:5: exit: for parameter code: got string, want int\n"},
		{`k8s.gte("pods")`, 1, "", "-c:1:4: k8s has no .gte field or method (did you mean .get?)\n"},
		{`ctx.namspace()`, 1, "", "-c:1:4: ctx has no .namspace field or method (did you mean .namespace?)\n"},
		{`json.dumps({})`, 1, "", "-c:1:5: json has no .dumps field or method\n"},
		{`print(hasattr(k8s, "gte"), getattr(k8s, "gte", None), type(k8s))`, 0, "False None module\n", ""},
		{`k8s.list("pods", slector="a=b")`, 1, "", "-c:1:9: k8s.list: unexpected keyword argument \"slector\" (did you mean selector?)\n"},
	} {
		r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", c.code)
		if r.Code != c.status || r.Stdout != c.stdout || r.Stderr != c.errs {
			t.Errorf("%s: got status %d, stdout %q, stderr %q; want %d, %q, %q", c.code, r.Code, r.Stdout, r.Stderr, c.status, c.stdout, c.errs)
		}
	}
}

// TestCtxNamespaceChecksE2E: ctx.namespace refuses a namespace that does
// not exist and changes nothing; a user who may not read namespaces gets
// it with a warning.
func TestCtxNamespaceChecksE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	code := `
print(catch(ctx.namespace, "no-such-ns").error)
print(ctx.namespace())
print(ctx.namespace("` + env.Namespace + `"))
`
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", code)
	want := "ctx.namespace: namespace \"no-such-ns\" does not exist in context \"sandbox\"\ndefault\n" + env.Namespace + "\n"
	if r.Code != 0 || r.Stdout != want || r.Stderr != "" {
		t.Errorf("got %+v, want stdout %q", r, want)
	}
	// --as a user with no rights: the namespace cannot be checked.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "--as", "nobody", "-c", `print(ctx.namespace("elsewhere"))`)
	if r.Code != 0 || r.Stdout != "elsewhere\n" ||
		!strings.HasPrefix(r.Stderr, `Warning: ctx.namespace: cannot check that namespace "elsewhere" exists: namespaces "elsewhere" is forbidden: User "nobody" cannot get resource "namespaces"`) {
		t.Errorf("Forbidden: %+v", r)
	}
}
