package builtins

import (
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

func init() {
	K8s.Members["status"] = doc.Builtin("k8s.status", statusDoc, statusBuiltin)
}

const statusDoc = `k8s.status(obj)

Returns what kstatus (sigs.k8s.io/cli-utils, as kpt, Flux and Config Sync
use it) says of an object of any kind: a struct with status ("Current",
"InProgress", "Failed", "Terminating" or "Unknown") and message.
Current means reconciled and healthy: the controller has observed the
latest generation and the object is ready by its kind's rules or its
Ready condition.`

func statusBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var obj starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &obj); err != nil {
		return nil, err
	}
	var m map[string]any
	switch v := obj.(type) {
	case *Object:
		m = v.Map()
	case starlark.IterableMapping:
		g, err := starconv.FromStarlark(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		m = g.(map[string]any)
	default:
		return nil, fmt.Errorf("%s: got %s, want k8s.object or dict", b.Name(), obj.Type())
	}
	st, err := kube.ComputeStatus(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"status":  starlark.String(st.Status),
		"message": starlark.String(st.Message),
	}), nil
}
