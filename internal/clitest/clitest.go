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

// Main is the TestMain of a package whose tests run k8sh: it builds k8sh
// into a temporary directory, sets *bin to its path, runs the tests and
// exits with their status.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "k8sh-test")
	if err != nil {
		panic(err)
	}
	*bin = filepath.Join(dir, "k8sh")
	if out, err := exec.Command("go", "build", "-o", *bin, "github.com/k8sh/k8sh").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Run runs bin with stdin and args, its environment the test's with env
// added, in the test's working directory, and returns what it printed and
// its exit status.
func Run(t testing.TB, bin, stdin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running k8sh: %v", err)
	}
	return out.String(), errb.String(), code
}
