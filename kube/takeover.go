package kube

import (
	"context"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// lastAppliedPath is the field of kubectl's client-side apply record.
var lastAppliedPath = fieldpath.NewSet(fieldpath.MakePathOrDie("metadata", "annotations", corev1.LastAppliedConfigAnnotation))

// csaManagers are the managers that applied u client-side, as kubectl
// finds them: those of Update operations owning the last-applied annotation.
func csaManagers(u *unstructured.Unstructured) sets.Set[string] {
	names := sets.New[string]()
	for _, e := range csaupgrade.FindFieldsOwners(u.GetManagedFields(), metav1.ManagedFieldsOperationUpdate, lastAppliedPath) {
		names.Insert(e.Manager)
	}
	return names
}

// maxMigrateTries bounds the migrations of takeOverCSA that lose a race
// with another writer, as kubectl's maxPatchRetry does.
const maxMigrateTries = 5

// takeOverCSA migrates the fields that kubectl applied client-side to the
// object called name (live, or read when nil) into manager's server-side
// apply, as kubectl apply --server-side does with client-go's csaupgrade,
// and tells whether there was anything to migrate.
func (c *Client) takeOverCSA(ctx context.Context, r Resource, ns, name string, live *unstructured.Unstructured, manager string) (bool, error) {
	rc := c.writeClient(r, ns)
	for i := 0; ; i++ {
		if live == nil {
			var err error
			if live, err = rc.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return false, apiError(err, ns)
			}
		}
		names := csaManagers(live)
		if names.Len() == 0 {
			return false, nil
		}
		patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, names, manager)
		if err != nil || patch == nil {
			return false, err
		}
		_, err = rc.Patch(ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{})
		if err == nil {
			return true, nil
		}
		if !apierrors.IsConflict(err) || i+1 == maxMigrateTries {
			return false, writeError(err, ns)
		}
		live = nil
	}
}

// onlyWith tells whether every conflicting field is owned by an update (not
// an apply) of a manager in names: k8sh's own earlier k8s.update or
// k8s.patch, which its apply takes over rather than conflicts with.
func (e *ConflictError) onlyWith(names sets.Set[string]) bool {
	if len(e.Causes) == 0 {
		return false
	}
	for _, c := range e.Causes {
		name, update := conflictManager(c.Message)
		if !update || !names.Has(name) {
			return false
		}
	}
	return true
}

// conflictManager reads the manager of a conflict cause as the API server
// words it: `conflict with "kubectl" using apps/v1` for an update (an
// apply has no "using"; a subresource's says `with subresource "status"`).
func conflictManager(msg string) (name string, update bool) {
	rest, ok := strings.CutPrefix(msg, "conflict with ")
	if !ok {
		return "", false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	name, _ = strconv.Unquote(q)
	return name, strings.HasPrefix(rest[len(q):], " using ")
}
