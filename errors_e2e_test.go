package main

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// kubectlStatus is the exit status of a kubectl run: 0, or its code.
func kubectlStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running kubectl: %v", err)
	return -1
}

// admissionPolicy makes the apiserver act on a ConfigMap with data.KEY in
// env's namespace: a ValidatingAdmissionPolicy bound with
// validationActions [action] ("Deny" refuses it, "Warn" warns and lets it
// through), whose message is "VERB: " and data.KEY. It returns the policy's
// name once the policy is in effect; the policy is removed when t ends.
func admissionPolicy(t *testing.T, env *kubetest.Env, kubectl kubectlRunner, action, key, verb string) string {
	t.Helper()
	name := key + "-" + env.Namespace
	policy := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"failurePolicy": "Fail",
			"matchConstraints": map[string]any{"resourceRules": []any{map[string]any{
				"apiGroups": []any{""}, "apiVersions": []any{"v1"},
				"operations": []any{"CREATE", "UPDATE"}, "resources": []any{"configmaps"}}}},
			"validations": []any{map[string]any{
				"expression":        "!has(object.data) || !('" + key + "' in object.data)",
				"messageExpression": "'" + verb + ": ' + object.data['" + key + "']"}},
		},
	}
	binding := map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"policyName": name, "validationActions": []any{action},
			"matchResources": map[string]any{"namespaceSelector": map[string]any{
				"matchLabels": map[string]any{"kubernetes.io/metadata.name": env.Namespace}}},
		},
	}
	mustKubectl(t, kubectl, jsonText(t, policy), "create", "-f", "-")
	t.Cleanup(func() { kubectl(t, "", "delete", "validatingadmissionpolicy", name, "--wait=false") })
	mustKubectl(t, kubectl, jsonText(t, binding), "create", "-f", "-")
	t.Cleanup(func() { kubectl(t, "", "delete", "validatingadmissionpolicybinding", name, "--wait=false") })
	// The policy takes effect a moment later: wait until a probe is refused
	// (Deny) or warned about (Warn).
	probe := jsonText(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "probe", "namespace": env.Namespace}, "data": map[string]any{key: "x"}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, errOut, err := kubectl(t, probe, "create", "--dry-run=server", "-f", "-")
		if (err != nil) == (action == "Deny") && strings.Contains(errOut, verb+": x") {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admission policy (%s) never acted on a ConfigMap: %v %s", action, err, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServerWarningsE2E: the server's warnings (a deprecated API, an
// admission policy's Warn) reach stderr as kubectl prints them, byte for
// byte, once per distinct text however many requests carry them.
func TestServerWarningsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace

	// A deprecated API: v1 Endpoints, listed twice, by two contexts.
	mustKubectl(t, kubectl, jsonText(t, map[string]any{"apiVersion": "v1", "kind": "Endpoints",
		"metadata": map[string]any{"name": "ep", "namespace": ns}}), "create", "-f", "-")
	out, kerr, err := kubectl(t, "", "get", "endpoints", "-n", ns)
	if err != nil || !strings.HasPrefix(kerr, "Warning: ") || !strings.Contains(out, "ep") {
		t.Fatalf("kubectl get endpoints: %v\nstdout %q\nstderr %q", err, out, kerr)
	}
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "-c",
		`k8s.list("endpoints"); k8s.list("endpoints"); k8s.get("endpoints", "ep", namespace="`+ns+`", context="sandbox-viewer")`)
	if r.Code != 0 || r.Stderr != kerr {
		t.Errorf("a deprecated API: got code %d stderr %q; want 0 and kubectl's %q", r.Code, r.Stderr, kerr)
	}

	// An admission warning on a write, the same for the same object data.
	admissionPolicy(t, env, kubectl, "Warn", "warn", "warned")
	cm := func(name string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": map[string]any{"warn": "yes"}}
	}
	out, kerr, err = kubectl(t, jsonText(t, cm("by-kubectl")), "create", "-f", "-")
	if err != nil || !strings.Contains(kerr, "warned: yes") {
		t.Fatalf("kubectl create: %v\nstdout %q\nstderr %q", err, out, kerr)
	}
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c",
		`k8s.create(`+jsonText(t, cm("by-k8sh"))+`); k8s.apply(`+jsonText(t, cm("by-k8sh-2"))+`)`)
	if r.Code != 0 || r.Stderr != kerr {
		t.Errorf("an admission warning: got code %d stderr %q; want 0 and kubectl's %q", r.Code, r.Stderr, kerr)
	}
}

