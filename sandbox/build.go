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
	buildRecipe = "recipe-2"
)

// installedBinaries are built with `go install pkg@version` outside the
// sandbox module, each with the dependencies its own go.mod pins (kwok and
// metrics-server pin other k8s.io versions than k8s.io/kubernetes does).
var installedBinaries = []struct{ name, version, pkg string }{
	{"kwok", kwokVersion, kwokModule + "/cmd/kwok"},
	{"metrics-server", "v0.8.0", "sigs.k8s.io/metrics-server/cmd/metrics-server"},
}

// binaries built from the sandbox module (cwd = sandbox dir).
var moduleBinaries = []struct{ name, pkg string }{
	{"etcd", "go.etcd.io/etcd/server/v3"},
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"},
	{"kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"},
	{"kubectl", "k8s.io/kubernetes/cmd/kubectl"},
	// Built from this module's own source, which is part of the stamp.
	{"echo-server", "./echoserver"},
	{"egress-guard", "./egressguard"},
	{"node-exec", "./nodeexec"},
}

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
	var local []string
	for _, b := range moduleBinaries {
		if strings.HasPrefix(b.pkg, "./") {
			fs, _ := filepath.Glob(filepath.Join(e.sandboxDir, b.pkg, "*.go"))
			local = append(local, fs...)
		}
	}
	sort.Strings(local)
	for _, f := range local {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(e.sandboxDir, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	for _, b := range installedBinaries {
		fmt.Fprintf(h, "%s@%s\n", b.pkg, b.version)
	}
	fmt.Fprintf(h, "go %s\n%s\n", strings.TrimSpace(string(out)), buildRecipe)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (e *env) stampPath() string { return filepath.Join(e.binDir, ".stamp") }

func (e *env) binariesPresent() bool {
	var names []string
	for _, b := range moduleBinaries {
		names = append(names, b.name)
	}
	for _, b := range installedBinaries {
		names = append(names, b.name)
	}
	for _, b := range names {
		fi, err := os.Stat(filepath.Join(e.binDir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// build builds the pinned binaries unless the stamp matches and all exist.
// The bin dir is shared by every state dir, so it has a lock of its own.
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

	for _, b := range installedBinaries {
		if err := e.goInstall(b.name, b.pkg, b.version); err != nil {
			return err
		}
	}

	// Leftovers of `go build -o bin/ ...` builds that name the etcd main after its module.
	for _, stray := range []string{"server", "v3"} {
		os.Remove(filepath.Join(e.binDir, stray))
	}
	if err := os.WriteFile(e.stampPath(), []byte(want+"\n"), 0o644); err != nil {
		return err
	}
	logf("build done in %s", time.Since(start).Round(time.Second))
	return nil
}

// goInstall builds pkg@version with `go install` into a temporary GOBIN
// and moves the binary into the bin dir as name.
func (e *env) goInstall(name, pkg, version string) error {
	t := time.Now()
	logf("building %s %s ...", name, version)
	tmpBin, err := os.MkdirTemp(e.binDir, "."+name+"-build")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpBin)
	cmd := exec.Command(goTool(), "install", pkg+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(goEnv(true), "GOBIN="+tmpBin)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s (%s@%s): %w", name, pkg, version, err)
	}
	if err := os.Rename(filepath.Join(tmpBin, filepath.Base(pkg)), filepath.Join(e.binDir, name)); err != nil {
		return err
	}
	logf("built %s in %s", name, time.Since(t).Round(time.Second))
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

// writeKwokConfig writes kwok.yaml: the fast node/pod stages and the plain
// node heartbeat stage from the kwok module, and what makes the simulated
// kubelet behave like a real one on the debugging endpoints:
//   - ClusterLogs serves pod.log for every container, and ClusterAttach
//     follows attach.log (what is appended to it after the attach);
//   - no exec rule: node-exec, in front of kwok's server, serves exec (see
//     nodeexec/);
//   - ClusterPortForward sends ports 80 and 8080 to the echo server's HTTP
//     listener and every other port to its TCP echo listener;
//   - ClusterResourceUsage (kwok's usage-from-annotation: 1m CPU and 1Mi
//     memory per container unless the Pod's kwok.x-k8s.io/usage-cpu and
//     usage-memory annotations say otherwise) and a Metric named after the
//     node on /metrics/resource, the path metrics-server scrapes.
//
// Each node's kwok has a file of its own, path, whose Metric is named
// after its node.
func (e *env) writeKwokConfig(path, node string, echoHTTP, echoTCP int) error {
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
	files = append(files, filepath.Join(dir, "kustomize", "metrics", "usage", "usage-from-annotation.yaml"))

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Generated by the k8sh sandbox from %s@%s; do not edit.\n", kwokModule, kwokVersion)
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if filepath.Base(f) == "pod-ready.yaml" {
			if b, err = withReadyDelay(b); err != nil {
				return err
			}
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(bytes.TrimRight(b, "\n"))
		buf.WriteString("\n")
	}

	// kwok's metrics-resource.yaml, served where metrics-server asks for it:
	// without {nodeName} in the path, kwok takes the node from the
	// Metric's name.
	mr, err := os.ReadFile(filepath.Join(dir, "kustomize", "metrics", "resource", "metrics-resource.yaml"))
	if err != nil {
		return err
	}
	const mrName, mrPath = "  name: metrics-resource\n", `  path: "/metrics/nodes/{nodeName}/metrics/resource"` + "\n"
	if !bytes.Contains(mr, []byte(mrName)) || !bytes.Contains(mr, []byte(mrPath)) {
		return fmt.Errorf("kwok %s: metrics-resource.yaml has no %q or %q", kwokVersion, mrName, mrPath)
	}
	mr = bytes.Replace(mr, []byte(mrName), []byte("  name: "+node+"\n"), 1)
	mr = bytes.Replace(mr, []byte(mrPath), []byte(`  path: "/metrics/resource"`+"\n"), 1)
	buf.WriteString("---\n")
	buf.Write(bytes.TrimRight(mr, "\n"))
	buf.WriteString("\n")

	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	fmt.Fprintf(&buf, `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: sandbox-logs
spec:
  selector: {}
  logs:
  - containers: []
    logsFile: %[1]s
    follow: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterAttach
metadata:
  name: sandbox-attach
spec:
  selector: {}
  attaches:
  - containers: []
    logsFile: %[2]s
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: sandbox-port-forward
spec:
  selector: {}
  forwards:
  - ports: [80, 8080]
    target:
      address: 127.0.0.1
      port: %[3]d
  - target:
      address: 127.0.0.1
      port: %[4]d
`, q(e.podLog), q(e.attachLog()), echoHTTP, echoTCP)
	return writeFileAtomic(path, buf.Bytes(), 0o644)
}

// readyDelayAnnotation delays a Pod's readiness: kwok's fast pod-ready
// stage waits that long ("5s") before it makes the Pod Running and Ready,
// as a slow container would be. It is the annotation kwok's own "general"
// stages read; without it the Pod is ready at once.
const readyDelayAnnotation = "pod-ready.stage.kwok.x-k8s.io/delay"

// withReadyDelay adds to kwok's fast pod-ready stage a delay that the
// Pod's readyDelayAnnotation gives (none without it), so that a rollout
// can be slow, and watched.
func withReadyDelay(stage []byte) ([]byte, error) {
	const next = "\n  next:\n"
	if bytes.Count(stage, []byte(next)) != 1 || !bytes.Contains(stage, []byte("\n  name: pod-ready\n")) {
		return nil, fmt.Errorf("kwok %s: pod-ready.yaml has not one %q", kwokVersion, next)
	}
	delay := fmt.Sprintf("\n  delay:\n    durationFrom:\n      expressionFrom: '.metadata.annotations[\"%s\"]'", readyDelayAnnotation)
	return bytes.Replace(stage, []byte(next), []byte(delay+next), 1), nil
}

// attachLog is what `kubectl attach` follows, in the CRI log format.
func (e *env) attachLog() string { return filepath.Join(e.stateDir, "attach.log") }

// ensurePodLog writes the canned CRI-format container log served by kwok,
// and an empty attach.log.
func (e *env) ensurePodLog() error {
	if f, err := os.OpenFile(e.attachLog(), os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
		return err
	} else {
		f.Close()
	}
	if _, err := os.Stat(e.podLog); err == nil {
		return nil
	}
	var buf bytes.Buffer
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&buf, "2026-11-25T10:00:0%d.000000000Z stdout F sandbox log line %d\n", i-1, i)
	}
	return writeFileAtomic(e.podLog, buf.Bytes(), 0o644)
}
