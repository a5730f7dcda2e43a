package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

const (
	kwokModule  = "sigs.k8s.io/kwok"
	kwokVersion = "v0.8.0"
	kubeVersion = "v1.37.2" // must match k8s.io/kubernetes in sandbox/go.mod

	// buildRecipe is part of the stamp: bump it when the way binaries are
	// built changes, so that existing bin dirs get rebuilt.
	buildRecipe = "recipe-1"
)

// binaries built from the sandbox module (cwd = sandbox dir).
var moduleBinaries = []struct{ name, pkg string }{
	{"etcd", "go.etcd.io/etcd/server/v3"},
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"},
	{"kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"},
	{"kubectl", "k8s.io/kubernetes/cmd/kubectl"},
}

var allBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if gr := os.Getenv("GOROOT"); gr != "" {
		return filepath.Join(gr, "bin", "go")
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// goEnv returns the environment for go commands. GOWORK is disabled so the
// pins of sandbox/go.mod apply even if the repo grows a go.work; for
// `go install pkg@version`, any -mod= in GOFLAGS is dropped (it is an error there).
func goEnv(dropModFlag bool) []string {
	var out []string
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "GOWORK="), strings.HasPrefix(kv, "GOBIN="):
			continue
		case dropModFlag && strings.HasPrefix(kv, "GOFLAGS="):
			var keep []string
			for _, f := range strings.Fields(strings.TrimPrefix(kv, "GOFLAGS=")) {
				if !strings.HasPrefix(f, "-mod=") {
					keep = append(keep, f)
				}
			}
			kv = "GOFLAGS=" + strings.Join(keep, " ")
		}
		out = append(out, kv)
	}
	return append(out, "GOWORK=off")
}

// stamp identifies the pinned versions plus the toolchain.
func (e *env) stamp() (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(e.sandboxDir, f))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	cmd := exec.Command(goTool(), "env", "GOVERSION")
	cmd.Dir = e.sandboxDir
	cmd.Env = goEnv(false)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	fmt.Fprintf(h, "kwok %s\ngo %s\n%s\n", kwokVersion, strings.TrimSpace(string(out)), buildRecipe)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (e *env) stampPath() string { return filepath.Join(e.binDir, ".stamp") }

