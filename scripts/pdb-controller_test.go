package scripts

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestScriptPDBControllerE2E runs scripts/pdb-controller.star with k8sh run
// and 5 workers on the sandbox, and checks with kubectl that it converges
// after creates, updates and deletes of Deployments and of the
// PodDisruptionBudgets they own, with no key ever reconciled twice at once
// (read from the -v log, where each reconcile's start and end are lines in
// the order they happened). SIGTERM ends it with status 0.
func TestScriptPDBControllerE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := env.Namespace
	k := env.Kubectl(t)
	ctx := context.Background()
	apps := env.Clientset.AppsV1().Deployments(ns)

	p := clitest.Start(t, []string{"XDG_CONFIG_HOME=" + t.TempDir()},
		"run", "-v", "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "-n", ns,
		"pdb-controller.star", "--workers", "5")
	m := p.WaitStderr(regexp.MustCompile(`health checks on http://(\S+)/healthz`), 30*time.Second)
	if m == nil {
		t.Fatalf("k8sh run did not start:\n%s", p.Stderr())
	}
	waitFor(t, p, "/readyz 200", func() bool {
		resp, err := http.Get("http://" + m[1] + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// 20 labelled Deployments and 3 others, created at full speed.
	var wg sync.WaitGroup
	errs := make(chan error, 23)
	for i := range 23 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			labels := map[string]string{"k8sh.io/pdb": "enabled"}
			if i >= 20 {
				labels = map[string]string{"k8sh.io/pdb": "no"}
			}
			_, err := apps.Create(ctx, deployment(fmt.Sprintf("web-%02d", i), labels), metav1.CreateOptions{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// want is what kubectl must show: for each labelled Deployment, its PDB
	// owned by it (the same uid), with its minAvailable and selector.
	want := func() string {
		out := k.Must(t, "", "get", "deploy", "-n", ns, "-l", "k8sh.io/pdb=enabled", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.annotations.k8sh\.io/pdb-min-available} {.spec.selector.matchLabels.app}{"\n"}{end}`)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			min := "1"
			if len(f) == 4 {
				min = f[2]
			}
			lines = append(lines, fmt.Sprintf("%s Deployment/%s %s %s %s", f[0], f[0], f[1], min, f[len(f)-1]))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	got := func() string {
		out := k.Must(t, "", "get", "pdb", "-n", ns, "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.ownerReferences[0].uid} {.spec.minAvailable} {.spec.selector.matchLabels.app}{"\n"}{end}`)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	converged := func(what string) {
		t.Helper()
		var w, g string
		deadline := time.Now().Add(60 * time.Second)
		for {
			w, g = want(), got()
			if w == g {
				t.Logf("%s: converged: %d PodDisruptionBudgets", what, strings.Count(g, "\n")+1)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: kubectl get pdb shows\n%s\nwant\n%s\nk8sh stdout:\n%s\nstderr:\n%s", what, g, w, p.Stdout(), p.Stderr())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	converged("creates")
	uid := func(name string) string {
		return k.Must(t, "", "get", "pdb", name, "-n", ns, "-o", "jsonpath={.metadata.uid}")
	}

	// Updates of the Deployments: the PDBs follow.
	for _, d := range []string{"web-00", "web-01", "web-02"} {
		k.Must(t, "", "annotate", "deploy", d, "-n", ns, "k8sh.io/pdb-min-available=2")
	}
	k.Must(t, "", "annotate", "deploy", "web-03", "-n", ns, "k8sh.io/pdb-min-available=50%")
	converged("annotations")

	// Deleted PDBs come back (new objects); changed ones are put back.
	old := map[string]string{}
	for _, d := range []string{"web-04", "web-05", "web-06"} {
		old[d] = uid(d)
		k.Must(t, "", "delete", "pdb", d, "-n", ns)
	}
	for _, d := range []string{"web-07", "web-08", "web-00"} {
		k.Must(t, "", "patch", "pdb", d, "-n", ns, "--type", "merge", "-p", `{"spec":{"minAvailable":7}}`)
	}
	converged("PDBs deleted and changed")
	for d, u := range old {
		if now := uid(d); now == u {
			t.Errorf("pdb %s still has uid %s: it was not deleted and made again", d, u)
		}
	}

	// A label removed, Deployments deleted, one labelled later: their PDBs
	// go, and come.
	k.Must(t, "", "label", "deploy", "web-09", "-n", ns, "k8sh.io/pdb-")
	k.Must(t, "", "delete", "deploy", "web-10", "web-11", "-n", ns)
	k.Must(t, "", "label", "deploy", "web-20", "-n", ns, "k8sh.io/pdb=enabled", "--overwrite")
	converged("labels and deletes")
	if out, _, _ := k.Run("", "get", "pdb", "web-09", "-n", ns); out != "" {
		t.Errorf("pdb web-09 is still there")
	}

	// Clean shutdown.
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, ok := p.Wait(60 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited %v, status %d, want 0\nstderr:\n%s", ok, code, p.Stderr())
	}
	if !strings.Contains(p.Stderr(), "k8sh run: stopped") {
		t.Errorf("no closing line:\n%s", p.Stderr())
	}
	// The -v log: no key reconciled twice at once, and up to 5 at once.
	overlaps, most, keys := reconcileLog(p.Stderr())
	if overlaps != 0 {
		t.Errorf("%d reconciles of a key began while another of it was in flight", overlaps)
	}
	if keys != 21 {
		t.Errorf("%d keys reconciled, want 21 (every Deployment labelled at some time)", keys)
	}
	if most > 5 {
		t.Errorf("%d reconciles at once with 5 workers", most)
	}
	t.Logf("%d keys reconciled, at most %d at once; %d reconciles, %d failed", keys, most,
		p.Count(": reconcile "+ns+"/")-p.Count(" failed (attempt"), p.Count(" failed (attempt"))
}

// reconcileLog reads k8sh run -v's lines in order: "reconcile KEY (worker
// N)" starts a reconcile, "reconciled KEY ..." or "reconcile KEY failed"
// ends it. It returns the reconciles that began while another of their
// key was in flight, the most in flight at once and the number of keys.
func reconcileLog(log string) (overlaps, most, keys int) {
	open := map[string]bool{}
	seen := map[string]bool{}
	inFlight := 0
	for _, line := range strings.Split(log, "\n") {
		_, rest, ok := strings.Cut(line, "k8sh: controller ")
		if !ok {
			continue
		}
		_, msg, _ := strings.Cut(rest, ": ")
		f := strings.Fields(msg)
		if len(f) < 3 {
			continue
		}
		switch {
		case f[0] == "reconcile" && f[2] == "(worker":
			if open[f[1]] {
				overlaps++
			}
			open[f[1]] = true
			seen[f[1]] = true
			inFlight++
			most = max(most, inFlight)
		case f[0] == "reconciled", f[0] == "reconcile" && (f[2] == "failed" || f[2] == "cancelled"):
			if open[f[1]] {
				inFlight--
			}
			open[f[1]] = false
		}
	}
	return overlaps, most, len(seen)
}

func waitFor(t *testing.T, p *clitest.Proc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nstderr:\n%s", what, p.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deployment(name string, labels map[string]string) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}
