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

// TestPrintTable: cells go through kubectl's table printer: a cell is cut
// at its first line break with "...", terminal escapes print as "^[", and
// the column is as wide as kubectl makes it (the cell's full length).
func TestPrintTable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{"plain", []string{"NAME", "AGE"}, [][]string{{"web", "1d"}, {"web-longer", "10m"}},
			"NAME         AGE\nweb          1d\nweb-longer   10m"},
		{"escapes", []string{"NAME", "MESSAGE"}, [][]string{{"a", "\x1b]0;pwned\x07 \x1b[31mred\x1b[0m"}},
			"NAME   MESSAGE\na      ^[]0;pwned\x07 ^[[31mred^[[0m"},
		{"carriage return", []string{"NAME", "MESSAGE"}, [][]string{{"a", "x\ry"}},
			"NAME   MESSAGE\na      x..."},
		{"multi-line", []string{"NAME", "TITLE", "AGE"}, [][]string{{"a", "first\nsecond line", "1d"}, {"b", "short", "2d"}},
			"NAME   TITLE               AGE\na      first...            1d\nb      short               2d"},
		{"form feed", []string{"NAME", "X"}, [][]string{{"a", "p\fq"}}, "NAME   X\na      p..."},
		{"header", []string{"NAME", "BAD\x1b[31m\nHEADER"}, [][]string{{"a", "b"}}, "NAME   BAD^[[31M...\na      b"},
		{"empty", []string{"NAME", "AGE"}, nil, "NAME   AGE"},
		{"empty, header escaped", []string{"NAME", "BAD\x1b[31m\nHEADER"}, nil, "NAME   BAD^[[31m..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := printTable(tc.header, tc.rows); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
