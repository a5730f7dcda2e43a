package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestBundleScript(t *testing.T) {
	dir := t.TempDir()
	path := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"check_pods.star":   "load('lib/util.star', 'count')\nload('shared.star', 's')\nif True:\n    print(count([]))\n",
		"lib/util.star":     "load('more.star', 'x')\ndef count(l):\n    return len(l) + x\n",
		"lib/more.star":     "x = 0\n",
		"lib/unloaded.star": "not loaded\n",
	})
	writeFiles(t, path, map[string]string{
		"shared.star":     "load('inner/deep.star', 'd')\ns = d\n",
		"inner/deep.star": "d = 1\n",
	})
	t.Setenv("K8SH_PATH", path)
	files, env, err := bundleScript(filepath.Join(dir, "check_pods.star"), "check-pods")
	if err != nil {
		t.Fatal(err)
	}
	type kp struct{ Key, Path string }
	var got []kp
	for _, f := range files {
		got = append(got, kp{f.Key, f.Path})
	}
	want := []kp{
		{"k8sh-path_inner_deep.star", ".k8sh-path/inner/deep.star"},
		{"k8sh-path_shared.star", ".k8sh-path/shared.star"},
		{"check-pods.star", "check-pods.star"},
		{"lib_more.star", "lib/more.star"},
		{"lib_util.star", "lib/util.star"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if want := []corev1.EnvVar{{Name: "K8SH_PATH", Value: "/scripts/.k8sh-path"}}; !cmp.Equal(env, want) {
		t.Errorf("env = %v; want %v", env, want)
	}
	for _, f := range files {
		if f.Path == "check-pods.star" && !strings.HasPrefix(string(f.Src), "load('lib/util.star'") {
			t.Errorf("the script's text: %q", f.Src)
		}
	}
}

func TestBundleScriptErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"up.star":        "load('../outside.star', 'x')\n",
		"outside.star":   "x = 1\n",
		"abs.star":       "load('/etc/x.star', 'x')\n",
		"missing.star":   "load('nope.star', 'x')\n",
		"bad.star":       "x = = 1\n",
		"sub/main.star":  "load('../outside.star', 'x')\n",
		"sub/other.star": "load('../sub/ok.star', 'y')\n",
		"sub/ok.star":    "y = 1\n",
	})
	t.Setenv("K8SH_PATH", "")
	for _, tc := range []struct{ script, err string }{
		{"abs.star", `abs.star:1:1: load("/etc/x.star"): a module named by an absolute path has no place in the pod`},
		{"missing.star", `missing.star:1:1: load("nope.star"): cannot find the module`},
		{"bad.star", "bad.star:1:5: got '=', want primary expression"},
		{"sub/main.star", `sub/main.star:1:1: load("../outside.star"): ` + filepath.Join(dir, "outside.star") + " is outside the script's directory " + filepath.Join(dir, "sub")},
	} {
		_, _, err := bundleScript(filepath.Join(dir, tc.script), "x")
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("bundleScript(%s) = %v; want %q", tc.script, err, tc.err)
		}
	}
	// In the pod, ../sub/ok.star from /scripts/x.star is /sub/ok.star: not
	// there.
	if _, _, err := bundleScript(filepath.Join(dir, "sub/other.star"), "x"); err == nil || !strings.Contains(err.Error(), "is outside the script's directory") {
		t.Errorf("sub/other.star: %v", err)
	}
}

func TestScriptName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"check.star":             "check",
		"dir/Check_Pods.star":    "check-pods",
		"_x.y.star":              "x-y",
		strings.Repeat("a", 70):  strings.Repeat("a", 63),
		"nightly-report.v2.star": "nightly-report-v2",
	} {
		if got := scriptName(in); got != want {
			t.Errorf("scriptName(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestJobWithoutCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"check.star": "print(1)\n",
		"rules.yaml": "- apiGroups: ['']\n  resources: [pods]\n",
	})
	// A kubeconfig of two contexts on a port where nothing listens: the
	// safety policy refuses before any request.
	writeFiles(t, dir, map[string]string{
		"kubeconfig": `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: audit-1, context: {cluster: c, user: u}}, {name: prod-eu, context: {cluster: c, user: u}}]
current-context: audit-1
`,
		"k8sh/config.yaml": "protected: [\"prod-*\"]\nread_only: [\"audit-*\"]\n",
	})
	kc := filepath.Join(dir, "kubeconfig")
	policyEnv := []string{"XDG_CONFIG_HOME=" + dir, "K8SH_YES="}
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--kubeconfig", kc, "job", filepath.Join(dir, "check.star")}, `k8sh job: context "audit-1" is read-only (read_only in the k8sh config): refusing to create the objects (--dry-run prints them)` + "\n"},
		{[]string{"--kubeconfig", kc, "--context", "prod-eu", "job", filepath.Join(dir, "check.star")}, `k8sh job: context "prod-eu" is protected: refusing to create the objects without --yes (or K8SH_YES=1)` + "\n"},
	} {
		r := k8sh(t, "", policyEnv, tc.args...)
		if r.Code != 1 || r.Stderr != tc.stderr || r.Stdout != "" {
			t.Errorf("k8sh %q: got %d %q %q; want 1 %q", tc.args, r.Code, r.Stdout, r.Stderr, tc.stderr)
		}
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"job"}, 2, "k8sh: requires at least 1 arg(s), only received 0\nRun 'k8sh --help' for usage.\n"},
		{[]string{"job", filepath.Join(dir, "nope.star"), "--rules", filepath.Join(dir, "rules.yaml")}, 2, "k8sh job: open " + filepath.Join(dir, "nope.star") + ": no such file or directory\n"},
		{[]string{"job", filepath.Join(dir, "check.star"), "--name", "Bad_Name"}, 2, `k8sh job: "Bad_Name" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?') (give one with --name)` + "\n"},
		{[]string{"job", filepath.Join(dir, "check.star"), "--rules", filepath.Join(dir, "rules.yaml"), "--dry-run"}, 2, "k8sh job: --rules " + filepath.Join(dir, "rules.yaml") + ": namespace default rule 1: it names no verbs\n"},
	} {
		r := k8sh(t, "", nil, append([]string{"--kubeconfig", os.DevNull}, tc.args...)...)
		if r.Code != tc.code || r.Stderr != tc.stderr {
			t.Errorf("k8sh %q: got %d %q; want %d %q", tc.args, r.Code, r.Stderr, tc.code, tc.stderr)
		}
	}
}
