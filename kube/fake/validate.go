package fake

import (
	"encoding/base64"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// mergeStringData does what decoding a v1 Secret does in the apiserver
// (Convert_v1_Secret_To_core_Secret): the values of stringData go into
// data, base64-encoded, over data's own, and stringData, write-only, is
// not kept.
func mergeStringData(res *resource, u *unstructured.Unstructured) {
	if res.gvr.Group != "" || res.kind != "Secret" {
		return
	}
	sd, ok := u.Object["stringData"].(map[string]any)
	delete(u.Object, "stringData")
	if !ok || len(sd) == 0 {
		return
	}
	data, _ := u.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
		u.Object["data"] = data
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
}

// validateUpdate refuses what kube-apiserver's validation refuses in an
// update of a ConfigMap or a Secret (ValidateConfigMapUpdate,
// ValidateSecretUpdate): a Secret's type changed; an immutable one's data
// (and a ConfigMap's binaryData) changed, or immutable unset.
func validateUpdate(res *resource, old, next *unstructured.Unstructured) error {
	if res.gvr.Group != "" || (res.kind != "ConfigMap" && res.kind != "Secret") {
		return nil
	}
	var errs field.ErrorList
	if res.kind == "Secret" {
		// The apiserver defaults an empty type to Opaque; the fake does not
		// default, so the two are one here.
		typ := func(u *unstructured.Unstructured) string {
			if t, _, _ := unstructured.NestedString(u.Object, "type"); t != "" {
				return t
			}
			return "Opaque"
		}
		if typ(next) != typ(old) {
			errs = append(errs, field.Invalid(field.NewPath("type"), typ(next), "field is immutable"))
		}
	}
	if immutable, _, _ := unstructured.NestedBool(old.Object, "immutable"); immutable {
		const msg = "field is immutable when `immutable` is set"
		if still, _, _ := unstructured.NestedBool(next.Object, "immutable"); !still {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
		}
		fields := []string{"data"}
		if res.kind == "ConfigMap" {
			fields = append(fields, "binaryData")
		}
		for _, f := range fields {
			if !reflect.DeepEqual(nonEmpty(old.Object[f]), nonEmpty(next.Object[f])) {
				errs = append(errs, field.Forbidden(field.NewPath(f), msg))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(res.gvk().GroupKind(), next.GetName(), errs)
}

// nonEmpty is m, or nil for an empty map (the apiserver's storage keeps no
// empty map).
func nonEmpty(m any) any {
	if mm, ok := m.(map[string]any); ok && len(mm) == 0 {
		return nil
	}
	return m
}
