package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// lockedBuffer is a bytes.Buffer that a process writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAttachE2E: k8s.attach prints what the attached process writes, as
// `kubectl attach` does on the same pod at the same time (the sandbox's
// kwok attaches to its attach.log, in the CRI log format: what is appended
// to it after the attach), byte for byte; timeout= ends it quietly. kwok's
// attach takes no stdin, so only the output side is compared.
func TestAttachE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	attachLog := filepath.Join(filepath.Dir(env.Kubeconfig), "attach.log")
	appendLog := func(lines ...string) {
		t.Helper()
		f, err := os.OpenFile(attachLog, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), l)
		}
	}

	k := env.Kubectl(t)
	kc := exec.Command(k.Bin, "--kubeconfig", env.Kubeconfig, "attach", "-n", ns, pod)
	var kout lockedBuffer
	kc.Stdout, kc.Stderr = &kout, &kout
	k8 := exec.Command(clitest.Bin, "--kubeconfig", env.Kubeconfig, "-n", ns, "-c",
		fmt.Sprintf("k8s.attach(%q, timeout='60s'); print('attach ended')", pod))
	var gout, gerr lockedBuffer
	k8.Stdout, k8.Stderr = &gout, &gerr
	for _, c := range []*exec.Cmd{kc, k8} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Process.Kill()
	}
	// Both attached: each has printed a line appended after its start.
	mark := fmt.Sprintf("sync %d", time.Now().UnixNano())
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(kout.String(), mark+"\n") || !strings.Contains(gout.String(), mark+"\n"); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not both attached: kubectl printed %q, k8sh %q (stderr %q)", kout.String(), gout.String(), gerr.String())
		}
		appendLog(mark)
	}
	// Both follow the file from here on: what each prints after the begin
	// line (the marks still in flight come before it) must be the same.
	begin := fmt.Sprintf("begin %d", time.Now().UnixNano())
	appendLog(begin, "line one", "line two with  spaces", "", "last")
	want := "line one\nline two with  spaces\n\nlast\n"
	after := func(out string) string {
		if i := strings.Index(out, begin+"\n"); i >= 0 {
			return out[i+len(begin)+1:]
		}
		return ""
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ks, gs := after(kout.String()), after(gout.String())
		if ks == want && gs == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the attach: kubectl printed %q, k8sh %q; want both %q", ks, gs, want)
		}
	}
	if gerr.String() != "" {
		t.Errorf("k8sh's stderr: %q", gerr.String())
	}

	// timeout= ends an attach quietly; stdin is refused by kwok's attach,
	// which says so.
	r := clitest.K8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "-c",
		fmt.Sprintf("k8s.attach(%q, timeout='1s'); print('ended')", pod))
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, "ended\n") {
		t.Errorf("attach with timeout='1s': %+v", r)
	}
}
