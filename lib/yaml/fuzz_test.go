package yaml

import "testing"

// FuzzDocuments: YAML streams as manifests come (aliases, duplicate keys,
// NUL, invalid UTF-8, documents split oddly) decode or fail with an error:
// no panic. `go test` runs the seeds; `make fuzz` runs it for a few seconds.
func FuzzDocuments(f *testing.F) {
	for _, seed := range []string{
		"a: 1\n---\nb: 2\n", "a: &x [1, 2]\nb: *x\n", "a: 1\na: 2\n", "a: \"\x00\"\n", "a: \xff\xfe\n",
		"---\n---\n", "- =\n", "kind: List\nitems:\n- kind: ConfigMap\n", "{\"a\": [1, 2}\n",
		"a: &a [*a]\n", "x: &l [&l2 [1], *l2, *l2]\n", "\t- bad indent\n", "key: |\n  text\n---\n...\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		docs, err := DecodeDocuments(s)
		if err == nil {
			for _, d := range docs {
				_ = d
			}
		}
	})
}
