package builtins

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tarOf is an archive of the entries given: "name" a file ("data" its
// content), "name/" a directory, "name -> target" a symbolic link,
// "name => target" a hard link.
func tarOf(t *testing.T, entries ...string) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e, Mode: 0o644, Typeflag: tar.TypeReg}
		switch {
		case strings.Contains(e, " -> "):
			h.Name, h.Linkname, _ = strings.Cut(e, " -> ")
			h.Typeflag = tar.TypeSymlink
		case strings.Contains(e, " => "):
			h.Name, h.Linkname, _ = strings.Cut(e, " => ")
			h.Typeflag = tar.TypeLink
		case strings.HasSuffix(e, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		default:
			h.Size = 4
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("data"))
		}
	}
	tw.Close()
	return bytes.NewReader(buf.Bytes())
}

// tree lists what is under dir: "path mode [-> link | content]".
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		fi, _ := os.Lstat(p)
		line := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return out
}

// TestUntarRefuses: archives whose entries lead out of the destination
// (kubectl cp's CVEs: absolute names, "..", links out, writing through a
// link) are refused whole, nothing written in the destination or beside
// it.
func TestUntarRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []string
		pre     func(dest string) // what the destination holds before
		want    string
	}{
		{"dotdot", []string{"dir/a", "dir/../../evil"}, nil, `entry "dir/../../evil" has a ".." element`},
		{"dotdot first", []string{"../evil"}, nil, `entry "../evil" has a ".." element`},
		{"absolute", []string{"dir/a", "/tmp/evil"}, nil, `entry "/tmp/evil" has an absolute name`},
		{"not under the path", []string{"dir/a", "other/b"}, nil, `entry "other/b" is not under "dir"`},
		{"prefix of a name", []string{"dirx/b"}, nil, `entry "dirx/b" is not under "dir"`},
		{"symlink out", []string{"dir/a", "dir/ln -> ../../outside"}, nil, `is a symbolic link to "../../outside", out of the destination`},
		{"symlink absolute", []string{"dir/ln -> /etc"}, nil, `is a symbolic link to the absolute path "/etc"`},
		{"through an archive link", []string{"dir/a -> .", "dir/a/l -> ../x"}, nil, `entry "dir/a/l" is under "a", a symbolic link of the archive`},
		{"write through an archive link", []string{"dir/sub/", "dir/a -> sub", "dir/a/f"}, nil, `is under "a", a symbolic link of the archive`},
		{"dir over a link", []string{"dir/a -> .", "dir/a/"}, nil, `is a directory in place of a symbolic link of the archive`},
		{"through a link in the destination", []string{"dir/up/evil"}, func(dest string) {
			os.MkdirAll(dest, 0o755)
			os.Symlink("../outside", filepath.Join(dest, "up"))
		}, `entry "dir/up/evil" is under "up", a symbolic link in the destination`},
		{"hard link out", []string{"dir/a", "dir/h => /etc/passwd"}, nil, `is a hard link to "/etc/passwd", out of the destination`},
		{"hard link out by dots", []string{"dir/h => dir/../../x"}, nil, `is a hard link to "dir/../../x"`},
		{"symlink as the destination", []string{"dir -> x"}, nil, `is a symbolic link in place of the destination`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			outside := filepath.Join(top, "outside")
			os.Mkdir(outside, 0o755)
			dest := filepath.Join(top, "dest")
			if tc.pre != nil {
				tc.pre(dest)
			}
			before := tree(t, top)
			root, err := os.OpenRoot(top)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			var warn bytes.Buffer
			err = untar(tarOf(t, tc.entries...), root, "dest", "dir", &warn)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasSuffix(err.Error(), "; nothing was written") {
				t.Fatalf("untar: %v, want an error with %q", err, tc.want)
			}
			if after := tree(t, top); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("untar refused but wrote:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// TestTarRoundTrip: writeTar and untar keep a tree: files, directories and
// their modes, links inside it; set-user-ID bits are dropped; devices are
// skipped with a warning.
func TestTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	d := filepath.Join(src, "d")
	os.MkdirAll(filepath.Join(d, "sub", "empty"), 0o755)
	os.WriteFile(filepath.Join(d, "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(d, "secret"), []byte("s"), 0o600)
	os.WriteFile(filepath.Join(d, "sub", "f"), []byte("f"), 0o640)
	os.Chmod(filepath.Join(d, "sub"), 0o750)
	os.Symlink("sub/f", filepath.Join(d, "ln"))
	os.Symlink("../run.sh", filepath.Join(d, "sub", "up"))
	root, _ := os.OpenRoot(src)
	defer root.Close()
	var buf bytes.Buffer
	if err := writeTar(&buf, root, "d", "d"); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	oroot, _ := os.OpenRoot(out)
	defer oroot.Close()
	if err := untar(bytes.NewReader(buf.Bytes()), oroot, "copy", "d", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := tree(t, filepath.Join(out, "copy")), tree(t, d); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the copy differs:\n got %q\nwant %q", got, want)
	}

	// A link is written with its clean target; set-user-ID is dropped; a
	// FIFO is skipped.
	var b2 bytes.Buffer
	tw := tar.NewWriter(&b2)
	tw.WriteHeader(&tar.Header{Name: "x/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "x/sub/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "x/sub/l", Typeflag: tar.TypeSymlink, Linkname: "./../sub/../f", Mode: 0o777})
	tw.WriteHeader(&tar.Header{Name: "x/f", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 1})
	tw.Write([]byte("1"))
	tw.WriteHeader(&tar.Header{Name: "x/h", Typeflag: tar.TypeLink, Linkname: "x/f"})
	tw.WriteHeader(&tar.Header{Name: "x/fifo", Typeflag: tar.TypeFifo, Mode: 0o644})
	tw.Close()
	var warn bytes.Buffer
	if err := untar(bytes.NewReader(b2.Bytes()), oroot, "x", "x", &warn); err != nil {
		t.Fatal(err)
	}
	want := []string{". drwxr-xr-x", "f -rwxr-xr-x 1", "h -rwxr-xr-x 1", "sub drwxr-xr-x", "sub/l Lrwxrwxrwx -> ../f"}
	if got := tree(t, filepath.Join(out, "x")); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
	if w := "warning: skipping \"x/fifo\": not a file, directory or link\n"; warn.String() != w {
		t.Errorf("warned %q, want %q", warn.String(), w)
	}
}
