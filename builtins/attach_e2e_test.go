package builtins

import (
	"errors"
	"io"
	"testing"
)

// noTerminal is a Terminal that must not be used: the calls that reach it
// are refused or dry runs.
type noTerminal struct{}

func (noTerminal) Raw(func(io.Reader, io.Writer, func() (uint16, uint16, bool)) error) error {
	return errors.New("the terminal was used")
}

// TestAttachSafetyE2E: k8s.attach reads without being a change, but with
// stdin it is one (refused under --read-only, said and not done under
// --dry-run); under --sandbox it needs --allow-exec; tty=True needs a
// terminal. kwok's attach takes stdin and drops it, so what reaches the
// process cannot be checked on the sandbox: only that the attach runs.
func TestAttachSafetyE2E(t *testing.T) {
	env := x18Env(t)
	execStar(t, env, nil, execPods+`
pods(["at1"], containers=["a", "b"])
assert.eq(k8s.attach("at1", timeout="1s"), None)
assert.eq(k8s.attach("at1", stdin="hello\n", container="b", timeout=1), None)
assert.fails(lambda: k8s.attach("at1", container="c"), "k8s.attach: container c is not valid for pod at1 out of: a, b")
assert.fails(lambda: k8s.attach("at1", tty=True), "k8s.attach: tty=True needs a terminal")
assert.fails(lambda: k8s.attach("at1", stdin=3), "for parameter stdin: got int, want str or bytes")
assert.fails(lambda: k8s.shell("at1"), "k8s.shell: needs a terminal")
`)
	execStar(t, env, func(s *Session) { s.ReadOnly = true }, `
assert.eq(k8s.attach("at1", timeout="1s"), None)
assert.fails(lambda: k8s.attach("at1", stdin="x"), r'context "sandbox" is read-only \(--read-only\): refusing to attach with stdin in pod/at1')
`)
	stderr := execStar(t, env, func(s *Session) { s.DryRun = true }, `
assert.eq(k8s.attach("at1", stdin="x", timeout="1s"), None)
`)
	if want := "attach with stdin in sandbox/" + env.Namespace + " pod/at1 (dry run: not run)\n"; stderr != want {
		t.Errorf("dry run said %q, want %q", stderr, want)
	}
	execStar(t, env, func(s *Session) { s.Sys.Sandbox = true }, `
assert.fails(lambda: k8s.attach("at1", timeout="1s"), r"k8s.attach: running commands in pods is not allowed with --sandbox \(add --allow-exec to allow it\)")
`)

	// k8s.shell: the same policy as k8s.exec.
	execStar(t, env, func(s *Session) { s.ReadOnly, s.Terminal = true, noTerminal{} }, `
assert.fails(lambda: k8s.shell("at1"), r'k8s.shell: context "sandbox" is read-only \(--read-only\): refusing to exec in pod/at1')
`)
	execStar(t, env, func(s *Session) { s.Sys.Sandbox, s.Terminal = true, noTerminal{} }, `
assert.fails(lambda: k8s.shell("at1"), r"k8s.shell: running commands in pods is not allowed with --sandbox")
`)
	stderr = execStar(t, env, func(s *Session) { s.DryRun, s.Terminal = true, noTerminal{} }, `
assert.eq(k8s.shell("at1", "bash -l"), 0)
`)
	if want := "exec in sandbox/" + env.Namespace + " pod/at1: bash -l (dry run: not run)\n"; stderr != want {
		t.Errorf("dry run said %q, want %q", stderr, want)
	}
}
