package builtins

import (
	"encoding/json"
	"io"
	"os"
	"runtime"
	"sync"
	"weak"

	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"

	"github.com/k8sh/k8sh/kube"
)

// A read is one list (or get) of one resource as k8s.list read it: what
// k8s.print needs to print its objects as kubectl get prints them, from the
// cluster they were read from, without reading them again.
type read struct {
	resource      kube.Resource
	namespace     string // "" for all namespaces or a cluster-scoped kind
	allNamespaces bool
	rows          *kube.Rows // the server's table; nil when it sent none
	// cluster is the cluster it was read from, for k8s.context_of; nil
	// when unknown.
	cluster Cluster
}

// tableRow is one object's row of its read's table.
type tableRow struct {
	read  *read
	index int // of the object in its read
	cells []any
}

// readObjects wraps the items of l as k8s.objects that keep their rows,
// keeping those where accepts; the read is appended to reads.
func readObjects(thread *starlark.Thread, l *kube.RowList, where starlark.Callable, out []starlark.Value) ([]starlark.Value, *read, error) {
	rd := &read{resource: l.Resource, namespace: l.Namespace, allNamespaces: l.AllNamespaces, rows: l.Rows}
	for i := range l.Raw {
		o := rd.object(l, i)
		if where != nil {
			ok, err := accepts(thread, where, o)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, o)
	}
	return out, rd, nil
}

// object is item i of l, a read of rd, as a k8s.object with its row.
func (rd *read) object(l *kube.RowList, i int) *Object {
	o := newRawObject(l.Raw[i])
	o.row = &tableRow{read: rd, index: i}
	if rd.rows != nil && i < len(rd.rows.Cells) {
		o.row.cells = rd.rows.Cells[i]
	}
	return o
}

// origins remembers, for each list k8s.list returned, the reads it was made
// of, so that an empty list prints as kubectl prints no results ("No
// resources found in web namespace.") and a list of several kinds prints
// each object's kind as kubectl does. The map holds the lists weakly: an
// entry goes when its list is collected.
var origins sync.Map // weak.Pointer[starlark.List] -> []*read

func rememberReads(l *starlark.List, reads []*read) {
	wp := weak.Make(l)
	origins.Store(wp, reads)
	runtime.AddCleanup(l, func(wp weak.Pointer[starlark.List]) { origins.Delete(wp) }, wp)
}

// readsOf returns the reads l was made of, nil for a list k8s.list did not
// return.
func readsOf(l *starlark.List) []*read {
	v, ok := origins.Load(weak.Make(l))
	if !ok {
		return nil
	}
	return v.([]*read)
}

// metadataOf is o's apiVersion, kind and metadata, all that the table
// printer reads of an object (its namespace and labels), sharing o's
// maps, without decoding the rest of o.
func metadataOf(o *Object) *unstructured.Unstructured {
	m := make(map[string]any, 3)
	for _, k := range []string{"apiVersion", "kind", "metadata"} {
		if v, ok := o.field(k); ok {
			m[k] = v
		}
	}
	return &unstructured.Unstructured{Object: m}
}

// printedMetadata is what the table printer reads of o for its NAMESPACE
// column and its label columns (WithNamespace, ShowLabels, ColumnLabels):
// its namespace and labels. Of an object read lazily whose metadata has
// not been read, they are decoded alone, without the maps of the rest of
// its metadata (managedFields is most of a ConfigMap's); otherwise they
// are metadataOf's.
func printedMetadata(o *Object) kruntime.Object {
	var md struct {
		Namespace string `json:"namespace"`
		// Raw, then decoded: of labels given twice, the last ones
		// (decoding into a map would merge them).
		Labels json.RawMessage `json:"labels"`
	}
	var labels map[string]string
	if o.rawFieldInto("metadata", &md) && (md.Labels == nil || sigsjson.UnmarshalCaseSensitivePreserveInts(md.Labels, &labels) == nil) {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: md.Namespace, Labels: labels}}
	}
	return metadataOf(o)
}

// stderr is the run's standard error (sys.Options.Stderr).
func stderr(thread *starlark.Thread) io.Writer {
	if s, _ := thread.Local(sessionKey).(*Session); s != nil && s.Sys.Stderr != nil {
		return s.Sys.Stderr
	}
	return os.Stderr
}
