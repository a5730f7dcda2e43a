package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// state is persisted in STATE/state.json (STATE is ROOT/.cache/sandbox by
// default).
type state struct {
	Root       string         `json:"root"`
	StateDir   string         `json:"stateDir,omitempty"`
	BinDir     string         `json:"binDir"`
	Kubeconfig string         `json:"kubeconfig"`
	Server     string         `json:"server"`
	Ports      map[string]int `json:"ports"`
	Components []component    `json:"components"` // in start order
	StartedAt  time.Time      `json:"startedAt"`
	Ready      bool           `json:"ready"`
	// Recipe is stateRecipe of the sandboxctl that made the sandbox.
	Recipe int `json:"recipe,omitempty"`
}

type component struct {
	Name string `json:"name"`
	// Bin is the binary it runs, when it is not Name (kwok-1 runs kwok).
	Bin   string         `json:"bin,omitempty"`
	Pid   int            `json:"pid"`
	Ports map[string]int `json:"ports,omitempty"`
	Log   string         `json:"log"`
	// Args are the flags it was started with (restart-apiserver reuses them).
	Args []string `json:"args,omitempty"`
}

// bin is the binary c runs.
func (c component) bin() string {
	if c.Bin != "" {
		return c.Bin
	}
	return c.Name
}

func (e *env) readState() (*state, error) {
	b, err := os.ReadFile(e.statePath)
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", e.statePath, err)
	}
	return &s, nil
}

func (e *env) writeState(s *state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(e.statePath, append(b, '\n'), 0o644)
}

// ourProcess reports whether pid is a live (non-zombie) process running one
// of our binaries from binDir for this state dir (see ownedBy).
func (e *env) ourProcess(pid int) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return bytes.Contains(cmdline, []byte(e.binDir+"/")) && e.ownedBy(pid, cmdline)
}

// ownedBy tells whether the process pid (with that cmdline) belongs to the
// sandbox of e's state dir rather than to another one sharing the bin dir:
// its working directory is the state dir (every component is started
// there), or one of its arguments (or the value of a --flag=value) is
// exactly one of the state dir's own paths. Exact comparisons, so that
// neither of a state dir and a state dir nested in it claims the other's
// processes.
func (e *env) ownedBy(pid int, cmdline []byte) bool {
	if cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd"); err == nil {
		if cwd == e.stateDir {
			return true
		}
		if real, err := filepath.EvalSymlinks(e.stateDir); err == nil && cwd == real {
			return true
		}
	}
	marks := map[string]bool{
		e.etcdDir: true, // etcd --data-dir
		filepath.Join(e.pkiDir, "apiserver-certs"):  true, // kube-apiserver --cert-dir
		filepath.Join(e.pkiDir, "admin.kubeconfig"): true, // controllers' --kubeconfig
		e.auditPol:    true, // kube-apiserver --audit-policy-file
		e.kwokConfig:  true, // kwok -c
		e.kwok1Config: true, // kwok-1's -c
		e.kubeconfig:  true, // kubectl --kubeconfig
	}
	for _, a := range strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00") {
		if marks[a] {
			return true
		}
		if _, v, ok := strings.Cut(a, "="); ok && marks[v] {
			return true
		}
	}
	return false
}

// strayProcesses lists processes (other than us and our ancestors) whose
// executable or argv[0] lives in binDir and that belong to this state dir
// (ownedBy), newest first. Sandboxes of other state dirs are left alone.
func (e *env) strayProcesses() []int {
	skip := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !skip[pid]; pid = parentPid(pid) {
		skip[pid] = true
	}
	entries, _ := os.ReadDir("/proc")
	var out []int
	prefix := e.binDir + "/"
	for _, de := range entries {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || skip[pid] {
			continue
		}
		exe, _ := os.Readlink("/proc/" + de.Name() + "/exe")
		cmdline, _ := os.ReadFile("/proc/" + de.Name() + "/cmdline")
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if (strings.HasPrefix(exe, prefix) || strings.HasPrefix(string(argv0), prefix)) && alive(pid) && e.ownedBy(pid, cmdline) {
			out = append(out, pid)
		}
	}
	// Newest first, mirroring the reverse start order used for known components
	// (etcd, started first, shuts down slowly while apiservers still watch it).
	sort.SliceStable(out, func(i, j int) bool { return startTime(out[i]) > startTime(out[j]) })
	return out
}

// statField is field n (0-based, after the command name) of
// /proc/PID/stat, "" when it cannot be read.
func statField(pid, n int) string {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(st[i+1:]))
	if len(f) <= n {
		return ""
	}
	return f[n]
}

// startTime is the process start time in clock ticks since boot (0 if unknown).
func startTime(pid int) uint64 {
	v, _ := strconv.ParseUint(statField(pid, 19), 10, 64)
	return v
}

func parentPid(pid int) int {
	ppid, _ := strconv.Atoi(statField(pid, 1))
	return ppid
}

func alive(pid int) bool {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(st, ')')
	return !(i > 0 && i+2 < len(st) && (st[i+2] == 'Z' || st[i+2] == 'X'))
}

// stopPids sends SIGTERM to each pid in order (each one waited for up to
// grace before the next), then SIGKILL to whatever is left.
func stopPids(pids []int, names []string, grace time.Duration) {
	for i, pid := range pids {
		if !alive(pid) {
			continue
		}
		name := strconv.Itoa(pid)
		if names != nil && names[i] != "" {
			name = names[i] + " (pid " + name + ")"
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(grace)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			logf("%s did not exit after SIGTERM; killing", name)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for j := 0; j < 100 && alive(pid); j++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// proc is a component started by this invocation of `up`.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid after done is closed
}

func (e *env) start(name string, args ...string) (*proc, error) {
	return e.startLog(name, name, false, args...)
}

// startLog starts binDir/bin as the component name in the state dir, its
// output going to logs/NAME.log, truncated or (appendLog) appended to.
func (e *env) startLog(name, bin string, appendLog bool, args ...string) (*proc, error) {
	logPath := filepath.Join(e.logDir, name+".log")
	mode := os.O_TRUNC
	if appendLog {
		mode = os.O_APPEND
	}
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|mode, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(e.binDir, bin), args...)
	cmd.Dir = e.stateDir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Keep components from picking up a user's kubeconfig by accident.
	cmd.Env = append(filterEnv(os.Environ(), "KUBECONFIG="), "KUBECONFIG=")
	fmt.Fprintf(f, "# %s %s\n", cmd.Path, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func filterEnv(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// componentError reports a failed component with the end of its log.
type componentError struct {
	name, log string
	err       error
}

func (c *componentError) Error() string {
	return fmt.Sprintf("%s failed: %v\n----- last 30 lines of %s -----\n%s\n-----", c.name, c.err, c.log, tail(c.log, 30))
}

var errInterrupted = errors.New("interrupted")
