package kube

import (
	"context"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Diff tells what applying objs would change: for each, a unified diff of
// the live object against the result of a server-side dry-run apply, as YAML
// without managedFields, resourceVersion, generation, uid and timestamps.
// It is "" when nothing would change. Objects that would be created diff
// against nothing.
func (c *Client) Diff(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (string, error) {
	if err := c.init(); err != nil {
		return "", err
	}
	opts.DryRun = true
	names := make([]string, len(objs))
	res := make([]Resource, len(objs))
	nss := make([]string, len(objs))
	errs := make([]error, len(objs))
	for i, o := range objs {
		names[i] = ObjectName(o)
		res[i], nss[i], errs[i] = c.target(o, opts.Namespace)
	}
	texts := make([]string, len(objs))
	errs2 := forEach(ctx, len(objs), opts.Parallel, func(i int) error {
		if errs[i] != nil {
			return errs[i]
		}
		o := objs[i]
		live, err := c.writeClient(res[i], nss[i]).Get(ctx, o.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			live = nil
		} else if err != nil {
			return apiError(err, nss[i])
		}
		merged, err := c.applyOne(ctx, res[i], nss[i], o, opts)
		if err != nil {
			return err
		}
		texts[i], err = unifiedDiff(names[i], live, merged)
		return err
	})
	return strings.Join(texts, ""), bulkError(names, errs2)
}

// diffable is obj as YAML without what changes on every write.
func diffable(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", nil
	}
	o := obj.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "uid"} {
		unstructured.RemoveNestedField(o.Object, "metadata", f)
	}
	b, err := yaml.Marshal(o.Object)
	return string(b), err
}

func unifiedDiff(name string, live, merged *unstructured.Unstructured) (string, error) {
	a, err := diffable(live)
	if err != nil {
		return "", err
	}
	b, err := diffable(merged)
	if err != nil {
		return "", err
	}
	if a == b {
		return "", nil
	}
	from := "live/" + name
	if live == nil {
		from = "/dev/null"
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(a), B: lines(b),
		FromFile: from, ToFile: "applied/" + name, Context: 3,
	})
}

// lines splits s into lines that keep their "\n"; "" has none.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	} else {
		l[len(l)-1] += "\n"
	}
	return l
}
