package builtins

import (
	"errors"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
)

// spelled is a preloaded module whose unknown member is an error naming
// the module and the member nearest in spelling, with the spelling
// function that suggests kinds (kube.Closest), which also catches swapped
// letters: "k8s has no .gte field or method (did you mean .get?)".
// Starlark's own hint ("module has no .gte field or method") names no
// module and misses those.
type spelled struct{ *starlarkstruct.Module }

var _ starlark.HasAttrs = spelled{}

func (m spelled) Attr(name string) (starlark.Value, error) {
	if v, err := m.Module.Attr(name); v != nil || err != nil {
		return v, err
	}
	msg := fmt.Sprintf("%s has no .%s field or method", m.Name, name)
	if near := kube.Closest(name, m.AttrNames(), 1); len(near) > 0 {
		msg += fmt.Sprintf(" (did you mean .%s?)", near[0])
	}
	// Not a starlark.NoSuchAttrError: the interpreter would add its own hint.
	return nil, errors.New(msg)
}
