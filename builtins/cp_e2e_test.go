package builtins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cpTree makes the local tree the cp tests copy: files of several modes, a
// subdirectory, an empty one, and a symbolic link inside.
func cpTree(t *testing.T) string {
	t.Helper()
	top := t.TempDir()
	d := filepath.Join(top, "d")
	os.MkdirAll(filepath.Join(d, "sub", "empty"), 0o755)
	os.WriteFile(filepath.Join(d, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(d, "secret"), []byte("s3cr3t\n"), 0o600)
	os.WriteFile(filepath.Join(d, "sub", "f.txt"), []byte(strings.Repeat("0123456789", 10000)), 0o640)
	os.Symlink("sub/f.txt", filepath.Join(d, "ln"))
	os.WriteFile(filepath.Join(top, "one.txt"), []byte("one\n"), 0o604)
	return top
}

// listing is a Starlark function listing a directory in a pod: each path
// with its mode, type and size, and each file's md5.
const listing = `
def listing(pod, dir):
    r = k8s.exec(pod, "cd '%s' && find . | sort | while read f; do stat -c '%%n %%a %%F %%s' \"$f\"; done; find . -type f | sort | xargs md5sum" % dir)
    return r.stdout
`

// TestCpE2E: k8s.cp copies a directory into a pod as kubectl cp does (the
// same files, modes and contents, listed in the pod), and out of it keeping
// the modes (kubectl's copy has the same files and contents, with default
// modes and without the symbolic link it skips); a single file both ways,
// into a directory of the pod, "ns/pod:path"; an archive from the pod with
// ".." and absolute names, or a link out, is refused with nothing written.
func TestCpE2E(t *testing.T) {
	env := x18Env(t)
	top := cpTree(t)
	stderr := execStar(t, env, nil, strings.ReplaceAll(execPods+listing+`
pods(["cp1"])
# into the pod: the same as kubectl cp's
k8s.cp("TOP/d", "cp1:in-k8sh")
r = kubectl("cp", "TOP/d", "cp1:in-kubectl")
assert.true(r.code == 0, r.stderr)
l = listing("cp1", "in-k8sh")
assert.eq(l, listing("cp1", "in-kubectl"))
assert.true("./run.sh 755 regular file" in l, l)
assert.true("./secret 600 regular file" in l, l)
assert.true("./sub/f.txt 640 regular file 100000" in l, l)
assert.true("./ln 777 symbolic link" in l, l)
assert.true("./sub/empty 755 directory" in l, l)

# into a directory of the pod: into it, as kubectl cp
k8s.exec("cp1", "mkdir -p into-k8sh into-kubectl")
k8s.cp("TOP/d", "cp1:into-k8sh/")
kubectl("cp", "TOP/d", "cp1:into-kubectl/")
assert.eq(listing("cp1", "into-k8sh"), listing("cp1", "into-kubectl"))
assert.true("./d/run.sh 755" in listing("cp1", "into-k8sh"))

# one file, with ns/pod:path
k8s.cp("TOP/one.txt", "NS/cp1:one-k8sh.txt")
kubectl("cp", "TOP/one.txt", "NS/cp1:one-kubectl.txt")
assert.eq(k8s.exec("cp1", "stat -c '%a %s' one-k8sh.txt").stdout, k8s.exec("cp1", "stat -c '%a %s' one-kubectl.txt").stdout)
assert.eq(k8s.read_file("cp1", "one-k8sh.txt"), "one\n")

# out of the pod
k8s.cp("cp1:in-k8sh", "TOP/out-k8sh")
r = kubectl("cp", "cp1:in-k8sh", "TOP/out-kubectl")
assert.true(r.code == 0, r.stderr)
assert.true("skipping symlink" in r.stderr, r.stderr)
k8s.cp("NS/cp1:one-k8sh.txt", "TOP/one-back.txt")

# errors
assert.fails(lambda: k8s.cp("TOP/d", "TOP/x"), "one of src or dst must be a pod's path")
assert.fails(lambda: k8s.cp("cp1:a", "cp1:b"), "one of src or dst must be a local path")
assert.fails(lambda: k8s.cp("TOP/nope", "cp1:x"), "TOP/nope doesn't exist in local filesystem")
assert.fails(lambda: k8s.cp("cp1:nope", "TOP/nope"), "k8s.cp: pod/cp1: tar cf - nope: command terminated with exit code 2: tar: nope: Cannot stat")
assert.fails(lambda: k8s.cp(":x", "TOP/x"), "must match")

# archives that lead out: refused, nothing written
k8s.exec("cp1", "mkdir -p evil s && echo bad > evil/f && ln -sf /etc/passwd s/pw && printf '../cp1/evil/f\nevil/f\n' > dots && echo \"$PWD/evil/f\" > abs")
assert.fails(lambda: k8s.cp("cp1:-PTdots", "TOP/dots-out"), 'refusing the archive from the pod: entry "../cp1/evil/f" has a ".." element; nothing was written')
assert.fails(lambda: k8s.cp("cp1:-PTabs", "TOP/abs-out"), 'entry "/.*/cp1/evil/f" has an absolute name; nothing was written')
assert.fails(lambda: k8s.cp("cp1:s", "TOP/s-out"), 'entry "s/pw" is a symbolic link to the absolute path "/etc/passwd"; nothing was written')
`, "TOP", top))
	if stderr != "" {
		t.Errorf("k8sh's stderr: %q", stderr)
	}
	// Out of the pod: k8sh's copy is the tree copied in, modes and the link
	// included.
	if got, want := tree(t, filepath.Join(top, "out-k8sh")), tree(t, filepath.Join(top, "d")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("k8s.cp out of the pod:\n got %q\nwant %q", got, want)
	}
	// kubectl's: the same files and contents, without the link and with
	// default modes.
	strip := func(lines []string, skipLinks bool) []string {
		var out []string
		for _, l := range lines {
			f := strings.SplitN(l, " ", 3)
			if skipLinks && strings.HasPrefix(f[1], "L") {
				continue
			}
			rest := ""
			if len(f) > 2 {
				rest = f[2]
			}
			out = append(out, f[0]+" "+f[1][:1]+" "+rest)
		}
		return out
	}
	if got, want := strip(tree(t, filepath.Join(top, "out-kubectl")), false), strip(tree(t, filepath.Join(top, "out-k8sh")), true); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kubectl cp out of the pod, names and contents:\n got %q\nwant %q", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(top, "one-back.txt")); string(b) != "one\n" || err != nil {
		t.Errorf("one-back.txt: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(top, "one-back.txt")); err != nil || fi.Mode().Perm() != 0o604 {
		t.Errorf("one-back.txt's mode: %v, %v, want 0604", fi.Mode(), err)
	}
	// The refused archives wrote nothing: not their destinations, not
	// beside them.
	for _, p := range []string{"dots-out", "abs-out", "s-out"} {
		if _, err := os.Lstat(filepath.Join(top, p)); err == nil {
			t.Errorf("%s was made by a refused copy", p)
		}
	}
}

// TestReadWriteFileE2E: k8s.write_file writes a file of the mode asked in
// the pod, which k8s.read_file and kubectl exec cat read back the same;
// bytes both ways.
func TestReadWriteFileE2E(t *testing.T) {
	env := x18Env(t)
	execStar(t, env, nil, execPods+`
pods(["rw1"], containers=["a", "b"])
k8s.exec("rw1", "mkdir -p dir")
k8s.write_file("rw1", "dir/x.txt", "hello\nworld\n", mode=0o600)
assert.eq(k8s.read_file("rw1", "dir/x.txt"), "hello\nworld\n")
assert.eq(k8s.read_file("rw1", "dir/x.txt"), kubectl("exec", "rw1", "--", "cat", "dir/x.txt").stdout)
assert.eq(k8s.exec("rw1", "stat -c %a dir/x.txt").stdout, "600\n")
k8s.write_file("rw1", "dir/x.txt", b"\x00\xff", container="b")  # replaces it, mode 0644
assert.eq(k8s.read_file("rw1", "dir/x.txt", binary=True), b"\x00\xff")
assert.eq(k8s.exec("rw1", "stat -c %a dir/x.txt").stdout, "644\n")
assert.fails(lambda: k8s.read_file("rw1", "dir/nope"), "k8s.read_file: pod/rw1: cat -- dir/nope: command terminated with exit code 1: cat: dir/nope: No such file or directory")
assert.fails(lambda: k8s.write_file("rw1", "nodir/x", "x"), "k8s.write_file: pod/rw1: tar -xmf - -C nodir: command terminated with exit code 2")
assert.fails(lambda: k8s.write_file("rw1", "dir/", "x"), "is not a file's path")
assert.fails(lambda: k8s.write_file("rw1", "dir/y", 3), "for parameter data: got int, want str or bytes")
assert.fails(lambda: k8s.write_file("rw1", "dir/y", "x", mode=0o4755), "want permission bits")
`)
}

// TestCpSafetyE2E: copying into a pod and write_file are changes (refused
// under --read-only, said and not done under --dry-run); copying out writes
// local files, refused under --sandbox; all of them run commands in the
// pod, refused under --sandbox without --allow-exec.
func TestCpSafetyE2E(t *testing.T) {
	env := x18Env(t)
	top := cpTree(t)
	execStar(t, env, nil, execPods+`pods(["sf1"])
k8s.write_file("sf1", "there", "x")`)
	execStar(t, env, func(s *Session) { s.ReadOnly = true }, strings.ReplaceAll(`
assert.fails(lambda: k8s.cp("TOP/one.txt", "sf1:made"), r'k8s.cp: context "sandbox" is read-only \(--read-only\): refusing to cp in pod/sf1')
assert.fails(lambda: k8s.write_file("sf1", "made", "x"), "refusing to write_file in pod/sf1")
assert.eq(k8s.read_file("sf1", "there"), "x")
k8s.cp("sf1:there", "TOP/there")
`, "TOP", top))
	stderr := execStar(t, env, func(s *Session) { s.DryRun = true }, strings.ReplaceAll(`
k8s.cp("TOP/one.txt", "sf1:made")
k8s.write_file("sf1", "made", "x")
`, "TOP", top))
	want := "cp in sandbox/" + env.Namespace + " pod/sf1: " + top + "/one.txt -> sf1:made (dry run: not run)\n" +
		"write_file in sandbox/" + env.Namespace + " pod/sf1: made (1 bytes) (dry run: not run)\n"
	if stderr != want {
		t.Errorf("dry run said %q, want %q", stderr, want)
	}
	execStar(t, env, func(s *Session) { s.Sys.Sandbox, s.File.Sandbox = true, true }, strings.ReplaceAll(`
assert.fails(lambda: k8s.cp("sf1:there", "TOP/x"), "k8s.cp: writing files is not allowed with --sandbox")
assert.fails(lambda: k8s.read_file("sf1", "there"), r"running commands in pods is not allowed with --sandbox \(add --allow-exec to allow it\)")
`, "TOP", top))
	execStar(t, env, func(s *Session) { s.Sys.Sandbox, s.Sys.AllowExec, s.File.Sandbox = true, true, true }, `
assert.eq(k8s.exec("sf1", "test -e made", check=False).code, 1)  # the refused ones made nothing
assert.eq(k8s.read_file("sf1", "there"), "x")
assert.fails(lambda: k8s.cp("/etc/hostname", "sf1:x"), 'k8s.cp: "/etc/hostname" is outside the script\'s directory')
`)
	if b, err := os.ReadFile(filepath.Join(top, "there")); string(b) != "x" || err != nil {
		t.Errorf("copied out under --read-only: %q, %v", b, err)
	}
}
