package kube_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

func writeClient(t *testing.T, env *kubetest.Env) *kube.Client {
	flags := kube.NewConfigFlags()
	kc, ns, ctxName, dir := env.Kubeconfig, env.Namespace, "sandbox", t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &ctxName, &dir
	return kube.NewClient(flags)
}

func configMaps(n int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, n)
	for i := range out {
		out[i] = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "cm-" + itoa(i)},
			"data":     map[string]any{"i": itoa(i)},
		}}
	}
	return out
}

func itoa(i int) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
		if i == 0 {
			return string(b)
		}
	}
}

// TestApplyBulkE2E applies many objects at once, one of them bad: the result
// keeps input order, the bad one is reported, the rest are applied.
func TestApplyBulkE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := writeClient(t, env)
	objs := configMaps(50)
	objs[17].SetName("Bad_17")
	out, err := c.Apply(context.Background(), objs, kube.ApplyOptions{Parallel: 4})
	be, ok := err.(*kube.BulkError)
	if !ok || len(be.Errors) != 1 || be.Errors[0].Object != "configmap/Bad_17" || be.Total != 50 {
		t.Fatalf("got error %v, want one failure of configmap/Bad_17", err)
	}
	for i, u := range out {
		switch {
		case i == 17 && u != nil:
			t.Errorf("out[17] = %v, want nil", u)
		case i != 17 && (u == nil || u.GetName() != "cm-"+itoa(i)):
			t.Errorf("out[%d] = %v, want cm-%d", i, u, i)
		}
	}
	list, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cm := range list.Items {
		if len(cm.Name) > 3 && cm.Name[:3] == "cm-" {
			n++
		}
	}
	if n != 49 {
		t.Errorf("%d configmaps applied, want 49", n)
	}
}
