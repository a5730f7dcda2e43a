package kube

import (
	"testing"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// FuzzSelectors: label and field selectors, as every builtin that takes
// selector= or fields= passes them, are checked before any request: any
// text is taken or refused with an error, no panic, and one taken means
// the same when written back (what k8sh sends is what was meant). `go test`
// runs the seeds; `make fuzz` runs it for a few seconds.
func FuzzSelectors(f *testing.F) {
	for _, seed := range []string{"app=web,tier!=db", "a in (b, c)", "!a", "a=b=c", "x notin ()", "a,b", "a==b",
		"status.phase=Running", "metadata.name!=x,spec.nodeName=", `a=b\,c`, "a in (b,", "k8s.io/x=y", "a>1", "a<1", "  ", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		err := ListOptions{LabelSelector: s, FieldSelector: s}.validate()
		ls, lerr := labels.Parse(s)
		fs, ferr := fields.ParseSelector(s)
		if (lerr == nil && ferr == nil) != (err == nil) {
			t.Fatalf("validate(%q) = %v; labels %v, fields %v", s, err, lerr, ferr)
		}
		if lerr == nil {
			again, err := labels.Parse(ls.String())
			if err != nil || again.String() != ls.String() {
				t.Errorf("label selector %q is written back as %q, which parses as %v, %v", s, ls.String(), again, err)
			}
		}
		if ferr == nil {
			again, err := fields.ParseSelector(fs.String())
			if err != nil || again.String() != fs.String() {
				t.Errorf("field selector %q is written back as %q, which parses as %v, %v", s, fs.String(), again, err)
			}
		}
	})
}
