package kube

import (
	"strings"
	"testing"
)

// TestRedact: no Secret value and no token is left in what a cassette
// keeps, whatever holds them: one object, a list (whose items have no
// kind), a Table's rows, watch events one a line; other bodies keep their values.
func TestRedact(t *testing.T) {
	for _, body := range []string{
		`{"kind":"Secret","apiVersion":"v1","data":{"p":"czNjcjN0"},"stringData":{"q":"s3cr3t"}}`,
		"{\n  \"kind\": \"SecretList\",\n  \"items\": [{\"data\": {\"p\": \"czNjcjN0\"}}]\n}",
		`{"kind":"Table","rows":[{"object":{"kind":"Secret","data":{"p":"czNjcjN0"}}}]}`,
		`{"type":"ADDED","object":{"kind":"Secret","data":{"p":"czNjcjN0"}}}` + "\n" +
			`{"type":"MODIFIED","object":{"kind":"Secret","data":{"p":"czNjcjN0"}}}` + "\n",
		`{"kind":"TokenRequest","status":{"token":"s3cr3t"}}`,
	} {
		got := redact(body)
		if strings.Contains(got, "czNjcjN0") || strings.Contains(got, "s3cr3t") {
			t.Errorf("redact(%s) = %s", body, got)
		}
		if !strings.Contains(got, "REDACTED") && !strings.Contains(got, redactedBase64) {
			t.Errorf("redact(%s) = %s: nothing marked redacted", body, got)
		}
	}
	if n := strings.Count(redact(`{"type":"ADDED","object":{"kind":"Secret","data":{"p":"x"}}}`+"\n"+`{"type":"DELETED","object":{"kind":"Secret","data":{"p":"x"}}}`+"\n"), "\n"); n != 2 {
		t.Errorf("watch events: %d lines, want 2", n)
	}
	// A body without a Secret keeps its values (as JSON, re-encoded when
	// it mentions a token).
	for _, keep := range []string{`{"kind":"ConfigMap","data":{"a":"b"}}`, `{"kind":"ConfigMap","data":{"token":"t"}}`} {
		if got := redact(keep); !strings.Contains(got, `"data":{"`) || strings.Contains(got, "REDACTED") {
			t.Errorf("redact(%s) = %s, want its values kept", keep, got)
		}
	}
}
