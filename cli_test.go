package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestCLI runs the testscript files of testdata/script: k8sh on the command
// line as a user runs it, with no cluster. Each file is a txtar archive of a
// script of commands and the files it uses; see
// https://pkg.go.dev/github.com/rogpeppe/go-internal/testscript.
//
// Besides testscript's own commands (exec, stdout, stderr, cmp, ...):
//
//	k8sh ARGS...     run k8sh; `! k8sh` expects a failure
//	status N         the exit status of the last k8sh was N
//	waitfile PATH    wait (up to 30 s) until PATH exists
//	cmptimed FILE    stdout is FILE's text, durations aside (k8sh test's
//	                 "(0.12s)" and "0.123s" compare as "(0.00s)" and "0.000s")
func TestCLI(t *testing.T) {
	testscript.Run(t, cliParams(t, "testdata/script", func() ([]string, error) { return nil, nil }))
}

// TestCLIE2E runs testdata/script-e2e against the sandbox: $KUBECONFIG is
// its kubeconfig, $NS a namespace of the file's own, $TOKEN the admin's
// bearer token (which no output may show) and $SCRIPTS the example scripts'
// directory.
func TestCLIE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	token := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].Token
	if token == "" {
		t.Fatal("the sandbox's admin has no bearer token")
	}
	// The files run in parallel: each has a namespace of its own.
	testscript.Run(t, cliParams(t, "testdata/script-e2e", func() ([]string, error) {
		ns, err := env.Clientset.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "t-cli-", Labels: map[string]string{"k8sh.test": "e2e"}},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() {
			env.Clientset.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
		})
		scripts, err := filepath.Abs("scripts")
		if err != nil {
			return nil, err
		}
		return []string{"KUBECONFIG=" + env.Kubeconfig, "NS=" + ns.Name, "TOKEN=" + token, "SCRIPTS=" + scripts}, nil
	}))
}

// cliParams runs the files of dir with the variables vars() gives each.
func cliParams(t *testing.T, dir string, vars func() ([]string, error)) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			// k8sh on PATH, for scripts that start with #!/usr/bin/env k8sh.
			e.Setenv("PATH", filepath.Dir(clitest.Bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, ".config"))
			e.Setenv("XDG_STATE_HOME", filepath.Join(e.WorkDir, ".state"))
			e.Setenv("XDG_CACHE_HOME", filepath.Join(e.WorkDir, ".cache"))
			e.Setenv("NO_COLOR", "1")
			e.Setenv("KUBECONFIG", "")
			e.Setenv("K8SH_PATH", "")
			vs, err := vars()
			if err != nil {
				return err
			}
			for _, v := range vs {
				k, val, _ := strings.Cut(v, "=")
				e.Setenv(k, val)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"k8sh": func(ts *testscript.TestScript, neg bool, args []string) {
				err := ts.Exec(clitest.Bin, args...)
				code := 0
				var ee *exec.ExitError
				switch {
				case errors.As(err, &ee):
					code = ee.ExitCode()
				case err != nil:
					ts.Fatalf("running k8sh: %v", err)
				}
				ts.Setenv("K8SH_STATUS", strconv.Itoa(code))
				if neg && code == 0 {
					ts.Fatalf("k8sh succeeded; want a failure")
				}
				if !neg && code != 0 {
					ts.Fatalf("k8sh exited with status %d", code)
				}
			},
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: status N")
				}
				if got := ts.Getenv("K8SH_STATUS"); (got == args[0]) == neg {
					ts.Fatalf("exit status %s, want %s%s", got, map[bool]string{true: "not "}[neg], args[0])
				}
			},
			"cmptimed": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: cmptimed FILE")
				}
				norm := func(s string) string {
					s = regexp.MustCompile(`\(\d+\.\d{2}s\)`).ReplaceAllString(s, "(0.00s)")
					return regexp.MustCompile(`\t\d+\.\d{3}s`).ReplaceAllString(s, "\t0.000s")
				}
				got, want := norm(ts.ReadFile("stdout")), norm(ts.ReadFile(args[0]))
				if got != want {
					ts.Logf("stdout:\n%s", got)
					ts.Fatalf("stdout differs from %s (durations aside)", args[0])
				}
			},
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfile PATH")
				}
				path := ts.MkAbs(args[0])
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					if _, err := os.Stat(path); err == nil {
						return
					}
				}
				ts.Fatalf("%s did not appear in 30s", args[0])
			},
		},
	}
}
