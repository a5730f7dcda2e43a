package kube

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// MetadataChange is what kubectl label and kubectl annotate do to an
// object: set some labels (or annotations), remove others.
type MetadataChange struct {
	// Annotations makes it an annotate; otherwise it labels.
	Annotations bool
	Set         map[string]string
	Remove      []string
	// Overwrite allows changing the value of one that exists.
	Overwrite bool
	// ResourceVersion, when set, is sent with the patch: the change fails
	// when the object is at another version.
	ResourceVersion string
}

// Validate checks the change before anything is read, as kubectl does.
func (m MetadataChange) Validate() error {
	if len(m.Set) == 0 && len(m.Remove) == 0 {
		if m.Annotations {
			return fmt.Errorf("at least one annotation update is required")
		}
		return fmt.Errorf("at least one label update is required")
	}
	var both []string
	for _, k := range m.Remove {
		if _, ok := m.Set[k]; ok {
			both = append(both, k)
		}
	}
	if len(both) > 0 {
		if m.Annotations {
			return fmt.Errorf("can not both modify and remove the following annotation(s) in the same command: %s", strings.Join(both, ", "))
		}
		return fmt.Errorf("can not both modify and remove a label in the same command")
	}
	if !m.Annotations {
		for _, k := range sortedKeys(m.Set) {
			if errs := validation.IsValidLabelValue(m.Set[k]); len(errs) != 0 {
				return fmt.Errorf("invalid label value: %q: %s", k+"="+m.Set[k], strings.Join(errs, ";"))
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Mutate is the Mutation of the change: the JSON merge patch kubectl
// label (or annotate) sends, from the object before to after the change,
// and kubectl's verb ("labeled", "unlabeled", "modified", "not labeled";
// "annotated"). A label that is already set as asked sends nothing.
func (m MetadataChange) Mutate(obj *unstructured.Unstructured) (Change, error) {
	cur := obj.GetLabels()
	if m.Annotations {
		cur = obj.GetAnnotations()
	}
	if !m.Overwrite {
		var taken []string
		for _, k := range sortedKeys(m.Set) {
			if v, ok := cur[k]; ok && v != m.Set[k] {
				if m.Annotations && k == "kubernetes.io/change-cause" {
					continue // kubectl annotate always overwrites it
				}
				taken = append(taken, fmt.Sprintf("'%s' already has a value (%s)", k, v))
			}
		}
		if len(taken) > 0 {
			if m.Annotations {
				return Change{}, fmt.Errorf("--overwrite is false but found the following declared annotation(s): %s", strings.Join(taken, "; "))
			}
			for i := range taken {
				taken[i] += ", and --overwrite is false"
			}
			return Change{}, fmt.Errorf("%s", strings.Join(taken, ", "))
		}
	}
	var notes []string
	if !m.Annotations {
		for _, k := range m.Remove {
			if _, ok := cur[k]; !ok {
				notes = append(notes, fmt.Sprintf("label %q not found.", k))
			}
		}
	}
	if m.ResourceVersion != "" {
		obj.SetResourceVersion("") // so that the patch holds it
	}
	before, err := json.Marshal(obj.Object)
	if err != nil {
		return Change{}, err
	}
	next := map[string]string{}
	for k, v := range cur {
		next[k] = v
	}
	added, removed := 0, 0
	for k, v := range m.Set {
		if old, ok := next[k]; !ok || old != v {
			next[k] = v
			added++
		}
	}
	for _, k := range m.Remove {
		if _, ok := next[k]; ok {
			delete(next, k)
			removed++
		}
	}
	if m.Annotations {
		obj.SetAnnotations(next)
	} else {
		obj.SetLabels(next)
	}
	if m.ResourceVersion != "" {
		obj.SetResourceVersion(m.ResourceVersion)
	}
	verb := "annotated"
	if !m.Annotations {
		switch {
		case added > 0 && removed > 0:
			verb = "modified"
		case added > 0:
			verb = "labeled"
		case removed > 0:
			verb = "unlabeled"
		default:
			return Change{Verb: "not labeled", Notes: notes}, nil // kubectl sends nothing
		}
	}
	after, err := json.Marshal(obj.Object)
	if err != nil {
		return Change{}, err
	}
	patch, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		return Change{}, err
	}
	if string(patch) == "{}" {
		return Change{Verb: verb, Notes: notes}, nil
	}
	return Change{Patch: patch, Type: types.MergePatchType, Verb: verb, Notes: notes}, nil
}
