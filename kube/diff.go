package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"
)

// maxDiffTries bounds how often Diff reads an object again because it
// changed between the read and the dry run, as kubectl diff's maxRetries.
const maxDiffTries = 4

// Diff tells what applying objs would change: for each, a unified diff of
// the live object against the result of a server-side dry-run apply, as YAML
// without managedFields, resourceVersion, generation, uid and timestamps,
// and without status for kinds with a status subresource. It is "" when
// nothing would change. Objects that would be created diff against nothing.
//
// The dry run is pinned to the resourceVersion read, and when the object
// changed in between it is read again, as kubectl diff does, so that what
// controllers write meanwhile is not shown as a change. The diff is what the
// apply would leave with force: fields other managers own are listed under
// the object's diff, each with its manager, rather than hiding it. Fields
// that k8s.apply takes over without force (kubectl's client-side apply, k8sh's
// own updates) are not listed. One object failing does not stop the others:
// their diffs are returned with the *BulkError.
func (c *Client) Diff(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) (string, error) {
	if err := c.init(); err != nil {
		return "", err
	}
	opts.DryRun = true
	names := make([]string, len(objs))
	wheres := make([]string, len(objs))
	res := make([]Resource, len(objs))
	nss := make([]string, len(objs))
	errs := make([]error, len(objs))
	for i, o := range objs {
		res[i], nss[i], errs[i] = c.target(o, opts.Namespace)
		names[i], wheres[i] = ObjectName(o), o.GetNamespace()
	}
	texts := make([]string, len(objs))
	errs2 := forEach(ctx, len(objs), opts.Parallel, func(i int) error {
		if errs[i] != nil {
			return errs[i]
		}
		if objs[i].GetName() == "" {
			return fmt.Errorf("metadata.name is required for apply")
		}
		var err error
		texts[i], err = c.diffOne(ctx, res[i], nss[i], names[i], objs[i], opts)
		return err
	})
	return strings.Join(texts, ""), bulkError(names, wheres, errs2)
}

func (c *Client) diffOne(ctx context.Context, r Resource, ns, name string, obj *unstructured.Unstructured, opts ApplyOptions) (string, error) {
	rc := c.writeClient(r, ns)
	body := applyBody(obj)
	for try := 1; ; try++ {
		live, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			live = nil
			body.SetResourceVersion("")
		} else if err != nil {
			return "", apiError(err, ns)
		} else {
			body.SetResourceVersion(live.GetResourceVersion())
		}
		merged, conflicts, err := c.dryApply(ctx, r, ns, body, live, opts)
		var stale *StaleError
		if errors.As(err, &stale) && try < maxDiffTries {
			continue
		}
		if err != nil {
			return "", err
		}
		if c.hasStatus(r) {
			for _, u := range []*unstructured.Unstructured{live, merged} {
				if u != nil {
					unstructured.RemoveNestedField(u.Object, "status")
				}
			}
		}
		text, err := unifiedDiff(name, live, merged)
		if err != nil || len(conflicts) == 0 {
			return text, err
		}
		var b strings.Builder
		b.WriteString(text)
		fmt.Fprintf(&b, "# %s: k8s.apply without force=True fails: %d field(s) owned by another manager:\n", name, len(conflicts))
		for _, c := range conflicts {
			fmt.Fprintf(&b, "#   %s (%s)\n", c.Field, c.Message)
		}
		return b.String(), nil
	}
}

// dryApply is the dry run of applying body (which carries the
// resourceVersion of live, or none) with force, and the conflicts the apply
// would have without it, leaving out those it takes over by itself (see
// applyOne).
func (c *Client) dryApply(ctx context.Context, r Resource, ns string, body, live *unstructured.Unstructured, opts ApplyOptions) (*unstructured.Unstructured, []metav1.StatusCause, error) {
	data, err := json.Marshal(body.Object)
	if err != nil {
		return nil, nil, err
	}
	merged, err := c.applyData(ctx, r, ns, body.GetName(), data, opts, opts.Force)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		return merged, nil, err
	}
	own := sets.New(opts.manager())
	if live != nil {
		own = own.Union(csaManagers(live))
	}
	var conflicts []metav1.StatusCause
	for _, cause := range ce.Causes {
		if name, update := conflictManager(cause.Message); !update || !own.Has(name) {
			conflicts = append(conflicts, cause)
		}
	}
	merged, err = c.applyData(ctx, r, ns, body.GetName(), data, opts, true)
	return merged, conflicts, err
}

// hasStatus tells whether r has a status subresource (whose status an
// apply leaves alone, and which diffs leave out, as kubectl diff does).
func (c *Client) hasStatus(r Resource) bool {
	list, err := c.discovery.ServerResourcesForGroupVersion(r.GVR.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, ar := range list.APIResources {
		if ar.Name == r.GVR.Resource+"/status" {
			return true
		}
	}
	return false
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
