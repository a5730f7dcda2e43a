package builtins

import (
	"testing"

	"github.com/fatih/color"
)

func TestColorize(t *testing.T) {
	defer func(old bool) { color.NoColor = old }(color.NoColor)
	color.NoColor = true
	in := "metadata:\n  name: web\n  labels:\n    app: web\nspec:\n- name: c\n  image: x:1\n"
	if got := colorize(in, "yaml"); got != in {
		t.Errorf("NoColor: got %q", got)
	}
	color.NoColor = false
	got := colorize(in, "yaml")
	want := "\x1b[36mmetadata\x1b[0m:\n  \x1b[36mname\x1b[0m: web\n  \x1b[36mlabels\x1b[0m:\n    \x1b[36mapp\x1b[0m: web\n\x1b[36mspec\x1b[0m:\n- \x1b[36mname\x1b[0m: c\n  \x1b[36mimage\x1b[0m: x:1\n"
	if got != want {
		t.Errorf("colorize yaml:\ngot  %q\nwant %q", got, want)
	}
	if got := colorize("NAME   AGE\nweb    1d", "table"); got != "\x1b[1mNAME   AGE\x1b[22m\nweb    1d" {
		t.Errorf("colorize table: %q", got)
	}
}
