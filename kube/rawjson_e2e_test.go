package kube_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestLazyListAsClientGoE2E: every object of every kind the sandbox
// lists, read as k8s.list reads it (ListRows: the Table with each row's
// object, split lazily), decodes, whole and field by field, to what
// client-go's dynamic client decodes from the plain list, for each object
// that did not change between the two reads.
func TestLazyListAsClientGoE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	t.Parallel()
	ctx := context.Background()
	c := countingClient(env, t.TempDir(), &requestLog{})
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Resources()
	if err != nil {
		t.Fatal(err)
	}
	objects, kinds := 0, 0
	for _, r := range res {
		if !slices.Contains(r.Verbs, "list") {
			continue
		}
		gvr := schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Name}
		kind := r.Name + "." + r.Version + "." + r.Group
		lazy, err := c.ListRows(ctx, kind, kube.ListOptions{AllNamespaces: true})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		want, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: client-go: %v", kind, err)
		}
		byKey := map[string]map[string]any{}
		for _, o := range want.Items {
			byKey[o.GetNamespace()+"/"+o.GetName()+"@"+o.GetResourceVersion()] = o.Object
		}
		kinds++
		for _, o := range lazy.Raw {
			md, _ := o.Field("metadata")
			m, _ := md.(map[string]any)
			key := str(m["namespace"]) + "/" + str(m["name"]) + "@" + str(m["resourceVersion"])
			w, ok := byKey[key]
			if !ok {
				continue // changed between the reads
			}
			objects++
			if got := o.Map(); !reflect.DeepEqual(got, w) {
				t.Errorf("%s %s: Map() differs from client-go's object", kind, key)
			}
			keys := o.Keys()
			if len(keys) != len(w) {
				t.Errorf("%s %s: keys %q, client-go's object has %d", kind, key, keys, len(w))
			}
			for _, k := range keys {
				if v, _ := o.Field(k); !reflect.DeepEqual(v, w[k]) {
					t.Errorf("%s %s: field %s differs from client-go's", kind, key, k)
				}
			}
		}
	}
	if objects < 50 {
		t.Fatalf("compared only %d objects of %d kinds", objects, kinds)
	}
	t.Logf("%d objects of %d kinds", objects, kinds)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
