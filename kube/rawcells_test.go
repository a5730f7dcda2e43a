package kube

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
)

// cellCases are a table's cells as servers write them, and strings whose
// escapes the fast path of scalar must decode as the decoder does, or
// leave to it (surrogates, bad UTF-8).
var cellCases = []string{
	`"\u003cnone\u003e"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u4E2D\u0000x"`, `"\ud83d\ude00"`, `"\ud800"`,
	`"\udc00\u0041"`, "\"\xff\\n\"", "\"caf\xc3\xa9\\u0021\"", `"plain"`, `""`, `"\\"`, `"\u0022"`,
	`0`, `-12`, `1.5`, `123456789012345678901234567890`, `true`, `false`, `null`, `{"x":["\u003c"]}`, `[1,"\u003e"]`,
}

// checkCells checks that parsePage's cells of a table row holding cells
// (a JSON array text) are what the decoder makes of them.
func checkCells(t *testing.T, cells string) {
	t.Helper()
	page := `{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":[{"cells":` + cells + `,"object":{}}]}`
	var want struct {
		Rows []struct {
			Cells []any `json:"cells"`
		} `json:"rows"`
	}
	wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(page), &want)
	p, err := parsePage([]byte(page))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%s: parsePage error %v, decoder error %v", cells, err, wantErr)
	}
	if err != nil {
		return
	}
	if got := p.Rows[0].Cells; !reflect.DeepEqual(got, want.Rows[0].Cells) {
		t.Fatalf("%s: cells %#v, want %#v", cells, got, want.Rows[0].Cells)
	}
}

func TestCellsAsDecoded(t *testing.T) {
	checkCells(t, "["+strings.Join(cellCases, ",")+"]")
	for _, c := range cellCases {
		checkCells(t, "["+c+"]")
	}
}

func FuzzCells(f *testing.F) {
	for _, c := range cellCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, cell string) {
		if strings.ContainsAny(cell, "[]") {
			return // one cell: its array is the row's
		}
		checkCells(t, "["+cell+"]")
	})
}

// TestTableColumnsKept: the column definitions of a table decode as the
// decoder decodes them, the second time from the cache, and a caller that
// changes its slice does not change the next page's.
func TestTableColumnsKept(t *testing.T) {
	page := []byte(`{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"the \u003cname\u003e","priority":0},{"name":"Age","type":"string","priority":1}],"rows":[]}`)
	var want struct {
		ColumnDefinitions []metav1.TableColumnDefinition `json:"columnDefinitions"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(page, &want); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p, err := parsePage(page)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.ColumnDefinitions, want.ColumnDefinitions) {
			t.Fatalf("read %d: columns %#v, want %#v", i, p.ColumnDefinitions, want.ColumnDefinitions)
		}
		p.ColumnDefinitions[0].Name = "changed"
	}
	if _, err := parsePage([]byte(`{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[{"name":1}],"rows":[]}`)); err == nil {
		t.Error("a column whose name is a number was taken")
	}
}
