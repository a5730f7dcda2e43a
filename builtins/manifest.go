package builtins

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/yaml"
)

// Manifests as users have them: YAML text, files, directories and
// kustomizations, kind: List documents, read into the objects a mutating
// builtin sends.

// manifestExts are the file names a directory's manifests end in, as
// kubectl apply -f DIR reads them.
var manifestExts = []string{".yaml", ".yml", ".json"}

// isManifestPath tells a path from YAML text: a string of one line that
// ends in "/", ".yaml", ".yml" or ".json" names a file or directory.
func isManifestPath(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n") {
		return false
	}
	if strings.HasSuffix(s, "/") {
		return true
	}
	for _, ext := range manifestExts {
		if strings.HasSuffix(s, ext) {
			return true
		}
	}
	return false
}

const pathRule = `a path must end in "/", ".yaml", ".yml" or ".json"`

// manifest is one object read from the arguments, with where it came from
// for messages ("web.yaml document 2", "item 3").
type manifest struct {
	obj    *unstructured.Unstructured
	source string
}

// manifestReader reads objects for one call of builtin b.
type manifestReader struct {
	thread *starlark.Thread
	b      *starlark.Builtin
	out    []manifest
	dir    bool // a directory was read: a list, even of one object
}

// value reads v: a k8s.object, a dict, YAML text, a path, or a list of any
// of them (source names the item for messages).
func (r *manifestReader) value(v starlark.Value, source string) error {
	switch v := v.(type) {
	case starlark.String:
		s := string(v)
		if isManifestPath(s) {
			return r.path(s)
		}
		return r.text(s, source)
	case *Object, starlark.IterableMapping:
		u, err := toUnstructured(v)
		if err != nil {
			return err
		}
		return r.add(u, source)
	}
	return fmt.Errorf("got %s, want k8s.object, dict, list or YAML text, or a path", v.Type())
}

// text reads the documents of YAML text; name is the file's, "" for text.
func (r *manifestReader) text(s, name string) error {
	docs, err := yaml.Documents(s)
	if err != nil {
		if name != "" {
			return fmt.Errorf("error parsing %s: %w", name, err)
		}
		return fmt.Errorf("invalid YAML: %w", err)
	}
	if len(docs) == 0 && name == "" {
		return fmt.Errorf("the YAML text holds no object (%s)", pathRule)
	}
	for _, d := range docs {
		where := fmt.Sprintf("document %d at line %d", d.Index, d.Line)
		if name != "" {
			where = name + " " + where
		}
		m, ok := d.Value.(map[string]any)
		if !ok {
			if s, isStr := d.Value.(string); isStr && len(docs) == 1 && name == "" {
				return fmt.Errorf("got %q: not a path (%s) nor YAML text of objects", s, pathRule)
			}
			return fmt.Errorf("YAML %s is a %s, want a mapping", where, goTypeName(d.Value))
		}
		if err := r.add(&unstructured.Unstructured{Object: m}, where); err != nil {
			return err
		}
	}
	return nil
}

// add adds u, or the items of a List (kind: List, or any kind ending in
// List with a list of items: a CRD's kind "AllowList" without one is an
// object), nested Lists too, as kubectl expands them.
func (r *manifestReader) add(u *unstructured.Unstructured, source string) error {
	items, hasItems := u.Object["items"].([]any)
	isList := strings.HasSuffix(u.GetKind(), "List") && hasItems ||
		u.GetKind() == "List" && u.Object["items"] == nil // an empty List
	if !isList {
		r.out = append(r.out, manifest{obj: u, source: source})
		return nil
	}
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %s item %d is a %s, want a mapping", source, u.GetKind(), i, goTypeName(it))
		}
		if err := r.add(&unstructured.Unstructured{Object: m}, fmt.Sprintf("%s item %d", source, i)); err != nil {
			return err
		}
	}
	return nil
}

// path reads the file at p, every manifest of the directory at p (sorted by
// name, not recursing), or builds the kustomization p holds. A relative p is
// relative to the script's directory, as file.read reads it.
func (r *manifestReader) path(p string) error {
	s, err := session(r.thread, r.b)
	if err != nil {
		return err
	}
	fsys, name, abs, done, err := manifestFS(s, p)
	if err != nil {
		return err
	}
	defer done()
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return pathError(p, err)
	}
	if !fi.IsDir() {
		if strings.HasSuffix(p, "/") {
			return fmt.Errorf("%s: not a directory", p)
		}
		return r.file(fsys, name, p)
	}
	r.dir = true
	if kube.KustomizationFile(abs) != "" {
		return r.kustomization(p)
	}
	entries, err := fs.ReadDir(fsys, name)
	if err != nil {
		return pathError(p, err)
	}
	n := len(r.out)
	for _, e := range entries { // sorted by name
		if e.IsDir() || !hasManifestExt(e.Name()) {
			continue
		}
		if err := r.file(fsys, path.Join(name, e.Name()), filepath.Join(p, e.Name())); err != nil {
			return err
		}
	}
	if len(r.out) == n {
		return fmt.Errorf("%s: no objects in the directory's .yaml, .yml and .json files", p)
	}
	return nil
}

