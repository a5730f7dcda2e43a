package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestOpenAPICacheRequestsE2E checks the OpenAPI v3 disk cache: a cold
// explain reads the list of documents and the one document of its kind's
// group-version, not the others; a warm one, in a new client on the same
// cache directory, sends no request at all (discovery included); a kind of
// another group-version reads only that document; and a list on disk that
// names a document the server no longer has (a changed hash) is read again.
func TestOpenAPICacheRequestsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	dir := t.TempDir()
	var log requestLog
	openapi := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			if strings.HasPrefix(p, "/openapi/") {
				out = append(out, p)
			}
		}
		return out
	}

	cold := countingClient(env, dir, &log)
	want, err := cold.Explain(ctx, "deploy.spec.strategy", kube.ExplainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/openapi/v3", "/openapi/v3/apis/apps/v1"}, openapi(log.take())); diff != "" {
		t.Errorf("cold explain: OpenAPI requests (-want +got):\n%s", diff)
	}

	warm := countingClient(env, dir, &log)
	got, err := warm.Explain(ctx, "deploy.spec.strategy", kube.ExplainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("warm explain differs from cold:\n%s\n---\n%s", got, want)
	}
	if _, err := warm.SchemaOf(ctx, "apps/v1", "Deployment"); err != nil {
		t.Fatal(err)
	}
	if _, err := warm.KindSchema(ctx, "deploy", ""); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) > 0 {
		t.Errorf("warm explain and schema made %d requests, want none: %v", len(got), got)
	}

	if _, err := warm.Explain(ctx, "pods.spec", kube.ExplainOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/openapi/v3/api/v1"}, openapi(log.take())); diff != "" {
		t.Errorf("explain of another group-version: OpenAPI requests (-want +got):\n%s", diff)
	}

	// A list whose hash for apps/v1 is not the server's: the document
	// under that hash is not on disk, the server answers the old hash
	// with the current document, the kind is found.
	files, _ := filepath.Glob(filepath.Join(dir, "openapi", "*", "paths.json"))
	if len(files) != 1 {
		t.Fatalf("the cached list: %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	stale := strings.Replace(string(b), "apis/apps/v1?hash=", "apis/apps/v1?hash=0", 1)
	if err := os.WriteFile(files[0], []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	again := countingClient(env, dir, &log)
	if got, err := again.Explain(ctx, "deploy.spec.strategy", kube.ExplainOptions{}); err != nil || got != want {
		t.Errorf("explain with a stale list: %v\n%s", err, got)
	}
	if got := openapi(log.take()); !slices.Contains(got, "/openapi/v3/apis/apps/v1") {
		t.Errorf("stale list: OpenAPI requests %v, want the apps/v1 document read again", got)
	}
}
