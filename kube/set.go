package kube

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	envutil "k8s.io/kubectl/pkg/cmd/set/env"
)

// podSpecOf is the pod spec of a workload or pod, as kubectl's
// polymorphichelpers.UpdatePodSpecForObject finds it (and a PodTemplate's,
// which kubectl does not): nil for a kind without one.
func podSpecOf(obj runtime.Object) *corev1.PodSpec {
	switch t := obj.(type) {
	case *corev1.Pod:
		return &t.Spec
	case *corev1.PodTemplate:
		return &t.Template.Spec
	case *corev1.ReplicationController:
		if t.Spec.Template == nil {
			t.Spec.Template = &corev1.PodTemplateSpec{}
		}
		return &t.Spec.Template.Spec
	case *appsv1.Deployment:
		return &t.Spec.Template.Spec
	case *appsv1.DaemonSet:
		return &t.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		return &t.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &t.Spec.Template.Spec
	case *batchv1.Job:
		return &t.Spec.Template.Spec
	case *batchv1.CronJob:
		return &t.Spec.JobTemplate.Spec.Template.Spec
	}
	return nil
}

// PodSpecChange changes the pod spec of an object, as kubectl set does.
// It returns the verb of the change ("image updated") or an error.
type PodSpecChange func(spec *corev1.PodSpec) (string, error)

// Mutate is the Mutation of a PodSpecChange: the object decoded into its
// Go type, changed, and the strategic merge patch from before to after,
// computed as kubectl set computes it (set.CalculatePatch).
func (f PodSpecChange) Mutate(obj *unstructured.Unstructured) (Change, error) {
	typed, err := scheme.Scheme.New(obj.GroupVersionKind())
	if err != nil {
		return Change{}, fmt.Errorf("%s has no pod template", strings.ToLower(obj.GetKind()))
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, typed); err != nil {
		return Change{}, err
	}
	spec := podSpecOf(typed)
	if spec == nil {
		return Change{}, fmt.Errorf("%s has no pod template", strings.ToLower(obj.GetKind()))
	}
	before, err := json.Marshal(typed)
	if err != nil {
		return Change{}, err
	}
	verb, err := f(spec)
	if err != nil {
		return Change{}, err
	}
	after, err := json.Marshal(typed)
	if err != nil {
		return Change{}, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(before, after, typed)
	if err != nil {
		return Change{}, err
	}
	if string(patch) == "{}" {
		return Change{}, nil // kubectl sends nothing, says nothing
	}
	return Change{Patch: patch, Type: types.StrategicMergePatchType, Verb: verb}, nil
}

// SetImages sets the image of each container (init containers too) named
// in images, "*" for every container, as kubectl set image does.
func SetImages(images map[string]string) (PodSpecChange, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("at least one image update is required")
	}
	if _, ok := images["*"]; ok && len(images) > 1 {
		return nil, fmt.Errorf("all containers are already specified by *, but saw more than one container_name=container_image pairs")
	}
	return func(spec *corev1.PodSpec) (string, error) {
		var missing []string
		for _, name := range sortedKeys(images) {
			found := false
			for _, cs := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
				for i := range cs {
					if cs[i].Name == name || name == "*" {
						cs[i].Image, found = images[name], true
					}
				}
			}
			if !found {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return "", fmt.Errorf("unable to find container named %s", strings.Join(quoted(missing), ", "))
		}
		return "image updated", nil
	}, nil
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// selectContainers are the containers, then the init containers, whose
// name matches spec ("*" for all, "web-*"), as kubectl set's -c selects
// them.
func selectContainers(spec *corev1.PodSpec, sel string) []*corev1.Container {
	var out []*corev1.Container
	for _, cs := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for i := range cs {
			if matchWildcard(cs[i].Name, sel) {
				out = append(out, &cs[i])
			}
		}
	}
	return out
}

