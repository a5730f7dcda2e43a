// Package clitest runs k8sh as a user does, for the tests of the root
// package (the command line) and of scripts/ (the example scripts): it
// builds the binary once per test binary and runs it with the given
// standard input, environment and arguments.
package clitest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Bin is the k8sh that Main built.
var Bin string

// Main is the TestMain of a package whose tests run k8sh: it builds k8sh
// into a temporary directory (Bin), runs the tests and exits with their
// status.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "k8sh-test")
	if err != nil {
		panic(err)
	}
	Bin = filepath.Join(dir, "k8sh")
	// Runs that change a cluster keep a journal in $XDG_STATE_HOME: never
	// the user's (a test that reads it sets its own).
	os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	args := []string{"build", "-o", Bin}
	if raceBuild {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, "github.com/k8sh/k8sh")...).CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Result is what a run of k8sh printed and its exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// K8sh runs Bin with stdin and args, as a user in a shell would: its
// environment the test's with env added, in the test's working directory.
func K8sh(t testing.TB, stdin string, env []string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(Bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running k8sh: %v", err)
	}
	return Result{out.String(), errb.String(), code}
}
