package builtins

import (
	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
)

// pageFilter runs k8s.list's where over each page of a list as the page
// comes (kube.ListOptions.Keep), while the next one is being read, so that
// a filter over a big list holds only the objects it keeps, and its time
// hides behind the reading. The objects it keeps are those the list
// returns: where saw the very objects of the result, each with its row.
type pageFilter struct {
	thread *starlark.Thread
	where  starlark.Callable
	kinds  []*pageKept // one per kind read, in order
	err    error       // where's error, if it failed
}

// pageKept is what where kept of one kind's pages.
type pageKept struct {
	rd   *read
	objs []starlark.Value
	used bool // the cluster filtered its pages (a fake one may not)
}

// keeper is the kube.ListOptions.Keep of the next kind read.
func (f *pageFilter) keeper() func(*kube.RowList) ([]int, error) {
	k := &pageKept{rd: &read{}}
	f.kinds = append(f.kinds, k)
	return func(page *kube.RowList) ([]int, error) {
		k.used = true
		rd := k.rd
		rd.resource, rd.namespace, rd.allNamespaces = page.Resource, page.Namespace, page.AllNamespaces
		if rd.rows == nil && page.Rows != nil {
			// The columns, for a where that prints; the rows kept are
			// the read's once the list is done (result).
			rd.rows = &kube.Rows{Columns: page.Rows.Columns}
		}
		var idx []int
		for i, raw := range page.Raw {
			o := newRawObject(raw)
			o.row = &tableRow{read: rd, index: len(k.objs)}
			if page.Rows != nil && i < len(page.Rows.Cells) {
				o.row.cells = page.Rows.Cells[i]
			}
			ok, err := accepts(f.thread, f.where, o)
			if err != nil {
				f.err = err
				return nil, err
			}
			if ok {
				idx = append(idx, i)
				k.objs = append(k.objs, o)
			}
		}
		return idx, nil
	}
}

// result appends the objects kept of l, the kind's list as read (its rows
// those of the kept objects), to out, and returns their read.
func (k *pageKept) result(l *kube.RowList, out []starlark.Value) ([]starlark.Value, *read) {
	rd := k.rd
	rd.resource, rd.namespace, rd.allNamespaces, rd.rows = l.Resource, l.Namespace, l.AllNamespaces, l.Rows
	return append(out, k.objs...), rd
}
