package builtins

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

// Format renders a value as the REPL echoes it: YAML for one object (without
// managedFields), a kubectl-like table for a list of objects, repr for
// anything else, and nothing for None.
func Format(v starlark.Value) string {
	switch v := v.(type) {
	case starlark.NoneType:
		return ""
	case *Object:
		m := v.Map()
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "managedFields")
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			return v.String()
		}
		return strings.TrimRight(string(out), "\n")
	case *starlark.List:
		if objs, ok := objectsOf(v); ok && len(objs) > 0 {
			return table(objs, time.Now())
		}
	}
	return v.String()
}

func objectsOf(l *starlark.List) ([]*Object, bool) {
	objs := make([]*Object, l.Len())
	for i := range objs {
		o, ok := l.Index(i).(*Object)
		if !ok {
			return nil, false
		}
		if _, ok := o.m["metadata"].(map[string]any); !ok {
			return nil, false
		}
		objs[i] = o
	}
	return objs, true
}

// table prints NAMESPACE (when the objects span more than one), KIND (when
// they are of more than one), NAME and AGE, as kubectl get does.
func table(objs []*Object, now time.Time) string {
	nss, kinds := map[string]bool{}, map[string]bool{}
	for _, o := range objs {
		nss[str(o.m, "metadata", "namespace")] = true
		kinds[str(o.m, "kind")] = true
	}
	showNS, showKind := len(nss) > 1, len(kinds) > 1
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	var head []string
	if showNS {
		head = append(head, "NAMESPACE")
	}
	if showKind {
		head = append(head, "KIND")
	}
	fmt.Fprintln(w, strings.Join(append(head, "NAME", "AGE"), "\t"))
	for _, o := range objs {
		var row []string
		if showNS {
			row = append(row, str(o.m, "metadata", "namespace"))
		}
		if showKind {
			row = append(row, str(o.m, "kind"))
		}
		age := "<unknown>"
		if ts, err := time.Parse(time.RFC3339, str(o.m, "metadata", "creationTimestamp")); err == nil {
			age = duration.HumanDuration(now.Sub(ts))
		}
		fmt.Fprintln(w, strings.Join(append(row, str(o.m, "metadata", "name"), age), "\t"))
	}
	w.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// str reads a string field at path from JSON data, "" when absent.
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}