// matchWildcard tells whether s matches pattern, where "*" stands for any
// run of characters.
func matchWildcard(s, pattern string) bool {
	if !strings.Contains(pattern, "*") {
		return s == pattern
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// SetEnv sets (a value) and removes (nil) environment variables of the
// containers that container selects ("" or "*" for all, init containers
// too), as kubectl set env NAME=VALUE NAME- does: a variable set replaces
// every one of its name in place, a new one goes last, in the order
// given. Without overwrite, a variable that has another value is refused.
func SetEnv(names []string, values []*string, container string, overwrite bool) (PodSpecChange, error) {
	var specs []string
	for i, n := range names {
		if values[i] == nil {
			specs = append(specs, n+"-")
		} else {
			specs = append(specs, n+"="+*values[i])
		}
	}
	env, remove, _, err := envutil.ParseEnv(specs, nil)
	if err != nil {
		return nil, err
	}
	if len(env) == 0 && len(remove) == 0 {
		return nil, fmt.Errorf("at least one environment variable must be provided")
	}
	if container == "" {
		container = "*"
	}
	return func(spec *corev1.PodSpec) (string, error) {
		cs := selectContainers(spec, container)
		if len(cs) == 0 {
			return "", fmt.Errorf("no container matching %q", container)
		}
		for _, c := range cs {
			if !overwrite {
				for _, e := range env {
					i := slices.IndexFunc(c.Env, func(old corev1.EnvVar) bool { return old.Name == e.Name })
					if i >= 0 && c.Env[i].Value != e.Value {
						return "", fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", e.Name, c.Env[i].Value)
					}
				}
			}
			c.Env = updateEnv(c.Env, env, remove)
		}
		return "env updated", nil
	}, nil
}

// updateEnv is existing with env set and remove removed, as kubectl set
// env makes it.
func updateEnv(existing, env []corev1.EnvVar, remove []string) []corev1.EnvVar {
	out := []corev1.EnvVar{}
	covered := sets.New(remove...)
	find := func(name string) (corev1.EnvVar, bool) {
		for _, e := range env {
			if e.Name == name {
				return e, true
			}
		}
		return corev1.EnvVar{}, false
	}
	for _, e := range existing {
		if covered.Has(e.Name) {
			continue
		}
		if newer, ok := find(e.Name); ok {
			covered.Insert(e.Name)
			out = append(out, newer)
			continue
		}
		out = append(out, e)
	}
	for _, e := range env {
		if !covered.Has(e.Name) {
			covered.Insert(e.Name)
			out = append(out, e)
		}
	}
	return out
}

// ParseResourceList reads {"cpu": "100m", "memory": "64Mi"}.
func ParseResourceList(m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := corev1.ResourceList{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q, err := resource.ParseQuantity(m[k])
		if err != nil {
			return nil, fmt.Errorf("invalid quantity %q for %s: %w", m[k], k, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// SetResources sets requests and limits of the containers that container
// selects ("" or "*" for all, init containers too), as kubectl set
// resources does: the resources named change, the others stay.
func SetResources(requests, limits corev1.ResourceList, container string) (PodSpecChange, error) {
	if len(requests) == 0 && len(limits) == 0 {
		return nil, fmt.Errorf("you must specify an update to requests or limits")
	}
	if container == "" {
		container = "*"
	}
	return func(spec *corev1.PodSpec) (string, error) {
		cs := selectContainers(spec, container)
		if len(cs) == 0 {
			return "", fmt.Errorf("unable to find container named %s", container)
		}
		for _, c := range cs {
			if len(limits) != 0 && len(c.Resources.Limits) == 0 {
				c.Resources.Limits = corev1.ResourceList{}
			}
			for k, v := range limits {
				c.Resources.Limits[k] = v
			}
			if len(requests) != 0 && len(c.Resources.Requests) == 0 {
				c.Resources.Requests = corev1.ResourceList{}
			}
			for k, v := range requests {
				c.Resources.Requests[k] = v
			}
		}
		return "resource requirements updated", nil
	}, nil
}
