// Package repl is k8sh's interactive loop: readline, continuation lines,
// echo of values, Ctrl-C. It knows Starlark and the terminal, never the
// Kubernetes API: its caller hands it the globals, the prompt and the echo.
package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/chzyer/readline"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Config is what the REPL needs from its caller.
type Config struct {
	Thread      *starlark.Thread
	Globals     starlark.StringDict
	FileOptions *syntax.FileOptions
	// Prompt returns the primary prompt; it is asked before each statement.
	Prompt func() string
	// Echo formats the value of an expression statement; "" prints nothing.
	Echo func(starlark.Value) string
	// SetContext gives the thread the context that Ctrl-C cancels.
	SetContext func(*starlark.Thread, context.Context)
	// FormatError formats an error of a statement.
	FormatError func(error) string
	// Ends, if set, tells whether an error of a statement ends the REPL
	// (sys.exit, exit()): Run then returns it.
	Ends func(error) bool
	// SetAsk, if set, receives a function that asks the user a question
	// on the terminal while a statement runs (a confirmation).
	SetAsk func(ask func(prompt string) (string, error))
	// Source gives completion what it knows of the cluster; may be nil.
	Source Source
	// Turn, if set, is the session's turn: at most one goroutine runs
	// the session's Starlark at a time (background work, such as k8s.on's
	// handlers, takes it for each call). The caller holds it when Run
	// starts; Run lends it (Unlock) while it waits for a line and takes it
	// back (Lock) before it runs what was typed, so background work runs
	// while the user types, never while a statement runs. Completion,
	// which evaluates names while the user types, takes it with TryLock.
	Turn Turn
	// SetBackgroundOutput, if set, receives the writers that background
	// work prints through while Run runs: what is written to them appears
	// above the prompt, and the line being edited is redrawn below it. It
	// receives nil, nil when Run returns.
	SetBackgroundOutput func(stdout, stderr io.Writer)
	// HistoryFile keeps the lines typed, across sessions ("" for none).
	HistoryFile    string
	Stdout, Stderr io.Writer
}

// Turn is a session's turn to run Starlark (Config.Turn).
type Turn interface {
	Lock()
	Unlock()
	// TryLock takes it if it is free within d.
	TryLock(d time.Duration) bool
}

// Run reads, evaluates and prints until end of input (Ctrl-D).
func Run(cfg Config) error {
	if cfg.HistoryFile != "" {
		// A history that cannot be kept is no reason not to start.
		os.MkdirAll(filepath.Dir(cfg.HistoryFile), 0o700)
	}
	comp := &Completer{Globals: cfg.Globals, Source: cfg.Source, Turn: cfg.Turn}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            cfg.Prompt(),
		Stdout:            cfg.Stdout,
		Stderr:            cfg.Stderr,
		InterruptPrompt:   "^C",
		HistoryFile:       cfg.HistoryFile,
		HistorySearchFold: true,
		AutoComplete:      comp,
		Listener:          comp,
	})
	if err != nil {
		return err
	}
	defer rl.Close()
	if cfg.SetBackgroundOutput != nil {
		// readline's writers clean the line being edited, write, and
		// draw the prompt and the line again below.
		cfg.SetBackgroundOutput(rl.Stdout(), rl.Stderr())
		defer cfg.SetBackgroundOutput(nil, nil)
	}
	if cfg.SetAsk != nil {
		cfg.SetAsk(func(prompt string) (string, error) {
			rl.SetPrompt(prompt)
			defer rl.SetPrompt("... ")
			line, err := rl.Readline()
			return strings.TrimSpace(line), err
		})
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)

	for {
		err := readEvalPrint(cfg, rl, comp, sigs)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func readEvalPrint(cfg Config, rl *readline.Instance, comp *Completer, sigs chan os.Signal) error {
	// Each statement gets its own context, cancelled by Ctrl-C (SIGINT)
	// while it runs; while typing, readline turns Ctrl-C into ErrInterrupt.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.SetContext(cfg.Thread, ctx)
	cfg.Thread.Uncancel()
	go func() {
		select {
		case <-sigs:
			cancel()
			cfg.Thread.Cancel("interrupted")
		case <-ctx.Done():
		}
	}()

	rl.SetPrompt(cfg.Prompt())
	opts := *cfg.FileOptions
	opts.LoadBindsGlobally = true
	eof, interrupted, lines, complete := false, false, 0, false
	var typed strings.Builder // the statement's lines so far, for completion
	readLine := func() ([]byte, error) {
		if lines == 1 && complete {
			return []byte("\n"), nil // the one-line for, while or def ends here
		}
		comp.SetPending(typed.String())
		if cfg.Turn != nil {
			cfg.Turn.Unlock() // background work runs while the user types
		}
		line, err := rl.Readline()
		if cfg.Turn != nil {
			cfg.Turn.Lock()
		}
		line = comp.LineRead(line)
		typed.WriteString(line + "\n")
		rl.SetPrompt("... ")
		if err != nil {
			eof = err == io.EOF
			interrupted = errors.Is(err, readline.ErrInterrupt)
			return nil, err
		}
		lines++
		if lines == 1 {
			complete = oneLineCompound(&opts, line)
		}
		return []byte(line + "\n"), nil
	}
	f, err := opts.ParseCompoundStmt("<stdin>", readLine)
	switch {
	case eof:
		return io.EOF
	case interrupted:
		// Ctrl-C, on the first line or a continuation line, abandons the
		// input: readline has shown "^C".
		return nil
	case err != nil:
		fmt.Fprint(cfg.Stderr, cfg.FormatError(err))
		return nil
	}
	// Each expression statement's value is echoed, as Python's REPL does
	// for "1; 2"; the first error ends the line's statements.
	for _, stmt := range f.Stmts {
		if e, ok := stmt.(*syntax.ExprStmt); ok {
			v, err := starlark.EvalExprOptions(f.Options, cfg.Thread, e.X, cfg.Globals)
			if err != nil {
				return cfg.failed(err)
			}
			cfg.Globals["_"] = v
			if s := cfg.Echo(v); s != "" {
				fmt.Fprintln(cfg.Stdout, s)
			}
			continue
		}
		one := &syntax.File{Options: f.Options, Path: f.Path, Stmts: []syntax.Stmt{stmt}}
		if err := starlark.ExecREPLChunk(one, cfg.Thread, cfg.Globals); err != nil {
			return cfg.failed(err)
		}
	}
	return nil
}

// failed shows the error of a statement, and returns it when it ends the
// REPL.
func (cfg *Config) failed(err error) error {
	if cfg.Ends != nil && cfg.Ends(err) {
		return err
	}
	fmt.Fprint(cfg.Stderr, cfg.FormatError(err))
	return nil
}

// oneLineCompound tells whether line is a whole for, while or def
// statement with its body on the same line ("for p in pods: print(p)"), which
// runs on Enter rather than waiting for a blank line. An if waits, as in
// Python: an elif or else may follow.
func oneLineCompound(opts *syntax.FileOptions, line string) bool {
	word, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	if word != "for" && word != "while" && word != "def" {
		return false
	}
	f, err := opts.Parse("<stdin>", line+"\n", 0)
	return err == nil && len(f.Stmts) == 1
}
