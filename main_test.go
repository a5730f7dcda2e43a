package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/internal/initgc"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestMain gives the collector back first: this test binary holds package
// main, so internal/initgc turned it off during init, and only main() (which
// tests do not call) would restore it.
func TestMain(m *testing.M) {
	initgc.Restore()
	clitest.Main(m)
}

// k8sh runs k8sh, built once for the tests that run it as a user would.
var k8sh = clitest.K8sh

type result = clitest.Result

func TestRunWithoutCluster(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "code", args: []string{"-c", "print(sys.argv)", "a", "b"}, stdout: "[\"-c\", \"a\", \"b\"]\n"},
		{name: "stdin", stdin: "print(sys.argv[1:])\n", args: []string{"-", "x"}, stdout: "[\"x\"]\n"},
		{name: "stdin without dash", stdin: "print(1 + 1)\n", stdout: "2\n"},
		{name: "fail", args: []string{"-c", "fail('boom')"}, code: 1, stderr: "-c:1:5: fail: boom\n"},
		{name: "syntax", args: []string{"-c", "x = = 1"}, code: 1, stderr: "-c:1:5: got '=', want primary expression\n"},
		{name: "exit", args: []string{"-c", "sys.exit(7)"}, code: 7},
		{name: "unknown flag", args: []string{"--bogus"}, code: 2, stderr: "k8sh: unknown flag: --bogus\nRun 'k8sh --help' for usage.\n"},
		{name: "missing script", args: []string{"nope.star"}, code: 2, stderr: "k8sh: open nope.star: no such file or directory\n"},
		{name: "backtrace", args: []string{"-c", "def f():\n  fail('deep')\nf()"}, code: 1,
			stderr: "-c:2:7: fail: deep\nTraceback (most recent call last):\n  -c:3:2: in <toplevel>\n  -c:2:7: in f\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := k8sh(t, tc.stdin, nil, tc.args...)
			if r.Code != tc.code || r.Stdout != tc.stdout || r.Stderr != tc.stderr {
				t.Errorf("k8sh %q: got code %d stdout %q stderr %q; want %d %q %q",
					tc.args, r.Code, r.Stdout, r.Stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := k8sh(t, "", nil, "--kubeconfig", os.DevNull, "--server", "https://"+addr, "-c", `k8s.get("pods", namespace="x")`)
	want := "-c:1:8: k8s.get: the connection to the server " + addr + " was refused - did you specify the right host or port?\n"
	if r.Code != 1 || r.Stderr != want {
		t.Errorf("got code %d stderr %q; want 1 %q", r.Code, r.Stderr, want)
	}
}

func TestScriptFileWithArgs(t *testing.T) {
	script := filepath.Join(t.TempDir(), "args.star")
	os.WriteFile(script, []byte("print(len(sys.argv), sys.argv[1], sys.argv[2])\n"), 0o644)
	r := k8sh(t, "", nil, script, "one", "--two")
	if r.Code != 0 || r.Stdout != "3 one --two\n" {
		t.Fatalf("got %+v", r)
	}
}

func TestGetNamespacesEverywayE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	code := `print(len(k8s.get("namespaces")))`
	script := filepath.Join(t.TempDir(), "count.star")
	os.WriteFile(script, []byte(`print(len(k8s.get("namespaces")), sys.argv[1:])`), 0o644)
	for name, r := range map[string]result{
		"-c":     k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", code),
		"stdin":  k8sh(t, code, nil, "--kubeconfig", env.Kubeconfig, "-"),
		"script": k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, script, "a1", "a2"),
	} {
		if r.Code != 0 {
			t.Fatalf("%s: exit %d: %s", name, r.Code, r.Stderr)
		}
		fields := strings.Fields(r.Stdout)
		n, err := strconv.Atoi(fields[0])
		if err != nil || n < 4 {
			t.Errorf("%s: got %q, want a number >= 4", name, r.Stdout)
		}
		if name == "script" && !strings.HasSuffix(strings.TrimSpace(r.Stdout), `["a1", "a2"]`) {
			t.Errorf("script args: got %q", r.Stdout)
		}
	}
}

func TestKubeconfigFlagsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Labels: map[string]string{"app": "k8sh"}},
		Data:       map[string]string{"answer": "42"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	get := `print(k8s.get("cm", "cfg").data.answer)`

	// -n selects the namespace
	if r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "-c", get); r.Code != 0 || r.Stdout != "42\n" {
		t.Errorf("-n: %+v", r)
	}
	// KUBECONFIG with several files, merged: the first file sets the context
	// (and its namespace), the second holds the clusters and users.
	first := filepath.Join(t.TempDir(), "first")
	os.WriteFile(first, []byte(`apiVersion: v1
kind: Config
current-context: mine
contexts:
- name: mine
  context: {cluster: sandbox, user: sandbox-admin, namespace: `+env.Namespace+`}
`), 0o600)
	kc := first + string(os.PathListSeparator) + env.Kubeconfig
	if r := k8sh(t, "", []string{"KUBECONFIG=" + kc}, "-c", get); r.Code != 0 || r.Stdout != "42\n" {
		t.Errorf("merged KUBECONFIG: %+v", r)
	}
	// --context picks the viewer, who may read
	if r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "--context", "sandbox-viewer", "-n", env.Namespace, "-c", get); r.Code != 0 || r.Stdout != "42\n" {
		t.Errorf("--context sandbox-viewer: %+v", r)
	}
	// selector as a dict, and the list form
	sel := `print([c.metadata.name for c in k8s.get("configmaps", selector={"app": "k8sh"})])`
	if r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "-c", sel); r.Code != 0 || r.Stdout != "[\"cfg\"]\n" {
		t.Errorf("selector: %+v", r)
	}
}

func TestGetMissingPodE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "-c", `k8s.get("pods", "nope")`)
	want := `-c:1:8: k8s.get: pods "nope" not found in namespace "` + env.Namespace + `" (NotFound)` + "\n"
	if r.Code != 1 || r.Stderr != want {
		t.Errorf("got code %d stderr %q; want 1 %q", r.Code, r.Stderr, want)
	}
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "-c", `print(k8s.get("pod/nope", default="absent"))`)
	if r.Code != 0 || r.Stdout != "absent\n" {
		t.Errorf("default=: %+v", r)
	}
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", `k8s.get("deploymnets")`)
	if r.Code != 1 || !strings.Contains(r.Stderr, `k8s.get: the server doesn't have a resource type "deploymnets" (did you mean "deployments"`) {
		t.Errorf("unknown kind: %+v", r)
	}
	// A group-qualified kind the server lacks: kubectl's words, after
	// its "error: ".
	_, kerr, kcode := env.Kubectl(t).Run("", "get", "widgets.example.com")
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", `k8s.get("widgets.example.com")`)
	if kcode != 1 || r.Code != 1 || r.Stderr != "-c:1:8: k8s.get: "+strings.TrimPrefix(kerr, "error: ") {
		t.Errorf("unknown kind in a group: k8sh %+v; kubectl %q", r, kerr)
	}
}

func TestDeploymentPodRunsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	labels := map[string]string{"app": "web"}
	_, err := env.Clientset.AppsV1().Deployments(env.Namespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Read it back through k8sh until its Pod runs on a kwok node (the
	// sandbox has two).
	code := `
pods = k8s.get("pods", selector="app=web")
print(" ".join([p.status.get("phase", "") + "@" + p.spec.get("nodeName", "") for p in pods]))`
	var last result
	for ctx.Err() == nil {
		last = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "-c", code)
		if out := strings.TrimSpace(last.Stdout); last.Code == 0 && (out == "Running@kwok-node-0" || out == "Running@kwok-node-1") {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the Deployment's Pod did not reach Running on a kwok node; last: %+v", last)
}

func TestContextArgumentE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	code := `
print(sorted([c for c in ["sandbox", "sandbox-viewer"] if k8s.exists("ns", "` + env.Namespace + `", context=c)]))
print(catch(k8s.list, "secrets", namespace="` + env.Namespace + `", context="sandbox-viewer").error)
print(len(k8s.list("secrets", namespace="` + env.Namespace + `")) >= 0)
k8s.get("ns", context="nope")`
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "-c", code)
	want := `["sandbox", "sandbox-viewer"]
k8s.list: secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "` + env.Namespace + `" (Forbidden)
True
`
	if r.Code != 1 || r.Stdout != want ||
		r.Stderr != "-c:5:8: k8s.get: no context \"nope\" in the kubeconfig; the contexts are: sandbox, sandbox-viewer\n" {
		t.Errorf("got %+v\nwant stdout %q", r, want)
	}
}
