package kube

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestComponentSchemas(t *testing.T) {
	doc := `{"openapi": "3.0.0", "info": {"title": "x\"}{"},
 "components": {"schemas": {
   "a.B": {"type": "object", "properties": {"s": {"type": "string", "default": "}]\\\"["}}},
   "c": {"enum": [1, 2.5, true, null, "x"]}, "empty": {}
 }}, "paths": {}}`
	got, err := componentSchemas([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal([]byte(doc), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Components.Schemas, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{``, `[]`, `{"components": {"schemas": {"a": {"b": }}}`, `{"components": {"schemas": {"a": {"b": "c}}}`, `{"components": {"schemas": {"a": {]}}}`} {
		if _, err := componentSchemas([]byte(bad)); err == nil {
			t.Errorf("componentSchemas(%q): no error", bad)
		}
	}
}
