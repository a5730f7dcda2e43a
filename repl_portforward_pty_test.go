package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestREPLPortForwardE2E: in the REPL, k8s.port_forward returns at once and
// goes on forwarding while the user types; k8s.forwards() lists it and
// stop() ends it.
func TestREPLPortForwardE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"}, "--kubeconfig", env.Kubeconfig, "-n", ns)
	prompt := "k8sh sandbox:" + ns + "> "
	at := tm.expect(0, prompt)
	tm.send("fw = k8s.port_forward('deploy/web', ':80')\r")
	at = tm.expect(at, "port-forward in sandbox/"+ns+" deploy/web (pod/"+pod+")\n")
	at = tm.expect(at, prompt)
	tm.send("fw\r")
	at = tm.expect(at, "Forwarding from 127.0.0.1:")
	m := regexp.MustCompile(`^(\d+) -> 80\n`).FindStringSubmatch(tm.screen()[at:])
	if m == nil {
		t.Fatalf("no port in %q", tm.screen()[at:])
	}
	port, _ := strconv.Atoi(m[1])
	at = tm.expect(at, prompt)
	get := func() (int, error) {
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(fmt.Sprintf("http://127.0.0.1:%d/bytes/321", port))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return len(b), err
	}
	// At the prompt, between statements, it forwards.
	if n, err := get(); n != 321 || err != nil {
		t.Fatalf("at the prompt: %d bytes, %v", n, err)
	}
	tm.send("len(k8s.forwards())\r")
	at = tm.expect(at, "1\n")
	at = tm.expect(at, prompt)
	if n, err := get(); n != 321 || err != nil {
		t.Fatalf("after another statement: %d bytes, %v", n, err)
	}
	tm.send("fw.stop()\r")
	at = tm.expect(at, prompt)
	tm.send("k8s.forwards()\r")
	at = tm.expect(at, "[]\n")
	tm.expect(at, prompt)
	if _, err := get(); err == nil {
		t.Fatal("still forwarding after stop()")
	}
}
