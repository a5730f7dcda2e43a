package builtins

import (
	"context"
	"fmt"
	"github.com/k8sh/k8sh/lib/sys"
	"io"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestCanILikeKubectlE2E compares k8s.can_i with kubectl auth can-i (its
// yes or no and exit status) as the admin (context sandbox) and as the
// read-only sandbox-viewer, allowed and denied: resources by short name and
// group, a subresource, a name, "*", a non-resource URL, a resource the
// server lacks; k8s.can_i_list with kubectl auth can-i --list in the test's namespace, and
// k8s.whoami with kubectl auth whoami, for both users. The
// viewer's reviews are made in a --read-only session.
func TestCanILikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	checks := [][]string{
		{"list", "pods"}, {"create", "pods"}, {"delete", "deploy"}, {"get", "deployments.apps"},
		{"get", "secrets"}, {"get", "pods", "--subresource", "log"}, {"create", "pods", "--subresource", "exec"},
		{"get", "configmaps/d19-cm"}, {"update", "cm/d19-cm"}, {"*", "*"}, {"list", "nodes", "-A"}, {"get", "/logs"}, {"get", "/healthz"},
		{"get", "d19foos"}, {"list", "widgets.d19.k8sh.test"},
	}
	for _, ctx := range []string{"sandbox", "sandbox-viewer"} {
		c := e2eClient(t, env, ctx)
		for _, ch := range checks {
			t.Run(ctx+" "+strings.Join(ch, " "), func(t *testing.T) {
				out, errOut, code := kubectl.Run("", append([]string{"--context", ctx, "auth", "can-i"}, ch...)...)
				want := code == 0
				if want != (out == "yes\n") {
					t.Fatalf("kubectl auth can-i %v: exit %d, %q %q", ch, code, out, errOut)
				}
				star := fmt.Sprintf("k8s.can_i(%q, %q", ch[0], ch[1])
				for i := 2; i < len(ch); i++ {
					switch ch[i] {
					case "--subresource":
						star += fmt.Sprintf(", subresource=%q", ch[i+1])
						i++
					case "-A":
						star += ", all_namespaces=True"
					default:
						star += fmt.Sprintf(", %q", ch[i])
					}
				}
				star += ")"
				var warned strings.Builder
				got := runStarReadOnly(t, c, star, &warned)
				if got != starlark.Bool(want) {
					t.Errorf("%s = %v; kubectl auth can-i %s: %q", star, got, strings.Join(ch, " "), out)
				}
				if strings.TrimSpace(warned.String()) != strings.TrimSpace(errOut) { // kubectl ends it with two line breaks
					t.Errorf("%s warned %q; kubectl %q", star, warned.String(), errOut)
				}
			})
		}
		t.Run(ctx+" can-i --list", func(t *testing.T) {
			want, wantErr, _ := kubectl.Run("", "--context", ctx, "auth", "can-i", "--list")
			var warned strings.Builder
			if got := runStarReadOnly(t, c, "k8s.can_i_list()", &warned).String() + "\n"; got != want {
				t.Errorf("k8s.can_i_list():\n%s\nkubectl auth can-i --list:\n%s", got, want)
			}
			if strings.TrimSpace(warned.String()) != strings.TrimSpace(wantErr) {
				t.Errorf("k8s.can_i_list() warned %q; kubectl %q", warned.String(), wantErr)
			}
		})
		t.Run(ctx+" whoami", func(t *testing.T) {
			want, _, _ := kubectl.Run("", "--context", ctx, "auth", "whoami")
			var warned strings.Builder
			if got := runStarReadOnly(t, c, "k8s.whoami()", &warned).String() + "\n"; got != want {
				t.Errorf("k8s.whoami():\n%s\nkubectl auth whoami:\n%s", got, want)
			}
		})
	}
	runStar(t, e2eClient(t, env, "sandbox-viewer"), `
w = k8s.whoami()
assert.eq(w.username, "viewer")
assert.true("system:authenticated" in w.groups)
assert.eq(w.extra, {})
rules = k8s.can_i_list()
assert.eq(type(rules), "k8s.rules")
pods = [r for r in rules if "pods" in r.resources]
assert.true(len(pods) > 0 and "list" in pods[0].verbs and "delete" not in pods[0].verbs)
assert.fails(lambda: k8s.can_i("get", ""), 'k8s.can_i: give a verb and a kind, got "get" and ""')
assert.fails(lambda: k8s.can_i("get", "/logs", "x"), 'takes no name or subresource')
`)
}

// runStarReadOnly evaluates the expression src on cluster c in a
// --read-only session whose stderr is w.
func runStarReadOnly(t *testing.T, c Cluster, src string, w io.Writer) starlark.Value {
	t.Helper()
	thread := &starlark.Thread{Name: t.Name()}
	SetSession(thread, &Session{Cluster: c, ReadOnly: true, Policy: &Policy{}, Sys: sys.Options{Stderr: w}})
	sys.SetContext(thread, context.Background())
	v, err := starlark.EvalOptions(starOptions, thread, "auth.star", src, Globals(nil))
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return v
}