// kustomization reads the objects the kustomization in directory p builds.
func (r *manifestReader) kustomization(p string) error {
	s, err := session(r.thread, r.b)
	if err != nil {
		return err
	}
	if s.File.Sandbox {
		return fmt.Errorf("%s: building a kustomization is not allowed with --sandbox (it may read files outside the script's directory)", p)
	}
	fsys, name, abs, done, err := manifestFS(s, p)
	if err != nil {
		return err
	}
	defer done()
	if fi, err := fs.Stat(fsys, name); err != nil {
		return pathError(p, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("%s: not a directory", p)
	}
	if kube.KustomizationFile(abs) == "" {
		return fmt.Errorf("%s: no kustomization.yaml, kustomization.yml or Kustomization in the directory", p)
	}
	text, err := kube.Kustomize(abs)
	if err != nil {
		return err
	}
	return r.text(string(text), "kustomization "+p)
}

func (r *manifestReader) file(fsys fs.FS, name, shown string) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return pathError(shown, err)
	}
	return r.text(string(data), shown)
}

func hasManifestExt(name string) bool {
	for _, ext := range manifestExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// manifestFS places path p: the file system to read it in, its name there,
// its absolute path, and what to call once done reading. Relative paths are
// relative to the session's file directory; with --sandbox they must stay
// inside it.
func manifestFS(s *Session, p string) (fs.FS, string, string, func(), error) {
	dir, err := filepath.Abs(s.File.Dir) // "" is the working directory
	if err != nil {
		return nil, "", "", nil, err
	}
	abs := filepath.Clean(p)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(dir, abs)
	}
	if !s.File.Sandbox {
		return os.DirFS("/"), strings.TrimPrefix(filepath.ToSlash(abs), "/"), abs, func() {}, nil
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return nil, "", "", nil, fmt.Errorf("%s: outside the script's directory, not allowed with --sandbox", p)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", "", nil, err
	}
	return root.FS(), filepath.ToSlash(rel), abs, func() { root.Close() }, nil
}

func pathError(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the path %q does not exist", p)
	}
	return fmt.Errorf("%s: %w", p, err)
}

// objectKey identifies an object for duplicates: group, kind, namespace
// and name; "" for one without a name.
func objectKey(u *unstructured.Unstructured) string {
	if u.GetName() == "" {
		return ""
	}
	gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
	return gv.Group + "/" + u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// dedupe drops every object given again later in ms: the last one wins, as
// when kubectl applies them in turn, and a warning on stderr names each
// duplicate and where both came from.
func (r *manifestReader) dedupe() []*unstructured.Unstructured {
	last := map[string]int{}
	for i, m := range r.out {
		if k := objectKey(m.obj); k != "" {
			last[k] = i
		}
	}
	var out []*unstructured.Unstructured
	for i, m := range r.out {
		k := objectKey(m.obj)
		if k == "" || last[k] == i {
			out = append(out, m.obj)
			continue
		}
		if equality.Semantic.DeepEqual(m.obj.Object, r.out[last[k]].obj.Object) {
			continue // the same twice: nothing to warn of
		}
		what := kube.ObjectName(m.obj)
		if ns := m.obj.GetNamespace(); ns != "" {
			what += fmt.Sprintf(" in namespace %q", ns)
		}
		later := r.out[last[k]].source
		warn(r.thread, fmt.Sprintf("%s: %s is given twice (%s and %s): the last one is used", r.b.Name(), what, m.source, later))
	}
	return out
}

// warn prints a line on the run's stderr as kubectl prints the API's
// warnings: "Warning: ...".
func warn(thread *starlark.Thread, msg string) {
	var w io.Writer = os.Stderr
	if s, _ := thread.Local(sessionKey).(*Session); s != nil && s.Sys.Stderr != nil {
		w = s.Sys.Stderr
	}
	fmt.Fprintf(w, "Warning: %s\n", msg)
}
