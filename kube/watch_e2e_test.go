package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestWatchGoneE2E resumes a watch from a resourceVersion the apiserver no
// longer serves, so that it answers 410 Gone, and checks that the watch
// lists again and delivers exactly what changed meanwhile. A sandbox of
// its own, whose kube-apiserver the test restarts, makes the 410 certain: a
// restarted apiserver's watch cache begins at the current revision, while
// a fresh one's began at the first and may still serve old versions.
func TestWatchGoneE2E(t *testing.T) {
	env := kubetest.PrivateSandbox(t)
	flags := NewConfigFlags()
	kc, ns, kctx, dir := env.Kubeconfig, env.Namespace, "sandbox", t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &kctx, &dir
	c := NewClient(flags)
	ctx := context.Background()
	cms := env.Clientset.CoreV1().ConfigMaps(ns)
	set := func(name, v string) {
		t.Helper()
		cm, err := cms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": v}}, metav1.CreateOptions{})
		} else {
			cm.Data = map[string]string{"v": v}
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// The namespace's kube-root-ca.crt, which kube-controller-manager
	// publishes soon after the namespace is made, must not fall in the gap.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("kube-root-ca.crt: %v", err)
		}
	}
	for _, n := range []string{"same", "changed", "deleted"} {
		set(n, "1")
	}
	w, err := c.Watch(ctx, "configmaps", WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// What changes now is in the gap: resuming from version 2 after the
	// restart makes the server answer 410 ("too old resource version").
	set("changed", "2")
	if err := cms.Delete(ctx, "deleted", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	set("new", "1")
	kubetest.RestartAPIServer(t, env)
	w.rv = "2"

	var got []string
	next := func() WatchEvent {
		t.Helper()
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v (after %v)", w.Err(), got)
			}
			got = append(got, fmt.Sprintf("%s %s", ev.Type, ev.Object.GetName()))
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no event after %v", got)
		}
		panic("unreachable")
	}
	for range 3 {
		next()
	}
	want := "[DELETED deleted MODIFIED changed ADDED new]"
	if fmt.Sprint(got) != want {
		t.Errorf("after 410 got %v, want %v", got, want)
	}
	// It watches on from the new list, with nothing repeated.
	set("same", "2")
	if ev := next(); ev.Type != Modified || ev.Object.GetName() != "same" {
		t.Errorf("then got %v, want MODIFIED same", got[len(got)-1])
	}
	select {
	case ev := <-w.Events():
		t.Errorf("unexpected %s %s", ev.Type, ev.Object.GetName())
	case <-time.After(300 * time.Millisecond):
	}
}
