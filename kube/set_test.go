package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMatchWildcard(t *testing.T) {
	for _, c := range []struct {
		s, pattern string
		want       bool
	}{
		{"app", "app", true}, {"app", "ap", false}, {"app", "*", true}, {"", "*", true},
		{"sidecar", "side*", true}, {"sidecar", "*car", true}, {"sidecar", "s*d*r", true},
		{"sidecar", "*x*", false}, {"sidecar", "car*", false}, {"aa", "a*a", true}, {"a", "a*a", false},
	} {
		if got := matchWildcard(c.s, c.pattern); got != c.want {
			t.Errorf("matchWildcard(%q, %q) = %v, want %v", c.s, c.pattern, got, c.want)
		}
	}
}

func TestUpdateEnv(t *testing.T) {
	existing := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}, {Name: "A", Value: "dup"}, {Name: "C", Value: "3"}}
	got := updateEnv(existing, []corev1.EnvVar{{Name: "D", Value: "4"}, {Name: "A", Value: "9"}}, []string{"C"})
	want := []corev1.EnvVar{{Name: "A", Value: "9"}, {Name: "B", Value: "2"}, {Name: "D", Value: "4"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestMetadataChangeValidate(t *testing.T) {
	for _, c := range []struct {
		m    MetadataChange
		want string
	}{
		{MetadataChange{}, "at least one label update is required"},
		{MetadataChange{Annotations: true}, "at least one annotation update is required"},
		{MetadataChange{Set: map[string]string{"a": "1"}, Remove: []string{"a"}}, "can not both modify and remove a label in the same command"},
		{MetadataChange{Annotations: true, Set: map[string]string{"a": "1"}, Remove: []string{"a"}}, "can not both modify and remove the following annotation(s) in the same command: a"},
		{MetadataChange{Set: map[string]string{"a": "-x"}}, `invalid label value: "a=-x": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`},
		{MetadataChange{Set: map[string]string{"a": "x"}}, ""},
	} {
		err := c.m.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%+v: got %q, want %q", c.m, got, c.want)
		}
	}
}
