package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// configHome writes a k8sh config.yaml and returns XDG_CONFIG_HOME for it.
func configHome(t *testing.T, config string) string {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "k8sh"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "k8sh", "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return "XDG_CONFIG_HOME=" + dir
}

// cmApply is a script that applies ConfigMap ns/name; cmApplyStmt is its
// one statement, for the REPL.
func cmApply(name, ns string) string {
	return cmApplyStmt(name, ns) + "\nprint(\"applied\")"
}

func cmApplyStmt(name, ns string) string {
	return `x = k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "` + name + `", "namespace": "` + ns + `"}, "data": {"a": "b"}})`
}

func cmExists(t *testing.T, env *kubetest.Env, name string) bool {
	t.Helper()
	_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestProtectedContextE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	cfg := configHome(t, "protected: [\"sand*\"]\n")

	// A script's change in a protected context fails, naming the context
	// and the change, and sends nothing.
	r := k8sh(t, "", []string{cfg, "K8SH_YES="}, "--kubeconfig", env.Kubeconfig, "-c", cmApply("guarded", env.Namespace))
	if r.Code != 1 || !strings.Contains(r.Stderr, `k8s.apply: context "sandbox" is protected: refusing to apply configmap/guarded`) ||
		!strings.Contains(r.Stderr, "without --yes (or K8SH_YES=1)") {
		t.Fatalf("protected without --yes: %+v", r)
	}
	if cmExists(t, env, "guarded") {
		t.Fatal("the change went through")
	}
	// Reads are not guarded.
	if r := k8sh(t, "", []string{cfg}, "--kubeconfig", env.Kubeconfig, "-c", `print(len(k8s.list("ns")) > 0)`); r.Code != 0 {
		t.Fatalf("a read in a protected context: %+v", r)
	}
	// --yes, and K8SH_YES=1, let it through.
	if r := k8sh(t, "", []string{cfg}, "--kubeconfig", env.Kubeconfig, "--yes", "-c", cmApply("guarded", env.Namespace)); r.Code != 0 || r.Stdout != "applied\n" {
		t.Fatalf("--yes: %+v", r)
	}
	if r := k8sh(t, "", []string{cfg, "K8SH_YES=1"}, "--kubeconfig", env.Kubeconfig, "-c", cmApply("guarded2", env.Namespace)); r.Code != 0 {
		t.Fatalf("K8SH_YES=1: %+v", r)
	}
	if !cmExists(t, env, "guarded") || !cmExists(t, env, "guarded2") {
		t.Fatal("the confirmed changes are missing")
	}
	// context= to a protected context is guarded too, from an unprotected one.
	cfg2 := configHome(t, "contexts:\n  sandbox-viewer: {protected: true}\n")
	r = k8sh(t, "", []string{cfg2}, "--kubeconfig", env.Kubeconfig, "-c",
		`k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v", "namespace": "`+env.Namespace+`"}}, context="sandbox-viewer")`)
	if r.Code != 1 || !strings.Contains(r.Stderr, `context "sandbox-viewer" is protected`) {
		t.Fatalf("context= to a protected context: %+v", r)
	}
	// A bad config is a usage error that names the file.
	bad := configHome(t, "protectd: [x]\n")
	if r := k8sh(t, "", []string{bad}, "-c", "print(1)"); r.Code != 2 || !strings.Contains(r.Stderr, "config.yaml") {
		t.Fatalf("bad config: %+v", r)
	}
}

func TestReadOnlyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	name := "ro-" + strings.ReplaceAll(env.Namespace, "t-", "")
	cfg := configHome(t, "")
	r := k8sh(t, "", []string{cfg}, "--kubeconfig", env.Kubeconfig, "--read-only", "-c", cmApply(name, env.Namespace))
	if r.Code != 1 || !strings.Contains(r.Stderr, `k8s.apply: context "sandbox" is read-only (--read-only): refusing to apply configmap/`+name) {
		t.Fatalf("--read-only: %+v", r)
	}
	// read_only in the config, by pattern
	cfgRO := configHome(t, "read_only: [\"sandbox\"]\n")
	r = k8sh(t, "", []string{cfgRO}, "--kubeconfig", env.Kubeconfig, "-c", cmApply(name, env.Namespace))
	if r.Code != 1 || !strings.Contains(r.Stderr, `is read-only (read_only in the k8sh config)`) {
		t.Fatalf("read_only config: %+v", r)
	}
	if cmExists(t, env, name) {
		t.Fatal("the object exists: a read-only change went through")
	}
	// The server saw no request about it: its audit log (written by the
	// sandbox's apiserver) never names the object.
	audit := filepath.Join(filepath.Dir(env.Kubeconfig), "logs", "audit.log")
	if _, err := os.Stat(audit); err != nil {
		t.Skipf("no audit log of the sandbox at %s: %v", audit, err)
	}
	// Make a request that is audited, then look: the log is written as
	// requests complete, so ours is there once the marker is.
	marker := "marker-" + name
	if _, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Get(context.Background(), marker, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("marker get: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(audit)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), marker) {
			for _, line := range strings.Split(string(data), "\n") {
				// The test's own reads (cmExists) say "k8sh.test"; k8sh's
				// would say "k8sh/".
				if strings.Contains(line, `"name":"`+name+`"`) && !strings.Contains(line, `"userAgent":"k8sh.test/`) {
					t.Fatalf("the audit log shows a request about the object that --read-only refused:\n%s", line)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the audit log never showed the marker request")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestREPLAnnouncesAndConfirmsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	cfg := configHome(t, "protected: [\"sandbox\"]\n")
	tm := startREPL(t, []string{cfg, "XDG_STATE_HOME=" + t.TempDir(), "K8SH_YES="},
		"--kubeconfig", env.Kubeconfig, "-n", env.Namespace)
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)
	// The prompt of a protected context is red.
	if raw := tm.rawScreen(); !strings.Contains(raw, "\x1b[31") {
		t.Errorf("the protected context's prompt is not red: %q", raw)
	}
	// A change asks for the context's name; a wrong answer changes nothing.
	tm.send(cmApplyStmt("asked", env.Namespace) + "\r")
	at = tm.expect(at, `context "sandbox" is protected. To apply configmap/asked`)
	tm.send("nope\r")
	at = tm.expect(at, `k8s.apply: not confirmed: nothing was changed in context "sandbox"`)
	if cmExists(t, env, "asked") {
		t.Fatal("an unconfirmed change went through")
	}
	// The right answer lets it through, and the change is announced.
	tm.send(cmApplyStmt("asked", env.Namespace) + "\r")
	at = tm.expect(at, `type the context's name: `)
	tm.send("sandbox\r")
	at = tm.expect(at, "configmap/asked serverside-applied\n")
	if !cmExists(t, env, "asked") {
		t.Fatal("the confirmed change is missing")
	}
	// A delete names the namespace it went to, as kubectl's does.
	tm.send(`k8s.delete("cm", "asked")` + "\r")
	at = tm.expect(at, `type the context's name: `)
	tm.send("sandbox\r")
	at = tm.expect(at, `configmap "asked" deleted from `+env.Namespace+" namespace\n")
	if cmExists(t, env, "asked") {
		t.Fatal("the confirmed delete left the object")
	}
	// Switching to an unprotected context: no question, still announced.
	tm.send(`ctx.use("sandbox-viewer", namespace="` + env.Namespace + `")` + "\r")
	at = tm.expect(at, "k8sh sandbox-viewer:"+env.Namespace+"> ")
	tm.send(cmApplyStmt("viewer", env.Namespace) + "\r")
	tm.expect(at, `k8s.apply: configmap/viewer: configmaps "viewer" is forbidden: User "viewer" cannot patch resource "configmaps"`)
}
