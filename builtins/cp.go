package builtins

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["cp"] = doc.Builtin("k8s.cp", cpDoc, cpBuiltin)
	K8s.Members["read_file"] = doc.Builtin("k8s.read_file", readFileDoc, readFileBuiltin)
	K8s.Members["write_file"] = doc.Builtin("k8s.write_file", writeFileDoc, writeFileBuiltin)
}

const cpDoc = `k8s.cp(src, dst, *, container=None, context=None)

Copies files and directories between a pod and this machine, as kubectl cp
does (tar over exec: the container needs tar). One of src and dst is in a
pod, "POD:PATH" or "NAMESPACE/POD:PATH", the other a local path:
  k8s.cp("web-5fc9:/etc/nginx", "nginx-conf")       # a directory out of the pod
  k8s.cp("config.yaml", "prod/web-5fc9:/tmp/")       # a file into the pod's /tmp
The names map as kubectl cp maps them: out of a pod, PATH becomes dst
(the directory's content goes into dst); into a pod, src goes to PATH,
or into it when PATH is a directory there. Modes are kept both ways
(kubectl cp writes what it takes out of a pod with the default mode).

What comes out of a pod is not trusted: the archive is read whole before
anything is written, and refused (nothing written) when an entry has an
absolute name or a ".." element, or is a link that leads out of dst, or
lies under a symbolic link (kubectl cp's CVEs were such entries). Local
paths follow the file module's rules: relative to the script's
directory, and under --sandbox only read, inside it.

Copying into a pod is a change: refused under --read-only and in
read-only contexts, confirmed in protected ones, and --dry-run says what
it would copy. Both ways run a command in the pod, refused under
--sandbox without --allow-exec.`

// cpSpec is one side of k8s.cp: a pod's path ("[ns/]pod:path") or a local
// one, as kubectl cp's extractFileSpec reads it.
type cpSpec struct {
	namespace, pod, path string
}

func parseCpSpec(s string) (cpSpec, error) {
	i := strings.Index(s, ":")
	switch {
	case i == 0:
		return cpSpec{}, fmt.Errorf("%q: a path must match [[namespace/]pod:]file/path", s)
	case i < 0:
		return cpSpec{path: s}, nil
	}
	pod, p := s[:i], s[i+1:]
	sp := cpSpec{pod: pod, path: p}
	if ns, name, ok := strings.Cut(pod, "/"); ok {
		if strings.Contains(name, "/") || ns == "" || name == "" {
			return cpSpec{}, fmt.Errorf("%q: a path must match [[namespace/]pod:]file/path", s)
		}
		sp.namespace, sp.pod = ns, name
	}
	if p == "" {
		return cpSpec{}, fmt.Errorf("%q: the path in the pod is empty", s)
	}
	return sp, nil
}

// trimSlash drops a trailing "/", as kubectl cp's paths do.
func trimSlash(p string) string {
	if len(p) > 1 && strings.HasSuffix(p, "/") {
		return strings.TrimRight(p, "/")
	}
	return p
}

// podFiles is what k8s.cp, read_file and write_file do in a pod: run a
// command with the streams given, failing on a non-zero exit with the end
// of its stderr.
type podFiles struct {
	ctx context.Context
	ec  execCluster
	t   *execTarget
	ctr string
}

func (p *podFiles) run(cmd []string, stdin io.Reader, stdout io.Writer) (int, string, error) {
	var stderr bytes.Buffer
	code, err := p.ec.Exec(p.ctx, p.t.pod, kube.ExecOptions{Container: p.ctr, Command: cmd, Stdin: stdin, Stdout: stdout, Stderr: &stderr})
	return code, stderr.String(), err
}

func (p *podFiles) mustRun(cmd []string, stdin io.Reader, stdout io.Writer) error {
	code, stderr, err := p.run(cmd, stdin, stdout)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s: command terminated with exit code %d%s", strings.Join(cmd, " "), code, stderrTail(tarNoise(stderr)))
	}
	return nil
}

