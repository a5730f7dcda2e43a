package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestInterruptedBulkSummaryE2E: a script that --timeout stops in the
// middle of k8s.apply of many objects says on stderr what the call did
// (done, of unknown outcome, not sent), as the REPL shows the error; the
// numbers agree with what the server has.
func TestInterruptedBulkSummaryE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	src := `k8s.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "intr-%d" % i}} for i in range(6000)], parallel=2)`
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "--timeout", "2s", "-c", src)
	m := regexp.MustCompile(`(?m)^-c:1:10: k8s.apply was stopped: (\d+) of 6000 objects done(?:, (\d+) of unknown outcome \(([^)]*)\))?, (\d+) not sent\nk8sh: timed out after 2s \(--timeout\)\n$`).FindStringSubmatch(r.Stderr)
	if r.Code != 1 || m == nil {
		t.Fatalf("exit %d, stderr:\n%s", r.Code, r.Stderr)
	}
	done, _ := strconv.Atoi(m[1])
	unknown, _ := strconv.Atoi("0" + m[2])
	notSent, _ := strconv.Atoi(m[4])
	if done+unknown+notSent != 6000 || done == 0 || notSent == 0 || unknown > 2 {
		t.Fatalf("done %d + unknown %d + not sent %d: %s", done, unknown, notSent, r.Stderr)
	}
	l, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	made := len(l.Items) - 1 // kube-root-ca.crt
	if made < done || made > done+unknown {
		t.Errorf("the server has %d of them, the summary said %d done and %d unknown", made, done, unknown)
	}
	for _, it := range l.Items {
		var i int
		if _, err := fmt.Sscanf(it.Name, "intr-%d", &i); err == nil && i >= done+unknown {
			t.Errorf("%s exists, but the summary said it was not sent", it.Name)
		}
	}
}
