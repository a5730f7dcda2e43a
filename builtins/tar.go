package builtins

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// The archives of k8s.cp: kubectl cp's, tar over exec. Going into a pod
// the archive is made here (writeTar, as kubectl's makeTar) and unpacked by
// the pod's tar; coming out of a pod it is the pod's `tar cf -` and is
// unpacked here (untar), where a pod's archive is not trusted: kubectl cp's
// CVEs (CVE-2018-1002100, CVE-2019-1002101, CVE-2019-11246,
// CVE-2019-11249) were archive entries that led out of the destination.

// writeTar writes to w the archive of src, a name in root (a file, a
// directory with what it holds, or a symbolic link as one), its entries
// named from base on, as kubectl cp names them for `tar -xmf - -C DIR` in
// the pod. Modes are kept; directories have their own entries (kubectl
// gives only empty ones one), so their modes are kept too.
func writeTar(w io.Writer, root *os.Root, src, base string) error {
	tw := tar.NewWriter(w)
	if err := addTar(tw, root, src, base); err != nil {
		return err
	}
	return tw.Close()
}

func addTar(tw *tar.Writer, root *os.Root, name, entry string) error {
	fi, err := root.Lstat(name)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = root.Readlink(name); err != nil {
			return err
		}
	}
	h, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	h.Name = entry
	if fi.IsDir() {
		h.Name += "/"
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		d, err := root.Open(name)
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if err := addTar(tw, root, path.Join(name, n), path.Join(entry, n)); err != nil {
				return err
			}
		}
	case fi.Mode().IsRegular():
		f, err := root.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, h.Size); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// untarEntry is one archive entry, checked, as untar writes it.
type untarEntry struct {
	typ  byte
	name string // in the destination: "." or a local path
	link string // a symbolic link's target (relative, clean), a hard link's name in the destination
	mode fs.FileMode
}

// untarRefused is an archive entry that untar refuses.
type untarRefused struct{ entry, why string }

func (e *untarRefused) Error() string {
	return fmt.Sprintf("refusing the archive from the pod: entry %q %s; nothing was written", e.entry, e.why)
}

// untar unpacks the archive in f (a file, read twice) into base, the
// destination in root, as kubectl cp's untarAll maps it: an entry named
// prefix/REST goes to base/REST, prefix itself to base. Every entry is checked before anything is written; the
// archive is refused, whole, when one has an absolute name or a ".."
// element, is not under prefix, or is a symbolic or hard link that points
// out of the destination. Entries are written through root (an os.Root),
// which does not follow a link out of it either. Modes are kept (the
// permission bits: set-user-ID and the like are dropped); device and FIFO
// entries are skipped, each with a warning line.
func untar(f io.ReadSeeker, root *os.Root, base, prefix string, warn io.Writer) error {
	if warn == nil {
		warn = io.Discard
	}
	var entries []untarEntry
	links := map[string]bool{} // the symbolic links of the archive
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive from the pod: %w", err)
		}
		e, err := checkEntry(h, prefix)
		if err != nil {
			return err
		}
		if e == nil {
			fmt.Fprintf(warn, "warning: skipping %q: not a file, directory or link\n", h.Name)
			continue
		}
		// Nothing is written through a symbolic link, of the archive or
		// already in the destination: a link's target is checked from
		// where its name says it is, which a link in its path would belie.
		if err := throughLink(root, base, h.Name, e, links); err != nil {
			return err
		}
		if e.typ == tar.TypeSymlink {
			links[e.name] = true
		}
		entries = append(entries, *e)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	tr = tar.NewReader(f)
	i := 0
	var dirs []untarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if i >= len(entries) || h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock || h.Typeflag == tar.TypeFifo {
			continue
		}
		e := entries[i]
		i++
		e.name = path.Join(base, e.name)
		if e.typ == tar.TypeLink {
			e.link = path.Join(base, e.link)
		}
		if err := root.MkdirAll(path.Dir(e.name), 0o755); err != nil {
			return err
		}
		switch e.typ {
		case tar.TypeDir:
			if err := root.MkdirAll(e.name, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, e) // its mode once what it holds is written
			continue
		case tar.TypeSymlink, tar.TypeLink:
			if err := removeNonDir(root, e.name); err != nil {
				return err
			}
			if e.typ == tar.TypeSymlink {
				err = root.Symlink(e.link, e.name)
			} else {
				err = root.Link(e.link, e.name)
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := removeNonDir(root, e.name); err != nil {
			return err
		}
		out, err := root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, e.mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := root.Chmod(e.name, e.mode); err != nil {
			return err
		}
	}
	for j := len(dirs) - 1; j >= 0; j-- {
		if err := root.Chmod(dirs[j].name, dirs[j].mode); err != nil {
			return err
		}
	}
	return nil
}

