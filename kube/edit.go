package kube

import (
	"context"
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/mergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
)

// EditOptions tune Edit.
type EditOptions struct {
	// FieldManager owns the changed fields; "" means DefaultFieldManager.
	FieldManager string
	DryRun       bool
}

// Edit writes back what changed from original (the object as it was read)
// to obj, as kubectl edit does: a patch of the difference, strategic for
// the kinds built into Kubernetes and a JSON merge patch for the others,
// carrying original's metadata.resourceVersion so that it fails with a
// *StaleError when the object changed since it was read. The fields the
// change leaves alone keep their owners: field_manager owns only what the
// patch changes. apiVersion, kind, name and namespace cannot change.
func (c *Client) Edit(ctx context.Context, original, obj *unstructured.Unstructured, opts EditOptions) (*unstructured.Unstructured, error) {
	r, ns, err := c.target(obj, "")
	if err != nil {
		return nil, &ObjectError{Object: ObjectName(obj), Err: err}
	}
	u, err := c.edit(ctx, r, ns, original, obj, opts)
	if err != nil {
		return nil, &ObjectError{Object: ObjectName(obj), Err: err}
	}
	return u, nil
}

func (c *Client) edit(ctx context.Context, r Resource, ns string, original, obj *unstructured.Unstructured, opts EditOptions) (*unstructured.Unstructured, error) {
	if obj.GetName() == "" {
		return nil, fmt.Errorf("metadata.name is required")
	}
	if original.GetNamespace() != "" && original.GetNamespace() != ns {
		return nil, fmt.Errorf("metadata.namespace cannot change (read in %q, now %q)", original.GetNamespace(), ns)
	}
	data, pt, err := EditPatch(original, obj)
	if err != nil {
		return nil, err
	}
	manager := opts.FieldManager
	if manager == "" {
		manager = DefaultFieldManager
	}
	u, err := c.writeClient(r, ns).Patch(ctx, obj.GetName(), pt, data, metav1.PatchOptions{
		FieldManager: manager,
		DryRun:       dryRunOpt(opts.DryRun),
	})
	if err != nil {
		return nil, writeError(err, ns)
	}
	return u, nil
}

// EditPatch is the patch from original to obj that Edit sends, and its
// type. It holds original's metadata.resourceVersion (when it has one and
// obj does not set another), the precondition of the write.
func EditPatch(original, obj *unstructured.Unstructured) ([]byte, types.PatchType, error) {
	from, err := json.Marshal(original.Object)
	if err != nil {
		return nil, "", err
	}
	to, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, "", err
	}
	preconditions := []mergepatch.PreconditionFunc{
		mergepatch.RequireKeyUnchanged("apiVersion"),
		mergepatch.RequireKeyUnchanged("kind"),
		mergepatch.RequireMetadataKeyUnchanged("name"),
		mergepatch.RequireMetadataKeyUnchanged("namespace"),
	}
	var patch []byte
	pt := types.StrategicMergePatchType
	versioned, err := scheme.Scheme.New(obj.GroupVersionKind())
	switch {
	case runtime.IsNotRegisteredError(err):
		pt = types.MergePatchType
		patch, err = jsonpatch.CreateMergePatch(from, to)
		if err != nil {
			return nil, "", err
		}
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, "", err
		}
		for _, p := range preconditions {
			if !p(m) {
				return nil, "", changedKeyError()
			}
		}
	case err != nil:
		return nil, "", err
	default:
		patch, err = strategicpatch.CreateTwoWayMergePatch(from, to, versioned, preconditions...)
		if mergepatch.IsPreconditionFailed(err) {
			return nil, "", changedKeyError()
		}
		if err != nil {
			return nil, "", err
		}
	}
	if rv := original.GetResourceVersion(); rv != "" {
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, "", err
		}
		md, _ := m["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			m["metadata"] = md
		}
		if _, set := md["resourceVersion"]; !set {
			md["resourceVersion"] = rv
		}
		if patch, err = json.Marshal(m); err != nil {
			return nil, "", err
		}
	}
	return patch, pt, nil
}

func changedKeyError() error {
	return fmt.Errorf("apiVersion, kind, metadata.name and metadata.namespace cannot change in a write-back of the object as read; create the new object instead (k8s.create or k8s.apply of a dict)")
}
