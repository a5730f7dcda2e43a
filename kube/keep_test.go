package kube

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestKeepOnly: a page filtered by ListOptions.Keep keeps the items kept,
// their rows with them, and the table's order among them (Positions,
// renumbered from 0); an error from Keep is returned.
func TestKeepOnly(t *testing.T) {
	page := func(positions []int) *RowList {
		l := &RowList{Rows: &Rows{Positions: positions}}
		for i := range 5 {
			o, err := NewRawObject(fmt.Appendf(nil, `{"metadata":{"name":"o%d"}}`, i))
			if err != nil {
				t.Fatal(err)
			}
			l.Raw = append(l.Raw, o)
			l.Rows.Cells = append(l.Rows.Cells, []any{fmt.Sprint("o", i)})
		}
		return l
	}
	names := func(l *RowList) (raw, cells []string) {
		for _, o := range l.Raw {
			raw = append(raw, o.Map()["metadata"].(map[string]any)["name"].(string))
		}
		for _, c := range l.Rows.Cells {
			cells = append(cells, c[0].(string))
		}
		return raw, cells
	}
	keep := func(idx ...int) func(*RowList) ([]int, error) {
		return func(*RowList) ([]int, error) { return idx, nil }
	}

	l := page(nil)
	if err := keepOnly(l, keep(1, 3, 4)); err != nil {
		t.Fatal(err)
	}
	raw, cells := names(l)
	if want := []string{"o1", "o3", "o4"}; !slices.Equal(raw, want) || !slices.Equal(cells, want) || l.Rows.Positions != nil {
		t.Errorf("kept %v, rows %v, positions %v; want %v and no positions", raw, cells, l.Rows.Positions, want)
	}

	// The table's order: o4, o0, o3, o1, o2; kept o1, o3, o4 print as o4, o3, o1.
	l = page([]int{1, 3, 4, 2, 0})
	if err := keepOnly(l, keep(1, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if want := []int{2, 1, 0}; !slices.Equal(l.Rows.Positions, want) {
		t.Errorf("positions %v, want %v", l.Rows.Positions, want)
	}

	l = page(nil)
	if err := keepOnly(l, keep()); err != nil || len(l.Raw) != 0 || len(l.Rows.Cells) != 0 {
		t.Errorf("keep none: %v, %d items, %d rows", err, len(l.Raw), len(l.Rows.Cells))
	}
	boom := errors.New("boom")
	if err := keepOnly(page(nil), func(*RowList) ([]int, error) { return nil, boom }); err != boom {
		t.Errorf("error %v, want %v", err, boom)
	}
}