// throughLink refuses entry e (named name in the archive) when a directory
// of its path is a symbolic link, of the archive (links) or in root, or
// when it is a directory where the archive put a link.
func throughLink(root *os.Root, base, name string, e *untarEntry, links map[string]bool) error {
	if e.typ == tar.TypeDir && links[e.name] {
		return &untarRefused{name, "is a directory in place of a symbolic link of the archive"}
	}
	if e.name == "." {
		return nil
	}
	parts := strings.Split(e.name, "/")
	for i := 1; i < len(parts); i++ {
		dir := strings.Join(parts[:i], "/")
		if links[dir] {
			return &untarRefused{name, fmt.Sprintf("is under %q, a symbolic link of the archive", dir)}
		}
		if fi, err := root.Lstat(path.Join(base, dir)); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return &untarRefused{name, fmt.Sprintf("is under %q, a symbolic link in the destination", dir)}
		}
	}
	return nil
}

// removeNonDir removes name from root when it is there and is not a
// directory, so that a link or file takes its place rather than be
// written through it.
func removeNonDir(root *os.Root, name string) error {
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s: is a directory", name)
	}
	return root.Remove(name)
}

// checkEntry checks archive entry h for untar and says where it goes; nil
// for an entry skipped.
func checkEntry(h *tar.Header, prefix string) (*untarEntry, error) {
	refuse := func(why string) error { return &untarRefused{h.Name, why} }
	name, err := archiveName(h.Name, prefix)
	if err != nil {
		return nil, refuse(err.Error())
	}
	e := &untarEntry{typ: h.Typeflag, name: name, mode: fs.FileMode(h.Mode) & fs.ModePerm}
	switch h.Typeflag {
	case tar.TypeDir:
	case tar.TypeReg, tar.TypeRegA:
		e.typ = tar.TypeReg
	case tar.TypeSymlink:
		if e.name == "." {
			return nil, refuse("is a symbolic link in place of the destination")
		}
		if path.IsAbs(h.Linkname) {
			return nil, refuse(fmt.Sprintf("is a symbolic link to the absolute path %q", h.Linkname))
		}
		to := path.Join(path.Dir(e.name), h.Linkname)
		if !local(to) {
			return nil, refuse(fmt.Sprintf("is a symbolic link to %q, out of the destination", h.Linkname))
		}
		// The target written is the clean one: the link leads where its
		// name says, whatever links its path holds.
		rel, ok := relPath(path.Dir(e.name), to)
		if !ok {
			return nil, refuse(fmt.Sprintf("is a symbolic link to %q, out of the destination", h.Linkname))
		}
		e.link = rel
	case tar.TypeLink:
		to, err := archiveName(h.Linkname, prefix)
		if err != nil || to == "." {
			return nil, refuse(fmt.Sprintf("is a hard link to %q, out of the destination", h.Linkname))
		}
		e.link = to
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return nil, nil
	default:
		return nil, refuse(fmt.Sprintf("is of a type (%q) that is not unpacked", h.Typeflag))
	}
	return e, nil
}

// archiveName is where in the destination the entry called name of an
// archive made by `tar cf - PREFIX` goes: "." for prefix itself.
func archiveName(name, prefix string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", errors.New("has an absolute name")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", errors.New(`has a ".." element`)
		}
	}
	rest := name
	if prefix != "" {
		switch {
		case name == prefix:
			rest = ""
		case strings.HasPrefix(name, prefix+"/"):
			rest = name[len(prefix)+1:]
		default:
			return "", fmt.Errorf("is not under %q, the path copied", prefix)
		}
	}
	rest = path.Clean("/" + rest)[1:]
	if rest == "" {
		return ".", nil
	}
	return rest, nil
}

// local tells whether the clean relative path p stays in its root.
func local(p string) bool {
	return p == "." || (!path.IsAbs(p) && p != ".." && !strings.HasPrefix(p, "../"))
}

// relPath is to relative to the directory dir, both clean local paths.
func relPath(dir, to string) (string, bool) {
	if dir == "." {
		return to, true
	}
	d, t := strings.Split(dir, "/"), strings.Split(to, "/")
	if to == "." {
		t = nil
	}
	i := 0
	for i < len(d) && i < len(t) && d[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(d)-i+len(t)-i)
	for range d[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return ".", true
	}
	return strings.Join(parts, "/"), true
}
