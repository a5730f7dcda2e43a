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
	// SetAsk, if set, receives a function that asks the user a question
	// on the terminal while a statement runs (a confirmation).
	SetAsk func(ask func(prompt string) (string, error))
	// Source gives completion what it knows of the cluster; may be nil.
	Source Source
	// HistoryFile keeps the lines typed, across sessions ("" for none).
	HistoryFile    string
	Stdout, Stderr io.Writer
}

// Run reads, evaluates and prints until end of input (Ctrl-D).
func Run(cfg Config) error {
	if cfg.HistoryFile != "" {
		// A history that cannot be kept is no reason not to start.
		os.MkdirAll(filepath.Dir(cfg.HistoryFile), 0o700)
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:            cfg.Prompt(),
		Stdout:            cfg.Stdout,
		Stderr:            cfg.Stderr,
		InterruptPrompt:   "^C",
		HistoryFile:       cfg.HistoryFile,
		HistorySearchFold: true,
		AutoComplete:      &Completer{Globals: cfg.Globals, Source: cfg.Source},
	})
	if err != nil {
		return err
	}
	defer rl.Close()
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
		err := readEvalPrint(cfg, rl, sigs)
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, readline.ErrInterrupt) {
			return err
		}
	}
}

func readEvalPrint(cfg Config, rl *readline.Instance, sigs chan os.Signal) error {
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
	eof := false
	readLine := func() ([]byte, error) {
		line, err := rl.Readline()
		rl.SetPrompt("... ")
		if err != nil {
			if err == io.EOF {
				eof = true
			}
			return nil, err
		}
		return []byte(line + "\n"), nil
	}
	opts := *cfg.FileOptions
	opts.LoadBindsGlobally = true
	f, err := opts.ParseCompoundStmt("<stdin>", readLine)
	if err != nil {
		if eof {
			return io.EOF
		}
		if errors.Is(err, readline.ErrInterrupt) {
			return err
		}
		fmt.Fprint(cfg.Stderr, cfg.FormatError(err))
		return nil
	}
	if expr := soleExpr(f); expr != nil {
		v, err := starlark.EvalExprOptions(f.Options, cfg.Thread, expr, cfg.Globals)
		if err != nil {
			fmt.Fprint(cfg.Stderr, cfg.FormatError(err))
			return nil
		}
		cfg.Globals["_"] = v
		if s := cfg.Echo(v); s != "" {
			fmt.Fprintln(cfg.Stdout, s)
		}
		return nil
	}
	if err := starlark.ExecREPLChunk(f, cfg.Thread, cfg.Globals); err != nil {
		fmt.Fprint(cfg.Stderr, cfg.FormatError(err))
	}
	return nil
}

func soleExpr(f *syntax.File) syntax.Expr {
	if len(f.Stmts) == 1 {
		if stmt, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			return stmt.X
		}
	}
	return nil
}
