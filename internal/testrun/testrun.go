// Package testrun is `k8sh test`: it runs the test functions of *_test.star
// files and prints their results as `go test` prints a package's.
//
// Each top-level function of a test file whose name starts with "test_" is
// a test. Each test runs in a thread of its own with fresh globals: the
// file's top-level statements are run again for it, then the function is
// called. A failed assertion (the assert module) marks the test failed and
// the test goes on, as Go's t.Errorf; an error (fail(), a failed builtin)
// ends the test and fails it. What a test prints is shown under its name
// when it fails, or with -v, as t.Log.
package testrun

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/k8sh/k8sh/internal/starerr"
	"github.com/k8sh/k8sh/lib/assert"
)

// Config is how a run finds and runs the tests.
type Config struct {
	// Run selects the tests whose name it matches (nil: every test), as go
	// test -run.
	Run *regexp.Regexp
	// Verbose prints each test's name and result, and what passing tests
	// printed, as go test -v.
	Verbose bool
	// Stdout gets the results.
	Stdout io.Writer
	// FileOptions is the dialect the files are written in.
	FileOptions *syntax.FileOptions
	// NewThread makes the thread and the predeclared names of one run of
	// file's top level and of one of its tests. Its thread's Print is
	// replaced; cleanup (if not nil) is called when the test is over.
	NewThread func(file string) (thread *starlark.Thread, globals starlark.StringDict, cleanup func(), err error)
	// Context ends the run when it is done (Ctrl-C, --timeout).
	Context context.Context
}

// Summary counts the tests of a run.
type Summary struct {
	Passed, Failed int
}

// Find expands the arguments of `k8sh test` into test files, as go test
// finds packages: no argument is the working directory, a directory is its
// *_test.star files, "dir/..." those of dir and every directory under it
// (but testdata and directories whose names start with "." or "_"), and a
// file is itself.
func Find(args []string) ([]string, error) {
	if len(args) == 0 {
		args = []string{"."}
	}
	var files []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	for _, arg := range args {
		if dir, ok := strings.CutSuffix(arg, "/..."); ok || arg == "..." {
			if arg == "..." {
				dir = "."
			}
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					name := d.Name()
					if path != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
						return filepath.SkipDir
					}
					return nil
				}
				if isTestFile(d.Name()) {
					add(path)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			continue
		}
		fi, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			add(arg)
			continue
		}
		entries, err := os.ReadDir(arg)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && isTestFile(e.Name()) {
				add(filepath.Join(arg, e.Name()))
			}
		}
	}
	return files, nil
}

func isTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.star") && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "_")
}

