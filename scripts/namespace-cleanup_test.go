package scripts

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// cleanupPodSpec is a pod spec that lands on the kwok node, or, unscheduled,
// on no node at all: such a pod stays Pending and nothing but the test sets
// its status.
func cleanupPodSpec(unscheduled bool) corev1.PodSpec {
	s := corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}
	if unscheduled {
		s.NodeSelector = map[string]string{"no-such": "node"}
	}
	return s
}

// cleanupSetPodPhase sets a pod's phase (and reason) through the status
// subresource, retrying on conflicts with the scheduler's own updates.
func cleanupSetPodPhase(t *testing.T, cs kubernetes.Interface, ns, name string, phase corev1.PodPhase, reason string) {
	t.Helper()
	ctx := context.Background()
	for i := 0; ; i++ {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase, p.Status.Reason = phase, reason
		if reason != "" {
			p.Status.Message = "set by the test"
		}
		_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) || i == 10 {
			t.Fatalf("setting pod %s to %s: %v", name, phase, err)
		}
	}
}

// cleanupPollUntil calls cond until it returns "" or the deadline passes, then fails
// with cond's last word.
func cleanupPollUntil(t *testing.T, what string, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestScriptNamespaceCleanupE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	cs := env.Clientset
	ns := env.Namespace
	pods, jobs := cs.CoreV1().Pods(ns), cs.BatchV1().Jobs(ns)

	for _, p := range []struct {
		name        string
		unscheduled bool
	}{{"done-ok", true}, {"done-bad", true}, {"pending", true}, {"running", false}} {
		if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name}, Spec: cleanupPodSpec(p.unscheduled)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	job := func(name string, unscheduled bool, deadline int64) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: cleanupPodSpec(unscheduled)}}}
		if deadline > 0 {
			j.Spec.ActiveDeadlineSeconds = &deadline
		}
		return j
	}
	// job-ok: kwok completes its pod, the job controller marks it Complete.
	// job-fail: its pod never schedules; after a second it is Failed
	// (DeadlineExceeded). job-running: never finishes; its pod is set Failed
	// below, and must stay with its Job.
	for _, j := range []*batchv1.Job{job("job-ok", false, 0), job("job-fail", true, 1), job("job-running", true, 0)} {
		if _, err := jobs.Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cleanupSetPodPhase(t, cs, ns, "done-ok", corev1.PodSucceeded, "")
	cleanupSetPodPhase(t, cs, ns, "done-bad", corev1.PodFailed, "Evicted")

	jobCondition := func(name string) string {
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return string(c.Type)
			}
		}
		return ""
	}
	podsOf := func(job string) []corev1.Pod {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
		if err != nil {
			t.Fatal(err)
		}
		return l.Items
	}
	cleanupPollUntil(t, "setting the stage", 90*time.Second, func() string {
		if c := jobCondition("job-ok"); c != "Complete" {
			return "job-ok is not Complete: " + c
		}
		if c := jobCondition("job-fail"); c != "Failed" {
			return "job-fail is not Failed: " + c
		}
		if len(podsOf("job-ok")) != 1 {
			return "job-ok has no pod"
		}
		if len(podsOf("job-running")) == 0 {
			return "job-running has no pod yet"
		}
		p, err := pods.Get(ctx, "running", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return "pod running is not Running"
		}
		return ""
	})
	runningJobPod := podsOf("job-running")[0].Name
	cleanupSetPodPhase(t, cs, ns, runningJobPod, corev1.PodFailed, "")
	if c := jobCondition("job-running"); c != "" {
		t.Fatalf("job-running finished (%s): the test needs it running", c)
	}

	// What exists now, by kind/name; what is kept must still be there after.
	names := func() []string {
		var out []string
		pl, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pl.Items {
			out = append(out, "pod/"+p.Name)
		}
		jl, err := jobs.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jl.Items {
			out = append(out, "job/"+j.Name)
		}
		slices.Sort(out)
		return out
	}
	before := names()
	jobOkPod := "pod/" + podsOf("job-ok")[0].Name
	for _, want := range []string{"pod/done-ok", "pod/done-bad", "job/job-fail", "job/job-ok", jobOkPod} {
		if !slices.Contains(before, want) {
			t.Fatalf("%s missing before the cleanup: %v", want, before)
		}
	}
	script := "namespace-cleanup.star"

	// The default age, 24h: everything here is younger, nothing goes.
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, script)
	if r.Code != 0 || r.Stdout != "namespace "+ns+": finished pods and jobs older than 24h\nnothing to delete (4 finished, younger than 24h, kept)\n" {
		t.Fatalf("default age: got %+v", r)
	}
	if got := names(); !slices.Equal(got, before) {
		t.Fatalf("default age changed the namespace: before %v, after %v", before, got)
	}

	// --dry-run with any age: says what would go, removes nothing.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--dry-run", script, "--older-than", "0s")
	if r.Code != 0 {
		t.Fatalf("dry run: got %+v", r)
	}
	wantRows := []string{
		"job/job-fail   \\S+ +Failed: DeadlineExceeded",
		"job/job-ok     \\S+ +Complete \\(with its 1 pod\\)",
		"pod/done-bad   \\S+ +Failed: Evicted",
		"pod/done-ok    \\S+ +Succeeded",
	}
	checkRows := func(label, action string, out string) {
		t.Helper()
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 7 { // what, header, 4 rows, summary
			t.Fatalf("%s: want 7 lines, got %q", label, out)
		}
		if !strings.HasPrefix(lines[1], "ACTION") {
			t.Errorf("%s: no header in %q", label, out)
		}
		for i, row := range wantRows {
			if !regexp.MustCompile("^" + action + " +" + row + "$").MatchString(lines[2+i]) {
				t.Errorf("%s: line %d is %q, want %s %s", label, 2+i, lines[2+i], action, row)
			}
		}
	}
	checkRows("dry run", "would delete", r.Stdout)
	if !strings.HasPrefix(r.Stdout, "dry run: namespace "+ns+": finished pods and jobs, any age\n") ||
		!strings.HasSuffix(r.Stdout, "dry run: would delete 4 objects; nothing was deleted\n") {
		t.Errorf("dry run: got %q", r.Stdout)
	}
	if got := names(); !slices.Equal(got, before) {
		t.Fatalf("dry run changed the namespace: before %v, after %v", before, got)
	}

	// For real, with the script's own -n: the finished ones go, the job's
	// pod with it; running, pending and job-running (and its failed pod) stay.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, script, "-n", ns, "--older-than", "0s")
	if r.Code != 0 {
		t.Fatalf("cleanup: got %+v", r)
	}
	checkRows("cleanup", "deleted  ", r.Stdout)
	if !strings.HasSuffix(r.Stdout, "\ndeleted 4 objects\n") {
		t.Errorf("cleanup: got %q", r.Stdout)
	}
	var want []string
	for _, n := range before {
		if !slices.Contains([]string{"pod/done-ok", "pod/done-bad", "job/job-fail", "job/job-ok", jobOkPod}, n) {
			want = append(want, n)
		}
	}
	for _, keep := range []string{"pod/running", "pod/pending", "job/job-running", "pod/" + runningJobPod} {
		if !slices.Contains(want, keep) {
			t.Fatalf("%s should be kept but was not there before: %v", keep, before)
		}
	}
	cleanupPollUntil(t, "after the cleanup", 60*time.Second, func() string {
		// job-running may have made a new pod to replace the failed one.
		var got []string
		for _, n := range names() {
			if !strings.HasPrefix(n, "pod/job-running-") || n == "pod/"+runningJobPod {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, want) {
			return "want " + strings.Join(want, " ") + "; have " + strings.Join(got, " ")
		}
		return ""
	})

	// Nothing finished is left: a second run has nothing to do.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, script, "--older-than=0s")
	if r.Code != 0 || !strings.HasSuffix(r.Stdout, "\nnothing to delete\n") {
		t.Errorf("second cleanup: got %+v", r)
	}

	// Bad arguments: a clear usage error, exit status 2.
	for _, args := range [][]string{{"--older-than", "soon"}, {"--older-than"}, {"--older-than", "-1h"}, {"extra"}} {
		r = k8sh(t, "", nil, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns, script}, args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "usage: namespace-cleanup.star") || r.Stdout != "" {
			t.Errorf("args %q: want a usage error, got %+v", args, r)
		}
	}
}
