// Package scripts holds k8sh's example scripts, each beside the end-to-end
// test that runs it on the sandbox as a user would: k8sh built once, run
// in this directory.
package scripts

import (
	"strings"
	"testing"

	"github.com/k8sh/k8sh/internal/clitest"
)

// k8shBin is k8sh built once for the tests of this package.
var k8shBin string

func TestMain(m *testing.M) { clitest.Main(m, &k8shBin) }

type result struct {
	stdout, stderr string
	code           int
}

// k8sh runs the built binary with stdin and args, as a user in a shell would.
func k8sh(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	stdout, stderr, code := clitest.Run(t, k8shBin, stdin, env, args...)
	return result{stdout, stderr, code}
}

// k8shStatus runs k8sh with args and fails t unless it exits with code.
func k8shStatus(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := k8sh(t, "", nil, args...)
	if r.code != code {
		t.Fatalf("k8sh %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}
