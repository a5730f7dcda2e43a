package scripts

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStarTests runs the *_test.star files of this directory, the tests of
// each example script on a fake cluster, with `k8sh test`, as `make
// test-unit` does: no cluster is needed, so it runs with -short too. It
// fails with k8sh test's output when a test fails, and when a script has
// no test file beside it.
func TestStarTests(t *testing.T) {
	scripts, err := filepath.Glob("*.star")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, s := range scripts {
		if strings.HasSuffix(s, "_test.star") {
			files = append(files, s)
			continue
		}
		if _, err := os.Stat(strings.TrimSuffix(s, ".star") + "_test.star"); err != nil {
			t.Errorf("%s has no tests: want %s_test.star beside it", s, strings.TrimSuffix(s, ".star"))
		}
	}
	// No kubeconfig and a config directory of its own: the tests use
	// k8s.fake only, and no user's policy applies.
	env := []string{"KUBECONFIG=" + filepath.Join(t.TempDir(), "none"), "XDG_CONFIG_HOME=" + t.TempDir(), "NO_COLOR=1", "K8SH_PATH="}
	r := k8sh(t, "", env, "test", ".")
	if r.Code != 0 {
		t.Fatalf("k8sh test .: exit status %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, f := range files {
		if !regexp.MustCompile(`(?m)^ok  \t` + regexp.QuoteMeta(f) + `\t`).MatchString(r.Stdout) {
			t.Errorf("k8sh test .: no ok line for %s in:\n%s", f, r.Stdout)
		}
	}
	if m := regexp.MustCompile(`(?m)^(\d+) passed, 0 failed$`).FindStringSubmatch(r.Stdout); m == nil || m[1] == "0" {
		t.Errorf("k8sh test .: want N passed, 0 failed, got:\n%s", r.Stdout)
	}
	t.Logf("k8sh test .:\n%s", r.Stdout)
}
