package builtins

import (
	"regexp"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestListWhereByPageE2E: k8s.list's where, which runs over each page as it
// comes (listwhere.go), gives what filtering the whole list gave (as it
// still does with limit=): the same
// objects in the same order, printed the same (one kind, several kinds, all
// namespaces, with a selector), nothing for none kept, and a failing where fails the call as before.
func TestListWhereByPageE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	createConfigMaps(t, env, 4, map[string]string{"app": "web"}, "web-")
	createConfigMaps(t, env, 3, map[string]string{"app": "db"}, "db-")

	out := runStar(t, c, `
ns = "`+env.Namespace+`"
f = lambda o: o.metadata.name.endswith("1") or o.metadata.name.endswith("2")
# limit= filters after the whole list is read (where runs after limit):
# the way every where ran before it ran by page.
cases = [
    (lambda: k8s.list("cm", where=f), lambda: k8s.list("cm", where=f, limit=1000)),
    (lambda: k8s.list("cm,sa", where=f), lambda: k8s.list("cm,sa", where=f, limit=1000)),
    (lambda: k8s.list("cm", all_namespaces=True, where=lambda o: o.metadata.namespace == ns and f(o)),
     lambda: k8s.list("cm", all_namespaces=True, where=lambda o: o.metadata.namespace == ns and f(o), limit=100000)),
    (lambda: k8s.list("cm", selector="app=web", where=lambda o: o.data.i != "0"),
     lambda: k8s.list("cm", selector="app=web", where=lambda o: o.data.i != "0", limit=1000)),
]
assert.eq([o.metadata.name for o in k8s.list("cm", where=f)], [o.metadata.name for o in k8s.list("cm") if f(o)])
for kept, full in cases:
    a, b = kept(), full()
    assert.eq([(o.kind, o.metadata.name) for o in a], [(o.kind, o.metadata.name) for o in b])
    assert.eq(a, b)
    k8s.print(a)
    print("--")
    k8s.print(b)
    print("==")

# where saw the objects the list returns, rows and all
seen = []
def g(o):
    seen.append(o.metadata.name)
    return o.metadata.name.startswith("db-")
kept = k8s.list("cm", where=g)
assert.eq(sorted(seen), sorted([o.metadata.name for o in k8s.list("cm")]))
assert.eq([o.metadata.name for o in kept], ["db-0", "db-1", "db-2"])

k8s.print(k8s.list("cm", where=lambda o: False))
assert.fails(lambda: k8s.list("cm", where=lambda o: o.nope), "k8s.list: where: .*nope")
assert.fails(lambda: k8s.list("cm", where=lambda o: 1 // 0), "k8s.list: where: .*division by zero")
`)
	blocks := strings.Split(out, "==\n")
	if len(blocks) != 5 {
		t.Fatalf("output in %d blocks, want 5:\n%s", len(blocks), out)
	}
	// The two lists were read a moment apart: their AGE may differ.
	age := regexp.MustCompile(`(?m)\s+\d+[smhd]$`)
	for i, blk := range blocks[:4] {
		kept, full, ok := strings.Cut(age.ReplaceAllString(blk, ""), "--\n")
		if !ok || kept != full {
			t.Errorf("case %d: where printed\n%s\nthe filtered whole list printed\n%s", i, kept, full)
		}
		if !strings.Contains(kept, "NAME") {
			t.Errorf("case %d: no table:\n%s", i, kept)
		}
	}
	if blocks[4] != "" { // "No resources found ..." goes to stderr
		t.Errorf("none kept printed %q", blocks[4])
	}
}
