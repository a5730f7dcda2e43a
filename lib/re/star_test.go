package re

import (
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/startest"
)

// TestStarFiles runs testdata/*.star with the re module.
func TestStarFiles(t *testing.T) {
	startest.Run(t, func() starlark.StringDict { return starlark.StringDict{"re": Module} })
}
