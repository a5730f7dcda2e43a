package builtins

import (
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/startest"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/lib/yaml"
)

// TestStarFiles runs testdata/*.star, go.starlark.net style: each file uses
// assert.eq / assert.fails, and obj(json_text) to make a k8s.object.
func TestStarFiles(t *testing.T) {
	startest.Run(t, starGlobals)
}

var starOptions = startest.Options

func starGlobals() starlark.StringDict {
	globals := Globals(&Session{Sys: sys.Options{Argv: []string{"test"}}})
	globals["obj"] = starlark.NewBuiltin("obj", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var text string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "text", &text); err != nil {
			return nil, err
		}
		return objectFromJSON(text)
	})
	return globals
}

// objectFromJSON decodes text as the API client does (integers as int64).
func objectFromJSON(text string) (*Object, error) {
	docs, err := yaml.DecodeDocuments(text)
	if err != nil {
		return nil, err
	}
	return NewObject(docs[0].(map[string]any)), nil
}
