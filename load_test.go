package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir, lib := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.star":       "load('sub/a.star', 'a')\nload('shared.star', 'greet')\nload('sub/b.star', 'b')\nprint(a, greet('x'), b)\n",
		"sub/a.star":      "print('loading a')\na = 'A'\n",
		"sub/b.star":      "load('a.star', 'a')\nb = a + 'B'\n", // relative to sub/, and a.star runs once
		"cycle1.star":     "load('cycle2.star', 'y')\nx = 1\n",
		"cycle2.star":     "load('cycle1.star', 'x')\ny = 1\n",
		"usecycle.star":   "load('cycle1.star', 'x')\n",
		"missing.star":    "load('nope.star', 'n')\n",
		"usesession.star": "load('sub/argv.star', 'args')\nprint(args)\n",
		"sub/argv.star":   "args = sys.argv[1:]\n",
	})
	writeFiles(t, lib, map[string]string{"shared.star": "def greet(n):\n    return 'hi ' + n\n"})
	env := []string{"K8SH_PATH=" + lib}

	r := k8sh(t, "", env, filepath.Join(dir, "main.star"))
	if r.Code != 0 || r.Stdout != "loading a\nA hi x AB\n" {
		t.Errorf("load: %+v", r)
	}
	r = k8sh(t, "", env, filepath.Join(dir, "usecycle.star"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "load cycle: "+filepath.Join(dir, "cycle1.star")+" -> "+filepath.Join(dir, "cycle2.star")+" -> "+filepath.Join(dir, "cycle1.star")) {
		t.Errorf("cycle: %+v", r)
	}
	r = k8sh(t, "", nil, filepath.Join(dir, "missing.star"))
	if r.Code != 1 || !strings.Contains(r.Stderr, `cannot find "nope.star"`) {
		t.Errorf("missing: %+v", r)
	}
	// A loaded module shares the run's session: sys.argv and the cluster.
	r = k8sh(t, "", nil, filepath.Join(dir, "usesession.star"), "p", "q")
	if r.Code != 0 || r.Stdout != "[\"p\", \"q\"]\n" {
		t.Errorf("session in a loaded module: %+v", r)
	}
	// -c loads relative to the working directory.
	wd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(wd)
	if r := k8sh(t, "", nil, "-c", "load('sub/a.star', 'a')\nprint(a)"); r.Code != 0 || r.Stdout != "loading a\nA\n" {
		t.Errorf("-c load: %+v", r)
	}
}

func TestTimeoutAndMaxSteps(t *testing.T) {
	r := k8sh(t, "", nil, "--timeout", "300ms", "-c", "while True:\n    pass")
	if r.Code != 1 || r.Stderr != "k8sh: timed out after 300ms (--timeout)\n" {
		t.Errorf("--timeout: %+v", r)
	}
	r = k8sh(t, "", nil, "--max-steps", "1000", "-c", "while True:\n    pass")
	if r.Code != 1 || !strings.Contains(r.Stderr, "too many steps") {
		t.Errorf("--max-steps: %+v", r)
	}
	if r := k8sh(t, "", nil, "--max-steps", "100000", "-c", "print(len([i for i in range(100)]))"); r.Code != 0 || r.Stdout != "100\n" {
		t.Errorf("--max-steps within budget: %+v", r)
	}
}

// TestMaxStepsEachCallE2E: --max-steps bounds a module's load, and each
// call of a k8s.on handler on its own thread: a handler stuck in a loop
// fails (counted, its error printed) and the run goes on to its end.
func TestMaxStepsEachCallE2E(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spin.star"), []byte("def spin():\n    for i in range(1 << 40):\n        pass\nspin()\n"), 0o644)
	r := k8sh(t, "", nil, "--max-steps", "100000", "-c", "load('"+filepath.Join(dir, "spin.star")+"', 'spin')")
	if r.Code != 1 || !strings.Contains(r.Stderr, "too many steps") {
		t.Errorf("a module's load: %+v", r)
	}

	env := kubetest.Sandbox(t)
	script := `
def spin(ev):
    for i in range(1 << 40):
        pass
def count(ev):
    seen.append(ev.object.metadata.name)
    if len(seen) == 2:
        k8s.stop()
seen = []
h = k8s.on("cm", spin, events="ADDED", initial=True)
k8s.on("cm", count, events="ADDED", initial=True, selector={"k": "v"})
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "labels": {"k": "v"}}})
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two", "labels": {"k": "v"}}})
k8s.run(timeout="60s")
print(sorted(seen), h.errors >= 1, "too many steps" in h.last_error)
`
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "--max-steps", "100000", "-c", script)
	if r.Code != 0 || r.Stdout != "[\"one\", \"two\"] True True\n" || !strings.Contains(r.Stderr, "too many steps") {
		t.Errorf("a handler stuck in a loop: %+v", r)
	}
}