// Run runs the tests of files and prints their results; the last line is
// "N passed, M failed".
func Run(cfg Config, files []string) Summary {
	var sum Summary
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	for _, file := range files {
		if cfg.Context.Err() != nil {
			break
		}
		s := runFile(cfg, file)
		sum.Passed += s.Passed
		sum.Failed += s.Failed
	}
	fmt.Fprintf(cfg.Stdout, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	return sum
}

// testNames are the names of the test functions that file defines at top
// level, in the order it defines them.
func testNames(opts *syntax.FileOptions, file string, src []byte) ([]string, error) {
	f, err := opts.Parse(file, src, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, stmt := range f.Stmts {
		if def, ok := stmt.(*syntax.DefStmt); ok && strings.HasPrefix(def.Name.Name, "test_") {
			names = append(names, def.Name.Name)
		}
	}
	return names, nil
}

func runFile(cfg Config, file string) Summary {
	start := time.Now()
	out := cfg.Stdout
	var sum Summary
	src, err := os.ReadFile(file)
	if err == nil {
		var names []string
		names, err = testNames(cfg.FileOptions, file, src)
		if err == nil {
			for _, name := range names {
				if cfg.Run != nil && !cfg.Run.MatchString(name) {
					continue
				}
				if cfg.Context.Err() != nil {
					break
				}
				if runTest(cfg, file, src, name) {
					sum.Passed++
				} else {
					sum.Failed++
				}
			}
		}
	}
	elapsed := time.Since(start).Seconds()
	switch {
	case err != nil:
		fmt.Fprintf(out, "%s\nFAIL\t%s [setup failed]\n", indent(errorText(err), ""), file)
		sum.Failed++
	case sum.Failed > 0:
		fmt.Fprintf(out, "FAIL\nFAIL\t%s\t%.3fs\n", file, elapsed)
	case sum.Passed == 0:
		fmt.Fprintf(out, "ok  \t%s\t%.3fs [no tests to run]\n", file, elapsed)
	default:
		if cfg.Verbose {
			fmt.Fprintln(out, "PASS")
		}
		fmt.Fprintf(out, "ok  \t%s\t%.3fs\n", file, elapsed)
	}
	return sum
}

// runTest runs the test name of file and prints its result; it reports
// whether the test passed.
func runTest(cfg Config, file string, src []byte, name string) bool {
	out := cfg.Stdout
	if cfg.Verbose {
		fmt.Fprintf(out, "=== RUN   %s\n", name)
	}
	var log []string // what the test printed and its failures, in order
	failed := false
	start := time.Now()
	err := func() error {
		thread, globals, cleanup, err := cfg.NewThread(file)
		if err != nil {
			return err
		}
		if cleanup != nil {
			defer cleanup()
		}
		thread.Name = name
		thread.Print = func(_ *starlark.Thread, msg string) { log = append(log, msg) }
		assert.SetReporter(thread, func(pos syntax.Position, msg string) {
			failed = true
			log = append(log, fmt.Sprintf("%s:%d: %s", filepath.Base(pos.Filename()), pos.Line, msg))
		})
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-cfg.Context.Done():
				thread.Cancel("interrupted")
			case <-done:
			}
		}()
		g, err := starlark.ExecFileOptions(cfg.FileOptions, thread, file, src, globals)
		if err != nil {
			return err
		}
		fn, ok := g[name].(starlark.Callable)
		if !ok {
			return fmt.Errorf("%s is not a function", name)
		}
		_, err = starlark.Call(thread, fn, nil, nil)
		return err
	}()
	if err != nil {
		failed = true
		log = append(log, errorText(err))
	}
	if failed || cfg.Verbose {
		if !cfg.Verbose {
			fmt.Fprintf(out, "--- %s: %s (%.2fs)\n", result(failed), name, time.Since(start).Seconds())
		}
		for _, l := range log {
			fmt.Fprintln(out, indent(l, "    "))
		}
		if cfg.Verbose {
			fmt.Fprintf(out, "--- %s: %s (%.2fs)\n", result(failed), name, time.Since(start).Seconds())
		}
	}
	return !failed
}

func result(failed bool) string {
	if failed {
		return "FAIL"
	}
	return "PASS"
}

// indent indents the first line of s by prefix and the others by prefix
// and four spaces more, as go test indents a message of several lines.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		if i == 0 {
			lines[i] = prefix + lines[i]
		} else {
			lines[i] = prefix + "    " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// errorText is an error as "file:line: message" and, when it happened in a
// function called from the test, the calls that led to it.
func errorText(err error) string {
	ee, stack, ok := starerr.Frames(err)
	if !ok {
		return err.Error()
	}
	var b strings.Builder
	if n := len(stack); n > 0 {
		pos := stack[n-1].Pos
		fmt.Fprintf(&b, "%s:%d: ", filepath.Base(pos.Filename()), pos.Line)
	}
	b.WriteString(ee.Msg)
	if len(stack) > 1 { // more than the test function
		b.WriteString("\nTraceback (most recent call last):")
		for _, fr := range stack {
			fmt.Fprintf(&b, "\n  %s: in %s", fr.Pos, fr.Name)
		}
	}
	return b.String()
}