func (e *env) binariesPresent() bool {
	for _, b := range allBinaries {
		fi, err := os.Stat(filepath.Join(e.binDir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// build builds the pinned binaries unless the stamp matches and all exist.
// The explicit `build` command also always rewrites kwok.yaml. The bin dir
// is shared by every state dir, so it has a lock of its own.
func (e *env) build(explicit bool) error {
	return lockDir(e.binDir, func() error { return e.buildLocked(explicit) })
}

func (e *env) buildLocked(explicit bool) error {
	want, err := e.stamp()
	if err != nil {
		return err
	}
	have, _ := os.ReadFile(e.stampPath())
	if strings.TrimSpace(string(have)) == want && e.binariesPresent() {
		if explicit {
			logf("binaries up to date in %s", e.binDir)
			return e.writeKwokConfig()
		}
		return nil
	}
	if err := os.MkdirAll(e.binDir, 0o755); err != nil {
		return err
	}
	os.Remove(e.stampPath())
	start := time.Now()
	logf("building pinned binaries into %s (first build takes ~6 minutes on 2 cores; later builds use the Go build cache)", e.binDir)

	versionPkgs := []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"}
	var ldflags []string
	for _, p := range versionPkgs {
		major, minor, _ := strings.Cut(strings.TrimPrefix(kubeVersion, "v"), ".")
		minor, _, _ = strings.Cut(minor, ".")
		ldflags = append(ldflags,
			"-X", p+".gitVersion="+kubeVersion,
			"-X", p+".gitMajor="+major,
			"-X", p+".gitMinor="+minor,
			"-X", p+".gitTreeState=clean",
		)
	}
	for _, b := range moduleBinaries {
		t := time.Now()
		logf("building %s ...", b.name)
		args := []string{"build"}
		if strings.HasPrefix(b.pkg, "k8s.io/kubernetes/") {
			args = append(args, "-ldflags", strings.Join(ldflags, " "))
		}
		tmp := filepath.Join(e.binDir, "."+b.name+".new")
		args = append(args, "-o", tmp, b.pkg)
		cmd := exec.Command(goTool(), args...)
		cmd.Dir = e.sandboxDir
		cmd.Env = goEnv(false)
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("building %s (%s): %w", b.name, b.pkg, err)
		}
		if err := os.Rename(tmp, filepath.Join(e.binDir, b.name)); err != nil {
			return err
		}
		logf("built %s in %s", b.name, time.Since(t).Round(time.Second))
	}

	// kwok: `go install pkg@version` outside the sandbox module.
	t := time.Now()
	logf("building kwok %s ...", kwokVersion)
	tmpBin, err := os.MkdirTemp(e.binDir, ".kwok-build")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpBin)
	cmd := exec.Command(goTool(), "install", kwokModule+"/cmd/kwok@"+kwokVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(goEnv(true), "GOBIN="+tmpBin)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building kwok: %w", err)
	}
	if err := os.Rename(filepath.Join(tmpBin, "kwok"), filepath.Join(e.binDir, "kwok")); err != nil {
		return err
	}
	logf("built kwok in %s", time.Since(t).Round(time.Second))

	// Leftovers of `go build -o bin/ ...` builds that name the etcd main after its module.
	for _, stray := range []string{"server", "v3"} {
		os.Remove(filepath.Join(e.binDir, stray))
	}
	if err := e.writeKwokConfig(); err != nil {
		return err
	}
	if err := os.WriteFile(e.stampPath(), []byte(want+"\n"), 0o644); err != nil {
		return err
	}
	logf("build done in %s", time.Since(start).Round(time.Second))
	return nil
}

// kwokModuleDir finds the kwok module source (downloading it if needed).
func kwokModuleDir() (string, error) {
	cmd := exec.Command(goTool(), "mod", "download", "-json", kwokModule+"@"+kwokVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = goEnv(true)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w\n%s%s", kwokModule, kwokVersion, err, out, stderr.Bytes())
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download: %w", err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", kwokModule, kwokVersion, info.Error)
	}
	return info.Dir, nil
}

// writeKwokConfig writes kwok.yaml: the fast node/pod stages, the plain node
// heartbeat stage, and a ClusterLogs object serving pod.log for every container.
func (e *env) writeKwokConfig() error {
	dir, err := kwokModuleDir()
	if err != nil {
		return err
	}
	stage := filepath.Join(dir, "kustomize", "stage")
	files := []string{filepath.Join(stage, "node", "fast", "node-initialize.yaml")}
	hb, _ := filepath.Glob(filepath.Join(stage, "node", "heartbeat", "*.yaml"))
	var heartbeat []string
	for _, f := range hb {
		if strings.HasPrefix(filepath.Base(f), "node-heartbeat") && !strings.Contains(filepath.Base(f), "lease") {
			heartbeat = append(heartbeat, f)
		}
	}
	if len(heartbeat) != 1 {
		return fmt.Errorf("kwok %s: expected one plain heartbeat stage in %s, found %v", kwokVersion, filepath.Join(stage, "node", "heartbeat"), heartbeat)
	}
	files = append(files, heartbeat...)
	pods, _ := filepath.Glob(filepath.Join(stage, "pod", "fast", "pod-*.yaml"))
	if len(pods) == 0 {
		return fmt.Errorf("kwok %s: no pod stages in %s", kwokVersion, filepath.Join(stage, "pod", "fast"))
	}
	sort.Strings(pods)
	files = append(files, pods...)

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Generated by the k8sh sandbox from %s@%s; do not edit.\n", kwokModule, kwokVersion)
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(bytes.TrimRight(b, "\n"))
		buf.WriteString("\n")
	}
	logsFile, _ := json.Marshal(e.podLog)
	fmt.Fprintf(&buf, `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: sandbox-logs
spec:
  selector: {}
  logs:
  - containers: []
    logsFile: %s
    follow: true
`, logsFile)
	return writeFileAtomic(e.kwokConfig, buf.Bytes(), 0o644)
}

// ensurePodLog writes the canned CRI-format container log served by kwok.
func (e *env) ensurePodLog() error {
	if _, err := os.Stat(e.podLog); err == nil {
		return nil
	}
	var buf bytes.Buffer
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&buf, "2026-11-25T10:00:0%d.000000000Z stdout F sandbox log line %d\n", i-1, i)
	}
	return writeFileAtomic(e.podLog, buf.Bytes(), 0o644)
}
