package kube

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	sigsjson "sigs.k8s.io/json"
)

// rawCases are JSON texts, valid and not, that the lazy reader must take
// or refuse exactly as sigs.k8s.io/json's decoder does.
var rawCases = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":{"b":2}}`, `{"a":{"b":[1,2.5,-3,1e3,1E-2,0,-0]}}`,
	`{"kind":"ConfigMap","data":{"k":"v\n\t\"\\\/\b\f\r\u00e9\ud83d\ude00"}}`,
	`{"\u006bind":"x"}`, `{"k\u00ffey":1}`, "{\"bad\xffutf8\":\"v\xfe\"}",
	`{"big":123456789012345678901234567890}`, `{"max":9223372036854775807,"min":-9223372036854775808}`,
	`{"over":9223372036854775808}`, `{"f":1.7976931348623157e308}`, `{"huge":1e999}`, `{"tiny":1e-999}`,
	`{"t":true,"f":false,"n":null,"e":[],"o":{}}`, `{"lone":"\ud800"}`,
	// refused
	``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{a:1}`, `{"a":01}`, `{"a":1.}`,
	`{"a":.5}`, `{"a":-}`, `{"a":1e}`, `{"a":1e+}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`, `{"a":"x}`,
	"{\"a\":\"\x01\"}", `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":[1,]}`, `{"a":[1 2]}`,
	`{"a":1}x`, `{"a":1}}`, `[]`, `"s"`, `1`, `null`, `{"a":[}`, `{"a":{"b":1}`, `{"a":NaN}`,
	`{"a":Infinity}`, `{"a":'s'}`,
}

func deep(n int) string {
	return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
}

// checkRaw checks NewRawObject against the decoder on data.
func checkRaw(t *testing.T, data []byte) {
	t.Helper()
	var want map[string]any
	wantErr := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &want)
	if wantErr == nil && want == nil {
		wantErr = fmt.Errorf("null") // not an object
	}
	o, err := NewRawObject(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: NewRawObject error %v, decoder error %v", data, err, wantErr)
	}
	if err != nil {
		return
	}
	if got := o.Map(); !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Map() = %#v, want %#v", data, got, want)
	}
	keys := o.Keys()
	if len(keys) != len(want) || o.Len() != len(want) {
		t.Fatalf("%q: keys %q, want %d of them", data, keys, len(want))
	}
	for _, k := range keys {
		v, ok := o.Field(k)
		if !ok || !reflect.DeepEqual(v, want[k]) || !o.Has(k) {
			t.Fatalf("%q: Field(%q) = %#v, %v; want %#v", data, k, v, ok, want[k])
		}
		if _, isMap := want[k].(map[string]any); o.IsMap(k) != isMap {
			t.Fatalf("%q: IsMap(%q) = %v", data, k, !isMap)
		}
	}
	if _, ok := o.Field("no such field"); ok || o.Has("no such field") {
		t.Fatalf("%q: a field that is not there is", data)
	}
}

func TestRawObjectAsDecoded(t *testing.T) {
	cases := append(rawCases, deep(9998), deep(9999), deep(10000), deep(10001))
	for _, c := range cases {
		checkRaw(t, []byte(c))
	}
}

func FuzzRawObject(f *testing.F) {
	for _, c := range rawCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkRaw(t, data) })
}