// tarNoise drops GNU tar's notes that are no failure.
func tarNoise(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.Contains(l, "Removing leading") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

func cpBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		src, dst string
		a        execArgs
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "src", &src, "dst", &dst,
		"container?", starconv.OrNone(&a.container), "context?", starconv.OrNone(&a.kctx)); err != nil {
		return nil, err
	}
	from, err := parseCpSpec(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	to, err := parseCpSpec(dst)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	switch {
	case from.pod != "" && to.pod != "":
		return nil, fmt.Errorf("%s: one of src or dst must be a local path", b.Name())
	case from.pod == "" && to.pod == "":
		return nil, fmt.Errorf("%s: one of src or dst must be a pod's path (POD:PATH)", b.Name())
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	what := src + " -> " + dst
	if from.pod != "" {
		a.namespace = from.namespace
		root, name, err := s.File.Local(to.path, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		defer root.Close()
		pf, c, err := podFilesOf(thread, b, starlark.String(from.pod), a)
		if err != nil {
			return nil, err
		}
		if _, err := execAllowed(thread, b, c, "cp", []*execTarget{pf.t}, what, false); err != nil {
			return nil, err
		}
		if err := copyFromPod(pf, trimSlash(from.path), root, name, s.Sys.Stderr); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.Name(), pf.t.ref, err)
		}
		return starlark.None, nil
	}
	a.namespace = to.namespace
	root, name, err := s.File.Local(from.path, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	defer root.Close()
	if _, err := root.Lstat(name); err != nil {
		return nil, fmt.Errorf("%s: %s doesn't exist in local filesystem", b.Name(), from.path)
	}
	pf, c, err := podFilesOf(thread, b, starlark.String(to.pod), a)
	if err != nil {
		return nil, err
	}
	if dry, err := execAllowed(thread, b, c, "cp", []*execTarget{pf.t}, what, true); err != nil || dry {
		return starlark.None, err
	}
	if err := copyToPod(pf, root, name, trimSlash(to.path)); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), pf.t.ref, err)
	}
	return starlark.None, nil
}

// copyFromPod copies path in the pod to name in root: `tar cf - PATH` in
// the pod, spooled to a temporary file, checked and unpacked by untar.
func copyFromPod(pf *podFiles, p string, root *os.Root, name string, warn io.Writer) error {
	spool, err := os.CreateTemp("", "k8sh-cp-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	if err := pf.mustRun([]string{"tar", "cf", "-", p}, nil, spool); err != nil {
		return err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	// The archive's names are p's without its leading "/" and "../"
	// (GNU tar's), as kubectl cp's prefix.
	prefix := path.Clean(strings.TrimLeft(p, "/"))
	for strings.HasPrefix(prefix, "../") {
		prefix = prefix[3:]
	}
	if prefix == "." || prefix == ".." {
		prefix = ""
	}
	parent, base := path.Dir(name), path.Base(name)
	if err := root.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	pr, err := root.OpenRoot(parent)
	if err != nil {
		return err
	}
	defer pr.Close()
	if warn == nil {
		warn = io.Discard
	}
	return untar(spool, pr, base, prefix, warn)
}

// copyToPod copies name in root to p in the pod, as kubectl cp does: into
// p when p is a directory there (`test -d`), else as p; the archive is
// unpacked by `tar -xmf - -C DIR` in the pod.
func copyToPod(pf *podFiles, root *os.Root, name, p string) error {
	// As kubectl: whatever keeps `test -d` from saying yes (no test in
	// the image among them) means not a directory.
	code, _, err := pf.run([]string{"test", "-d", p}, nil, nil)
	if err != nil && pf.ctx.Err() != nil {
		return err
	}
	if err == nil && code == 0 {
		p = path.Join(p, path.Base(name))
	}
	pr, w := io.Pipe()
	go func() { w.CloseWithError(writeTar(w, root, name, path.Base(p))) }()
	defer pr.Close()
	return pf.mustRun([]string{"tar", "-xmf", "-", "-C", path.Dir(p)}, pr, nil)
}

const readFileDoc = `k8s.read_file(target, path, *, container=None, binary=False, namespace=None, context=None)

Returns the content of the file at path in a container of a pod, for the
small cases where k8s.cp is more than needed (cat in the pod):
  conf = k8s.read_file("web-5fc9", "/etc/nginx/nginx.conf")
binary=True returns bytes. target is what k8s.exec takes. It runs a
command in the pod: refused under --sandbox without --allow-exec.`

func readFileBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target starlark.Value
		p      string
		a      execArgs
		binary bool
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "path", &p,
		"container?", starconv.OrNone(&a.container), "binary?", &binary,
		"namespace?", starconv.OrNone(&a.namespace), "context?", starconv.OrNone(&a.kctx)); err != nil {
		return nil, err
	}
	if p == "" {
		return nil, fmt.Errorf("%s: empty path", b.Name())
	}
	pf, c, err := podFilesOf(thread, b, target, a)
	if err != nil {
		return nil, err
	}
	if _, err := execAllowed(thread, b, c, "read_file", []*execTarget{pf.t}, p, false); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := pf.mustRun([]string{"cat", "--", p}, nil, &out); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), pf.t.ref, err)
	}
	if binary {
		return starlark.Bytes(out.String()), nil
	}
	return starlark.String(out.String()), nil
}