// kubectlSays is what k8sh's message must contain of kubectl's last line
// of stderr: the message without kubectl's "error: " or "Error from server
// (Reason): " (whose reason k8sh ends its message with) or "The ".
func kubectlSays(stderr string) []string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	msg := lines[len(lines)-1]
	var parts []string
	if m := regexp.MustCompile(`^Error from server \((\w+)\): (?:error when creating "STDIN": )?(.*)$`).FindStringSubmatch(msg); m != nil {
		parts, msg = append(parts, "("+m[1]+")"), m[2]
	}
	msg = strings.TrimPrefix(msg, "error: ")
	msg = strings.TrimPrefix(msg, "The ")
	return append(parts, msg)
}

// holds tells whether k8sh's stderr holds part, as it is or with a
// lowercase first letter (k8sh's messages follow a builtin's name:
// "k8s.get: unable to connect ..." for kubectl's "Unable to connect ...").
func holds(stderr, part string) bool {
	r, n := utf8.DecodeRuneInString(part)
	return strings.Contains(stderr, part) || strings.Contains(stderr, string(unicode.ToLower(r))+part[n:])
}

// TestErrorWordingE2E: for the same request, k8sh fails when kubectl does,
// with kubectl's exit status, and its message holds kubectl's words and
// kubectl's reason class (NotFound, AlreadyExists, Forbidden, ...) after
// the builtin's name and position.
func TestErrorWordingE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace
	cm := func(name string) string {
		return jsonText(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}})
	}
	mustKubectl(t, kubectl, cm("there"), "create", "-f", "-")
	server := func() string {
		out := mustKubectl(t, kubectl, "", "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
		return strings.TrimSpace(out)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "https://" + ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Config\nclusters: [\n  - bad: : :\n"), 0o600)
	missing := filepath.Join(dir, "missing")
	kc := []string{"--kubeconfig", env.Kubeconfig}

	for _, tc := range []struct {
		name    string
		flags   []string // for both
		kubectl []string
		stdin   string // kubectl's
		code    string // k8sh -c
		// want is what k8sh's stderr must also hold (beside kubectl's words).
		want string
	}{
		{name: "object not found", flags: append(kc, "-n", ns),
			kubectl: []string{"get", "pod", "nope"}, code: `k8s.get("pod", "nope")`,
			want: `-c:1:8: k8s.get: pods "nope" not found in namespace "` + ns + `" (NotFound)` + "\n"},
		{name: "namespace not found", flags: append(kc, "-n", "no-such-ns-k8sh"),
			kubectl: []string{"get", "pod", "nope"}, code: `k8s.get("pod", "nope")`,
			want: `-c:1:8: k8s.get: namespaces "no-such-ns-k8sh" not found (NotFound)` + "\n"},
		{name: "list in a namespace not found", flags: append(kc, "-n", "no-such-ns-k8sh"),
			kubectl: []string{"get", "pods"}, code: `k8s.list("pods")`},
		{name: "already exists", flags: kc,
			kubectl: []string{"create", "-f", "-"}, stdin: cm("there"), code: `k8s.create(` + cm("there") + `)`,
			want: `-c:1:11: k8s.create: configmap/there: configmaps "there" already exists (AlreadyExists)` + "\n"},
		{name: "forbidden", flags: append(kc, "--context", "sandbox-viewer"),
			kubectl: []string{"create", "-f", "-"}, stdin: cm("viewer"), code: `k8s.create(` + cm("viewer") + `)`,
			want: `(Forbidden)` + "\n"},
		{name: "invalid", flags: kc,
			kubectl: []string{"create", "-f", "-"}, stdin: cm("Bad_Name"), code: `k8s.create(` + cm("Bad_Name") + `)`,
			want: `(Invalid)` + "\n"},
		{name: "untrusted certificate", flags: []string{"--kubeconfig", os.DevNull, "--server", server, "--token", "t"},
			kubectl: []string{"get", "pods"}, code: `k8s.get("pods")`,
			want: "-c:1:8: k8s.get: unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority\n"},
		{name: "connection refused", flags: []string{"--kubeconfig", os.DevNull, "--server", refused, "--token", "t"},
			kubectl: []string{"get", "pods"}, code: `k8s.get("pods")`},
		{name: "kubeconfig missing", flags: []string{"--kubeconfig", missing},
			kubectl: []string{"get", "pods"}, code: `k8s.get("pods")`},
		{name: "unknown context", flags: append(kc, "--context", "nope"),
			kubectl: []string{"get", "pods"}, code: `k8s.get("pods")`,
			want: "-c:1:8: k8s.get: error in configuration: context was not found for specified context: nope\n"},
		{name: "malformed kubeconfig", flags: []string{"--kubeconfig", bad},
			kubectl: []string{"get", "pods"}, code: `k8s.get("pods")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// kubectl's own flags: --kubeconfig given here wins over the runner's.
			kout, kerr, kexit := kubectl(t, tc.stdin, append(tc.flags, tc.kubectl...)...)
			kcode := kubectlStatus(t, kexit)
			r := k8sh(t, "", nil, append(tc.flags, "-c", tc.code)...)
			if r.Code != kcode {
				t.Fatalf("exit status %d, kubectl's %d\nk8sh stderr %q\nkubectl stdout %q stderr %q", r.Code, kcode, r.Stderr, kout, kerr)
			}
			if kcode == 0 {
				if r.Stderr != "" {
					t.Errorf("k8sh stderr %q, want none (kubectl: %q)", r.Stderr, kerr)
				}
				return
			}
			for _, part := range kubectlSays(kerr) {
				if !holds(r.Stderr, part) {
					t.Errorf("k8sh stderr %q does not hold kubectl's %q (kubectl said %q)", r.Stderr, part, kerr)
				}
			}
			if strings.Count(r.Stderr, "\n") != 1 || !strings.HasPrefix(r.Stderr, "-c:1:") {
				t.Errorf("k8sh stderr %q, want one line with the position and the builtin", r.Stderr)
			}
			if !strings.HasSuffix(r.Stderr, tc.want) {
				t.Errorf("k8sh stderr %q, want %q", r.Stderr, tc.want)
			}
		})
	}
}

// TestBulkUnreachableOnce: a call on many objects with no server to reach
// says so once, with the number of objects, and exits 1 as kubectl does.
func TestBulkUnreachableOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	flags := []string{"--kubeconfig", os.DevNull, "--server", "https://" + addr, "--token", "t"}
	refused := "the connection to the server " + addr + " was refused - did you specify the right host or port?\n"
	var docs []string
	for _, n := range []string{"a", "b", "c"} {
		docs = append(docs, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+n+", namespace: default}\n")
	}
	manifest := filepath.Join(t.TempDir(), "three.yaml")
	os.WriteFile(manifest, []byte(strings.Join(docs, "---\n")), 0o644)
	r := k8sh(t, "", nil, append(flags, "-c", `k8s.apply(file.read("`+manifest+`"))`)...)
	if want := "-c:1:10: k8s.apply: 3 objects: " + refused; r.Code != 1 || r.Stderr != want {
		t.Errorf("three ConfigMaps: got code %d stderr %q; want 1 %q", r.Code, r.Stderr, want)
	}

	// ingress-nginx's 19 objects, when ../shared holds the manifest.
	root, err := kubetest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	nginx := filepath.Join(root, "..", "shared", "manifests", "ingress-nginx-cloud-deploy.yaml")
	if _, err := os.Stat(nginx); err != nil {
		t.Skipf("no ingress-nginx manifest: %v", err)
	}
	r = k8sh(t, "", nil, append(flags, "-c", `k8s.apply(file.read("`+nginx+`"))`)...)
	if want := "-c:1:10: k8s.apply: 19 objects: " + refused; r.Code != 1 || r.Stderr != want {
		t.Errorf("ingress-nginx: got code %d stderr %q; want 1 %q", r.Code, r.Stderr, want)
	}
}

// TestREPLWarningsE2E: in the REPL the server's warnings reach the same
// terminal, once per session, with "Warning:" in kubectl's colour when
// colour is allowed.
func TestREPLWarningsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "TERM=xterm"},
		"--kubeconfig", env.Kubeconfig, "-n", env.Namespace)
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)
	tm.send("n = len(k8s.list('endpoints'))\r")
	at = tm.expect(at, prompt)
	tm.send("print('same', n == len(k8s.list('endpoints')))\r")
	tm.expect(at, "same True")
	warning := "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n"
	if n := strings.Count(tm.screen(), warning); n != 1 {
		t.Errorf("the warning shows %d times, want once; the screen:\n%s", n, tm.screen())
	}
	if _, noColor := os.LookupEnv("NO_COLOR"); !noColor {
		// client-go's warning writer, as kubectl uses it on a terminal.
		if colored := "\x1b[33;1mWarning:\x1b[0m v1 Endpoints"; !strings.Contains(tm.rawScreen(), colored) {
			t.Errorf("the warning is not coloured as kubectl colours it: %q", tm.rawScreen())
		}
	}
}
