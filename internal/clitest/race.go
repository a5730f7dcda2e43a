//go:build race

package clitest

// raceBuild: a test binary built with -race builds k8sh with -race too, so
// that the tests that run it (the REPL on a pty, its background handlers)
// run under the race detector.
const raceBuild = true
