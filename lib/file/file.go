// Package file is k8sh's file module: files relative to the script's
// directory, confined to it with --sandbox.
package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/doc"
)

// Options are what a run gives the file module.
type Options struct {
	// Dir is the directory relative paths are resolved against: the
	// script's, or the working directory ("") for -c, standard input and
	// the REPL.
	Dir string
	// Sandbox (--sandbox): no file.write, and reads confined to Dir,
	// symbolic links included.
	Sandbox bool
}

// New returns the file module of a run: files relative to the script's
// directory, the way kubectl apply -f reads them.
//
//	file.read(path)          str
//	file.write(path, text)   None
//	file.glob(pattern)       sorted list of str
//	file.exists(path)        bool
func New(o Options) *starlarkstruct.Module {
	m := &module{Options: o}
	return &starlarkstruct.Module{
		Name: "file",
		Members: starlark.StringDict{
			"read":   doc.Documented("file.read", m.read),
			"write":  doc.Documented("file.write", m.write),
			"glob":   doc.Documented("file.glob", m.glob),
			"exists": doc.Documented("file.exists", m.exists),
		},
	}
}

// module is the state of one run's file module.
type module struct {
	Options
	rootOnce sync.Once
	root     *os.Root // the --sandbox file root, opened on first use
	rootErr  error
}

func init() {
	doc.Set("file.read", readDoc)
	doc.Set("file.write", writeDoc)
	doc.Set("file.glob", globDoc)
	doc.Set("file.exists", existsDoc)
}

const fileRelative = `A relative path is relative to the script's directory (the working
directory for -c, standard input and the REPL). With --sandbox, paths must
stay inside that directory.`

const readDoc = `file.read(path, binary=False)

Returns the contents of the file at path as a string, or with binary=True
as bytes: what binary fields take (a Secret's data, a ConfigMap's
binaryData; bytes are sent as the base64 text the API wants), where a
string must be valid UTF-8.
  k8s.apply(file.read("install.yaml"))
  {"binaryData": {"logo.png": file.read("logo.png", binary=True)}}
` + fileRelative

func (m *module) read(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var binary bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "binary?", &binary); err != nil {
		return nil, err
	}
	fsys, name, err := m.path(b, path)
	if err != nil {
		return nil, err
	}
	data, err := fsys.readFile(name)
	if err != nil {
		return nil, fileError(b, err)
	}
	if binary {
		return starlark.Bytes(data), nil
	}
	return starlark.String(data), nil
}

const writeDoc = `file.write(path, text)

Writes text (a string or bytes) to the file at path, replacing it whole: the
new contents go to a temporary file first, so a failed write leaves the old
file as it was. A new file gets mode 0644; an existing one keeps its mode.
Not available with --sandbox.
` + fileRelative

func (m *module) write(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var text starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "text", &text); err != nil {
		return nil, err
	}
	var data []byte
	switch t := text.(type) {
	case starlark.String:
		data = []byte(t)
	case starlark.Bytes:
		data = []byte(t)
	default:
		return nil, fmt.Errorf("%s: text is a %s, want a string or bytes", b.Name(), text.Type())
	}
	if m.Sandbox {
		return nil, fmt.Errorf("%s: writing files is not allowed with --sandbox", b.Name())
	}
	_, name, err := m.path(b, path)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(name, data); err != nil {
		return nil, fileError(b, err)
	}
	return starlark.None, nil
}

const globDoc = `file.glob(pattern)

Returns the paths that match pattern, sorted: * matches any run of
characters but /, ? one character, [a-z] a class (Go's filepath.Match),
and a path element ** any number of directories, as kubectl apply -R
reads a tree:
  file.glob("manifests/**/*.yaml")   # manifests/a.yaml, manifests/web/b.yaml, ...
A relative pattern gives paths relative to the same directory, so they can
be passed to file.read as they are:
  [yaml.decode_all(file.read(p)) for p in file.glob("manifests/*.yaml")]
` + fileRelative

func (m *module) glob(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fsys, name, pattern, err := m.arg(b, args, kwargs, "pattern")
	if err != nil {
		return nil, err
	}
	matches, err := fsys.glob(name)
	if err != nil {
		return nil, fmt.Errorf("%s: bad pattern %q", b.Name(), pattern)
	}
	sort.Strings(matches)
	out := make([]starlark.Value, len(matches))
	for i, m := range matches {
		if !filepath.IsAbs(pattern) && fsys.root == nil {
			if rel, err := filepath.Rel(fsys.dir, m); err == nil {
				m = rel
			}
		}
		out[i] = starlark.String(m)
	}
	return starlark.NewList(out), nil
}

const existsDoc = `file.exists(path)

Reports whether a file or directory exists at path.
` + fileRelative

func (m *module) exists(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	fsys, name, _, err := m.arg(b, args, kwargs, "path")
	if err != nil {
		return nil, err
	}
	_, err = fsys.stat(name)
	switch {
	case err == nil:
		return starlark.True, nil
	case errors.Is(err, fs.ErrNotExist):
		return starlark.False, nil
	}
	return nil, fileError(b, err)
}

// files reads files either anywhere, relative to dir, or (with --sandbox)
// only inside root.
type files struct {
	dir  string
	root *os.Root
}

func (f files) readFile(name string) ([]byte, error) {
	if f.root != nil {
		return f.root.ReadFile(name)
	}
	return os.ReadFile(name)
}

func (f files) stat(name string) (fs.FileInfo, error) {
	if f.root != nil {
		return f.root.Stat(name)
	}
	return os.Stat(name)
}

