package fake

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// fieldManagers keeps managedFields as kube-apiserver does, with its own
// field manager (k8s.io/apimachinery's managedfields on
// sigs.k8s.io/structured-merge-diff): the schemas of the built-in kinds are
// client-go's (the same as the apiserver's OpenAPI); custom resources are
// typed by deduction from their values, as a CRD without a structural
// schema is.
type fieldManagers struct {
	mu       sync.Mutex
	managers map[string]*managedfields.FieldManager
}

// The type converters: made once (the built-in one reads the schemas of
// every built-in kind: ~0.3 s), when a fake first writes, and shared.
var (
	builtinTypes = sync.OnceValue(func() managedfields.TypeConverter { return applyconfigurations.NewTypeConverter(scheme.Scheme) })
	deducedTypes = sync.OnceValue(managedfields.NewDeducedTypeConverter)
)

func newFieldManagers() *fieldManagers {
	return &fieldManagers{managers: map[string]*managedfields.FieldManager{}}
}

// manager is the field manager of res (or of its subresource sub).
func (f *fieldManagers) manager(res *resource, sub string) (*managedfields.FieldManager, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := res.gvr.String() + "/" + sub
	if m, ok := f.managers[k]; ok {
		return m, nil
	}
	gvk := res.gvk()
	tc, deduced := deducedTypes(), true
	if !res.crd {
		if _, err := builtinTypes().ObjectToTyped(emptyTyped(gvk)); err == nil {
			tc, deduced = builtinTypes(), false
		}
	}
	// What each request may not change: status through the resource when it
	// has a status subresource, everything but status through that one.
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	if res.subs["status"] {
		paths := fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
		if sub == "status" {
			paths = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata"))
		}
		reset = map[fieldpath.APIVersion]fieldpath.Filter{fieldpath.APIVersion(gvk.GroupVersion().String()): fieldpath.NewExcludeSetFilter(paths)}
	}
	newManager := managedfields.NewDefaultFieldManager
	if deduced {
		newManager = managedfields.NewDefaultCRDFieldManager
	}
	m, err := newManager(tc, unstructuredConvertor{}, noDefaults{}, unstructuredCreater{}, gvk, gvk.GroupVersion(), sub, reset)
	if err != nil {
		return nil, fmt.Errorf("field manager of %s: %w", gvk, err)
	}
	f.managers[k] = m
	return m, nil
}

func emptyTyped(gvk schema.GroupVersionKind) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	return u
}

// update records manager's change of live into next in next's managedFields.
func (f *fieldManagers) update(res *resource, sub string, live, next *unstructured.Unstructured, manager string) (*unstructured.Unstructured, error) {
	m, err := f.manager(res, sub)
	if err != nil {
		return nil, err
	}
	out, err := m.Update(live, next, manager)
	if err != nil {
		return nil, err
	}
	return toUnstructured(out)
}

// apply merges applied into live for manager, as server-side apply does.
func (f *fieldManagers) apply(res *resource, sub string, live, applied *unstructured.Unstructured, manager string, force bool) (*unstructured.Unstructured, error) {
	m, err := f.manager(res, sub)
	if err != nil {
		return nil, err
	}
	out, err := m.Apply(live, applied, manager, force)
	if err != nil {
		return nil, err
	}
	return toUnstructured(out)
}

func toUnstructured(o runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := o.(*unstructured.Unstructured); ok {
		return u, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// unstructuredConvertor converts nothing: the fake keeps each object in the
// one version it was made in.
type unstructuredConvertor struct{}

func (unstructuredConvertor) Convert(in, out, _ any) error {
	u, ok := in.(*unstructured.Unstructured)
	o, ok2 := out.(*unstructured.Unstructured)
	if !ok || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	o.Object = runtime.DeepCopyJSON(u.Object)
	return nil
}

func (unstructuredConvertor) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	gvk := in.GetObjectKind().GroupVersionKind()
	if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && target != gvk {
		return nil, fmt.Errorf("the fake cluster keeps %s in version %s only (asked for %s)", gvk.Kind, gvk.GroupVersion(), target.GroupVersion())
	}
	return in, nil
}

func (unstructuredConvertor) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	return emptyTyped(gvk), nil
}

type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}
