package kube

import (
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// PlanCounts is how many changes of each kind a plan holds.
type PlanCounts struct{ Create, Update, Delete int }

// Counts counts p's changes.
func (p *Plan) Counts() PlanCounts {
	var c PlanCounts
	for _, ch := range p.Changes {
		switch ch.Op {
		case "create":
			c.Create++
		case "update":
			c.Update++
		case "delete":
			c.Delete++
		}
	}
	return c
}

// Where is the plan's context and namespace: "sandbox/default".
func (p *Plan) Where() string { return p.Context + "/" + p.Namespace }

// Summary is the plan's last line: "Plan: 3 to create, 5 to change, 1 to
// delete in sandbox/default", or "Plan: no changes in sandbox/default".
func (p *Plan) Summary() string {
	c := p.Counts()
	if len(p.Changes) == 0 {
		return "Plan: no changes in " + p.Where()
	}
	return fmt.Sprintf("Plan: %d to create, %d to change, %d to delete in %s", c.Create, c.Update, c.Delete, p.Where())
}

// ObjectName is how the plan names the object of ch, as kubectl's name
// printer does: "deployment.apps/web", "configmap/settings".
func (ch *PlanChange) ObjectName() string {
	kind := strings.ToLower(ch.Kind)
	if kind == "" {
		kind = ch.Resource
	}
	if ch.Group != "" {
		kind += "." + ch.Group
	}
	return kind + "/" + ch.Name
}

// Title is the change's heading: "+ create configmap/settings in demo".
func (ch *PlanChange) Title() string {
	sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[ch.Op]
	s := sign + " " + ch.Op + " " + ch.ObjectName()
	if ch.Namespace != "" {
		s += " in " + ch.Namespace
	}
	if ch.Subresource != "" {
		s += " (" + ch.Subresource + ")"
	}
	return s
}

// Diff is the unified diff of the change's object, as YAML without
// managedFields and what changes on every write (as k8s.diff leaves them
// out), without status unless the change is of the status, and with the
// values of a Secret's data hidden.
func (ch *PlanChange) Diff() string {
	clean := func(m map[string]any) *unstructured.Unstructured {
		if m == nil {
			return nil
		}
		u := (&unstructured.Unstructured{Object: m}).DeepCopy()
		if ch.Subresource != "status" {
			unstructured.RemoveNestedField(u.Object, "status")
		}
		return u
	}
	before, after := clean(ch.Before), clean(ch.After)
	if ch.Kind == "Secret" && ch.Group == "" {
		hideSecretData(before, after)
	}
	a, _ := diffable(before)
	b, _ := diffable(after)
	if a == b {
		return ""
	}
	from, to := "live/"+ch.ObjectName(), "planned/"+ch.ObjectName()
	if before == nil {
		from = "/dev/null"
	}
	if after == nil {
		to = "/dev/null"
	}
	text, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: lines(a), B: lines(b), FromFile: from, ToFile: to, Context: 3})
	return text
}

// hideSecretData replaces the values of the Secrets' data and stringData
// by "(hidden)", and by "(hidden, changed)" in after where the value is
// not the one before.
func hideSecretData(before, after *unstructured.Unstructured) {
	old := map[string]any{}
	if before != nil {
		for _, f := range []string{"data", "stringData"} {
			if m, ok := before.Object[f].(map[string]any); ok {
				for k, v := range m {
					old[f+"/"+k] = v
					m[k] = "(hidden)"
				}
			}
		}
	}
	if after != nil {
		for _, f := range []string{"data", "stringData"} {
			if m, ok := after.Object[f].(map[string]any); ok {
				for k, v := range m {
					if o, ok := old[f+"/"+k]; ok && fmt.Sprint(o) == fmt.Sprint(v) {
						m[k] = "(hidden)"
					} else {
						m[k] = "(hidden, changed)"
					}
				}
			}
		}
	}
}

// Write prints the plan to w: each object's changes (in the order of its
// first change), each with its diff, what the plan could not answer, and
// the summary; in colour when colour is true.
func (p *Plan) Write(w io.Writer, colour bool) {
	paint := func(attrs ...color.Attribute) func(string) string {
		c := color.New(attrs...)
		if colour {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return func(s string) string { return c.Sprint(s) }
	}
	green, yellow, red, cyan, bold := paint(color.FgGreen), paint(color.FgYellow), paint(color.FgRed), paint(color.FgCyan), paint(color.Bold)
	opColour := map[string]func(string) string{"create": green, "update": yellow, "delete": red}
	type object struct {
		key     objKey
		changes []int
	}
	var order []*object
	byKey := map[objKey]*object{}
	for i, ch := range p.Changes {
		k := objKey{ch.Group, ch.Resource, ch.Namespace, ch.Name}
		o := byKey[k]
		if o == nil {
			o = &object{key: k}
			byKey[k] = o
			order = append(order, o)
		}
		o.changes = append(o.changes, i)
	}
	for _, o := range order {
		for _, i := range o.changes {
			ch := &p.Changes[i]
			fmt.Fprintln(w, opColour[ch.Op](ch.Title()))
			for _, l := range lines(ch.Diff()) {
				l = strings.TrimSuffix(l, "\n")
				switch {
				case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
					l = bold(l)
				case strings.HasPrefix(l, "+"):
					l = green(l)
				case strings.HasPrefix(l, "-"):
					l = red(l)
				case strings.HasPrefix(l, "@@"):
					l = cyan(l)
				}
				fmt.Fprintln(w, "    "+l)
			}
		}
		fmt.Fprintln(w)
	}
	if len(p.Unanswered) > 0 {
		fmt.Fprintln(w, yellow("Not answered by the plan (the real run may differ from here on):"))
		for _, u := range p.Unanswered {
			fmt.Fprintln(w, "  ! "+u)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, bold(p.Summary()))
}

// String is the plan's text, without colour.
func (p *Plan) String() string {
	var b strings.Builder
	p.Write(&b, false)
	return b.String()
}