const writeFileDoc = `k8s.write_file(target, path, data, *, container=None, mode=0o644, namespace=None, context=None)

Writes data (str or bytes) to the file at path in a container of a pod,
replacing it, with mode (its permission bits), for the small cases where
k8s.cp is more than needed; its directory must exist:
  k8s.write_file("web-5fc9", "/tmp/flag", "on\n")
It goes as k8s.cp goes (a one-file archive for tar in the pod). target is
what k8s.exec takes. It is a change: refused under --read-only and in
read-only contexts, confirmed in protected ones, and --dry-run says what
it would write; refused under --sandbox without --allow-exec.`

func writeFileBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target starlark.Value
		p      string
		data   starlark.Value
		a      execArgs
		mode   = 0o644
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "path", &p, "data", &data,
		"container?", starconv.OrNone(&a.container), "mode?", &mode,
		"namespace?", starconv.OrNone(&a.namespace), "context?", starconv.OrNone(&a.kctx)); err != nil {
		return nil, err
	}
	var content []byte
	switch d := data.(type) {
	case starlark.String:
		content = []byte(d)
	case starlark.Bytes:
		content = []byte(d)
	default:
		return nil, fmt.Errorf("%s: for parameter data: got %s, want str or bytes", b.Name(), data.Type())
	}
	if p == "" || strings.HasSuffix(p, "/") || path.Base(p) == "." || path.Base(p) == ".." {
		return nil, fmt.Errorf("%s: %q is not a file's path", b.Name(), p)
	}
	if mode < 0 || mode > 0o777 {
		return nil, fmt.Errorf("%s: mode %#o: want permission bits, 0 to 0o777", b.Name(), mode)
	}
	pf, c, err := podFilesOf(thread, b, target, a)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s (%d bytes)", p, len(content))
	if dry, err := execAllowed(thread, b, c, "write_file", []*execTarget{pf.t}, what, true); err != nil || dry {
		return starlark.None, err
	}
	var arch bytes.Buffer
	tw := tar.NewWriter(&arch)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Base(p), Mode: int64(mode), Size: int64(len(content)), ModTime: time.Now()}); err != nil {
		return nil, err
	}
	tw.Write(content)
	tw.Close()
	if err := pf.mustRun([]string{"tar", "-xmf", "-", "-C", path.Dir(p)}, &arch, nil); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), pf.t.ref, err)
	}
	return starlark.None, nil
}

// podFilesOf resolves target (anything k8s.exec takes) for read_file and
// write_file.
func podFilesOf(thread *starlark.Thread, b *starlark.Builtin, target starlark.Value, a execArgs) (*podFiles, Cluster, error) {
	ec, c, t, err := execOne(thread, b, target, a)
	if err != nil {
		return nil, nil, err
	}
	s, _ := session(thread, b)
	ctr, err := kube.ExecContainer(t.pod, kube.ExecOptions{Container: a.container, Warn: s.Sys.Stderr})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &podFiles{ctx: sys.Context(thread), ec: ec, t: t, ctr: ctr}, c, nil
}
