package builtins

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/lib/doc"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/reference/*.md from the builtins' doc strings")

// TestDocsInSync checks that docs/reference/<module>.md says exactly what
// help() says of each builtin. Run `go test ./builtins -run TestDocsInSync
// -update-docs` after changing a doc string.
func TestDocsInSync(t *testing.T) {
	byModule := map[string][]string{}
	for _, name := range doc.Names() {
		mod, _, ok := strings.Cut(name, ".")
		if !ok {
			mod = "globals"
		}
		byModule[mod] = append(byModule[mod], name)
	}
	dir := filepath.Join("..", "docs", "reference")
	for mod, names := range byModule {
		var b strings.Builder
		if mod == "globals" {
			fmt.Fprintf(&b, "# Global builtins\n\n")
		} else {
			fmt.Fprintf(&b, "# The `%s` module\n\n", mod)
		}
		b.WriteString("<!-- Generated from the doc strings that help() prints; `go test ./builtins -run TestDocsInSync -update-docs` rewrites it. -->\n")
		for _, name := range names {
			text, _ := doc.Get(name)
			sig, prose, _ := strings.Cut(text, "\n\n")
			fmt.Fprintf(&b, "\n## %s\n\n```python\n%s\n```\n\n%s\n", name, sig, prose)
		}
		path := filepath.Join(dir, mod+".md")
		want := b.String()
		if *updateDocs {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is out of date with the doc strings: run go test ./builtins -run TestDocsInSync -update-docs", path)
		}
	}
}