// TestParsePage: a Table with each row's object and a plain list split into
// objects that decode as the whole page does, with the list's kind and
// apiVersion for items without their own; refused as the decoder refuses.
func TestParsePage(t *testing.T) {
	table := `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"7","continue":"abc"},
	"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"d","priority":0}],
	"rows":[{"cells":["a",3,"5m",1.5,null,true,"\u00e9",{"x":1}],"object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a"},"data":{"k":"v"}}},
	        {"cells":["b"],"object":{"metadata":{"name":"b"}},"extra":[1]}]}`
	p, err := parsePage([]byte(table))
	if err != nil {
		t.Fatal(err)
	}
	var whole struct {
		Rows []struct {
			Cells  []any          `json:"cells"`
			Object map[string]any `json:"object"`
		} `json:"rows"`
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(table), &whole); err != nil {
		t.Fatal(err)
	}
	if p.Kind != "Table" || p.Metadata["continue"] != "abc" || len(p.ColumnDefinitions) != 1 || len(p.Rows) != 2 {
		t.Fatalf("page: %+v", p)
	}
	for i, r := range p.Rows {
		if !reflect.DeepEqual(r.Cells, whole.Rows[i].Cells) {
			t.Errorf("row %d cells %#v, want %#v", i, r.Cells, whole.Rows[i].Cells)
		}
		if got := r.Object.Map(); !reflect.DeepEqual(got, whole.Rows[i].Object) {
			t.Errorf("row %d object %#v, want %#v", i, got, whole.Rows[i].Object)
		}
	}

	list := `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a"}},{"kind":"Other","metadata":{"name":"b"}}]}`
	l, err := pageOf([]byte(list), Resource{}, "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"kind": "ConfigMap", "apiVersion": "v1", "metadata": map[string]any{"name": "a"}},
		{"kind": "Other", "apiVersion": "v1", "metadata": map[string]any{"name": "b"}},
	}
	for i, o := range l.Raw {
		if got := o.Map(); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("item %d: %#v, want %#v", i, got, want[i])
		}
		if k, _ := o.Field("kind"); k != want[i]["kind"] {
			t.Errorf("item %d: kind %v", i, k)
		}
	}

	for _, bad := range []string{
		`{"kind":"List","items":[1]}`, `{"kind":"List","items":{}}`, `{"kind":1}`,
		`{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":[{"cells":[1,]}]}`,
		`{"kind":"Table","apiVersion":"meta.k8s.io/v1","rows":[{"object":{"a":1e999}}]}`,
		`{"items":[]} x`, `{"items":[{"a":1}]`,
	} {
		if _, err := parsePage([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
		var v map[string]any
		if json.Unmarshal([]byte(bad), &v) == nil && !strings.Contains(bad, "items") && !strings.Contains(bad, "kind\":1") {
			t.Errorf("%s: valid JSON that the page refused", bad)
		}
	}
}

// benchPage is a Table page of 500 ConfigMaps of about 1.5 KB, as the API
// server sends k8s.list's pages of kubetest.Bench10k.
func benchPage() []byte {
	var b strings.Builder
	b.WriteString(`{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"1234","continue":"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"Name","priority":0},{"name":"Data","type":"string","format":"","description":"Data","priority":0},{"name":"Age","type":"string","format":"","description":"Age","priority":0}],"rows":[`)
	payload := strings.Repeat("0123456789abcdef", 64)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"cells":["bench-%05d",1,"5m"],"object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"bench-%05d","namespace":"k8sh-bench","uid":"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0","resourceVersion":"%d","creationTimestamp":"2026-12-06T05:00:00Z","labels":{"bench":"10k","x":"z"},"managedFields":[{"manager":"kubetest","operation":"Update","apiVersion":"v1","time":"2026-12-06T05:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:payload":{}},"f:metadata":{"f:labels":{".":{},"f:bench":{},"f:x":{}}}}}]},"data":{"payload":"%s"}}}`, i, i, 1000+i, payload)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkPageDecode: one page decoded whole into maps (as k8s.list did
// before: sigs.k8s.io/json into a struct of maps), against parsePage, which
// checks it and splits its objects, alone and then reading each object's
// labels (a filter) or decoding it all.
func BenchmarkPageDecode(b *testing.B) {
	page := benchPage()
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for range b.N {
			var t tableJSON
			if err := sigsjson.UnmarshalCaseSensitivePreserveInts(page, &t); err != nil || len(t.Rows) != 500 {
				b.Fatal(err)
			}
		}
	})
	b.Run("lazy", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for range b.N {
			if p, err := parsePage(page); err != nil || len(p.Rows) != 500 {
				b.Fatal(err)
			}
		}
	})
	b.Run("lazy+labels", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for range b.N {
			p, _ := parsePage(page)
			for _, r := range p.Rows {
				if md, _ := r.Object.Field("metadata"); md == nil {
					b.Fatal("no metadata")
				}
			}
		}
	})
	b.Run("lazy+all", func(b *testing.B) {
		b.SetBytes(int64(len(page)))
		b.ReportAllocs()
		for range b.N {
			p, _ := parsePage(page)
			for _, r := range p.Rows {
				r.Object.Map()
			}
		}
	})
}
