package builtins

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// selectorArg is a label or field selector given as a string
// ("app=web,tier!=db") or a dict ({"app": "web"}).
type selectorArg struct {
	s string
}

var _ starlark.Unpacker = (*selectorArg)(nil)

func (a *selectorArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		a.s = ""
	case starlark.String:
		a.s = string(v)
	case starlark.IterableMapping:
		var parts []string
		for _, kv := range v.Items() {
			k, ok := starlark.AsString(kv[0])
			if !ok {
				return fmt.Errorf("selector keys must be str, got %s", kv[0].Type())
			}
			val, ok := starlark.AsString(kv[1])
			if !ok {
				return fmt.Errorf("selector value of %q must be str, got %s", k, kv[1].Type())
			}
			parts = append(parts, k+"="+val)
		}
		sort.Strings(parts)
		a.s = strings.Join(parts, ",")
	default:
		return fmt.Errorf("got %s, want str or dict", v.Type())
	}
	return nil
}
