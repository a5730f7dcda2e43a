// Package scripts holds k8sh's example scripts, each beside the end-to-end
// test that runs it on the sandbox as a user would: k8sh built once, run
// in this directory.
package scripts

import (
	"strings"
	"testing"

	"github.com/k8sh/k8sh/internal/clitest"
)

func TestMain(m *testing.M) { clitest.Main(m) }

// k8sh runs k8sh, built once for the tests of this package.
var k8sh = clitest.K8sh

type result = clitest.Result

// k8shStatus runs k8sh with args and fails t unless it exits with code.
func k8shStatus(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := k8sh(t, "", nil, args...)
	if r.Code != code {
		t.Fatalf("k8sh %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, code, r.Stdout, r.Stderr)
	}
	return r
}