func (f files) glob(pattern string) ([]string, error) {
	if f.root != nil {
		return globFS(f.root.FS(), filepath.ToSlash(pattern))
	}
	// pattern is absolute here: match it in the file system's root.
	matches, err := globFS(os.DirFS("/"), strings.TrimPrefix(filepath.ToSlash(pattern), "/"))
	for i, m := range matches {
		matches[i] = filepath.FromSlash("/" + m)
	}
	return matches, err
}

// globFS is fs.Glob with one more form: a path element "**" matches any
// number of directories (none included), as in manifests/**/*.yaml.
func globFS(fsys fs.FS, pattern string) ([]string, error) {
	if !strings.Contains(pattern, "**") {
		return fs.Glob(fsys, pattern)
	}
	segs := strings.Split(pattern, "/")
	for _, s := range segs {
		if s == "**" {
			continue
		}
		if strings.Contains(s, "**") {
			return nil, path.ErrBadPattern // ** is a whole path element
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, err
		}
	}
	// Walk from the directory the pattern's literal elements name.
	n := 0
	for n < len(segs) && !strings.ContainsAny(segs[n], `*?[\`) {
		n++
	}
	start := "."
	if n > 0 {
		start = path.Join(segs[:n]...)
	}
	var out []string
	fs.WalkDir(fsys, start, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: skipped, as fs.Glob skips I/O errors
		}
		var elems []string // of p below start
		switch {
		case p == start:
		case start == ".":
			elems = strings.Split(p, "/")
		default:
			elems = strings.Split(strings.TrimPrefix(p, start+"/"), "/")
		}
		if matchElems(segs[n:], elems) {
			out = append(out, p)
		}
		return nil
	})
	return out, nil
}

// matchElems matches the path elements name against the pattern elements
// pat, where "**" takes any number of elements.
func matchElems(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		return matchElems(pat[1:], name) || len(name) > 0 && matchElems(pat, name[1:])
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], name[0])
	return ok && matchElems(pat[1:], name[1:])
}

// arg unpacks the one argument (named param) of a file builtin, a path or
// pattern, and returns it with path's files and name for it.
func (m *module) arg(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple, param string) (files, string, string, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, param, &path); err != nil {
		return files{}, "", "", err
	}
	fsys, name, err := m.path(b, path)
	return fsys, name, path, err
}

// path returns the files of the run and the name of path in them: an
// absolute path, or with --sandbox one relative to the script's directory
// that does not leave it.
func (m *module) path(b *starlark.Builtin, path string) (files, string, error) {
	dir := m.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return files{}, "", fmt.Errorf("%s: %v", b.Name(), err)
		}
	}
	if path == "" {
		return files{}, "", fmt.Errorf("%s: empty path", b.Name())
	}
	if !m.Sandbox {
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		return files{dir: dir}, path, nil
	}
	if !filepath.IsLocal(path) {
		return files{}, "", fmt.Errorf("%s: %q is outside the script's directory %s (--sandbox)", b.Name(), path, dir)
	}
	root, err := m.sandboxRoot(dir)
	if err != nil {
		return files{}, "", fmt.Errorf("%s: %v", b.Name(), err)
	}
	return files{dir: dir, root: root}, filepath.Clean(path), nil
}

// sandboxRoot opens dir as the root that confines --sandbox file reads,
// symbolic links included.
func (m *module) sandboxRoot(dir string) (*os.Root, error) {
	m.rootOnce.Do(func() { m.root, m.rootErr = os.OpenRoot(dir) })
	return m.root, m.rootErr
}

// fileError words an error of the os package for a builtin: the path and
// what went wrong, without Go's operation names.
func fileError(b *starlark.Builtin, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s: %s: no such file or directory", b.Name(), pe.Path)
		case errors.Is(err, fs.ErrPermission):
			return fmt.Errorf("%s: %s: permission denied", b.Name(), pe.Path)
		case pe.Err.Error() == "path escapes from parent": // os.Root's
			return fmt.Errorf("%s: %s leads outside the script's directory (--sandbox)", b.Name(), pe.Path)
		}
		return fmt.Errorf("%s: %s: %v", b.Name(), pe.Path, pe.Err)
	}
	return fmt.Errorf("%s: %v", b.Name(), err)
}

// writeFileAtomic replaces the file at name (following a symbolic link to
// it) with data by way of a temporary file in the same directory.
func writeFileAtomic(name string, data []byte) error {
	mode := fs.FileMode(0o644)
	if target, err := filepath.EvalSymlinks(name); err == nil {
		name = target
		if fi, err := os.Stat(name); err == nil {
			if fi.IsDir() {
				return &fs.PathError{Op: "write", Path: name, Err: errors.New("is a directory")}
			}
			mode = fi.Mode().Perm()
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".k8sh-*")
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// Local resolves path for a builtin outside this module that reads or
// writes local files (k8s.cp), by this module's rules: it returns a root
// and path's name in it. Without --sandbox the root is the file system's
// and a relative path is taken from Dir; with --sandbox it is Dir, which
// confines what is read to it (symbolic links included), and writing is
// refused. The caller closes the root.
func (o Options) Local(path string, write bool) (*os.Root, string, error) {
	if path == "" {
		return nil, "", fmt.Errorf("empty path")
	}
	dir := o.Dir
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return nil, "", err
		}
	}
	if o.Sandbox {
		if write {
			return nil, "", fmt.Errorf("writing files is not allowed with --sandbox")
		}
		if !filepath.IsLocal(path) {
			return nil, "", fmt.Errorf("%q is outside the script's directory %s (--sandbox)", path, dir)
		}
		root, err := os.OpenRoot(dir)
		return root, filepath.Clean(path), err
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	name := strings.TrimPrefix(filepath.Clean(path), "/")
	if name == "" {
		name = "."
	}
	root, err := os.OpenRoot("/")
	return root, name, err
}
