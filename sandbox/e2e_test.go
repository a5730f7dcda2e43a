package main

// End-to-end checks of the sandbox with kubectl, the oracle the k8sh
// builtins are later compared with: loopback-only egress, exec with stdin
// and a TTY, port-forward, top, attach, and resuming after a crash. They run
// against the shared sandbox (K8SH_SANDBOX_KUBECONFIG, or
// ROOT/.cache/sandbox/kubeconfig), each in a namespace of its own, except
// TestResume, which kills components of a private sandbox. All skip with
// -short.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// shared returns the environment of the shared sandbox and its
// kubeconfig, skipping the test when it does not run.
func shared(t *testing.T) (*env, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the sandbox (run without -short)")
	}
	root, err := findRoot("")
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEnv(root, "")
	if err != nil {
		t.Fatal(err)
	}
	kc := os.Getenv("K8SH_SANDBOX_KUBECONFIG")
	if kc == "" {
		kc = e.kubeconfig
	} else if abs, _ := filepath.Abs(kc); abs != e.kubeconfig {
		// Another sandbox: its state dir holds the kubeconfig.
		if e, err = newEnv(root, filepath.Dir(abs)); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := e.healthy(); !ok {
		t.Skipf("the sandbox of %s does not run (make sandbox-up starts it)", e.stateDir)
	}
	return e, kc
}

// kubectl runs the sandbox's kubectl; it returns stdout, stderr and the
// exit code.
type kubectl struct {
	t         *testing.T
	bin, kc   string
	namespace string
	stdin     io.Reader
}

func newKubectl(t *testing.T, e *env, kc string) *kubectl {
	return &kubectl{t: t, bin: filepath.Join(e.binDir, "kubectl"), kc: kc}
}

func (k *kubectl) cmd(args ...string) *exec.Cmd {
	full := []string{"--kubeconfig", k.kc}
	if k.namespace != "" {
		full = append(full, "-n", k.namespace)
	}
	c := exec.Command(k.bin, append(full, args...)...)
	c.Env = append(filterEnv(os.Environ(), "KUBECONFIG="), "KUBECONFIG=")
	return c
}

func (k *kubectl) run(args ...string) (string, string, int) {
	k.t.Helper()
	c := k.cmd(args...)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr, c.Stdin = &out, &errb, k.stdin
	if err := c.Start(); err != nil {
		k.t.Fatalf("kubectl %v: %v", args, err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { c.Process.Kill() })
	err := c.Wait()
	if !timer.Stop() {
		k.t.Fatalf("kubectl %s: still running after 2 minutes; killed\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatalf("kubectl %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (k *kubectl) must(args ...string) string {
	k.t.Helper()
	out, errs, code := k.run(args...)
	if code != 0 {
		k.t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// namespace creates a namespace for t and deletes it when t ends.
func (k *kubectl) newNamespace(prefix string) string {
	k.t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	ns := prefix + "-" + hex.EncodeToString(b)
	k.must("create", "namespace", ns)
	k.t.Cleanup(func() { k.run("delete", "namespace", ns, "--wait=false") })
	k.namespace = ns
	return ns
}

// runningPod creates a Pod (kwok runs it) and waits until it is Ready.
func (k *kubectl) runningPod(name string, annotations ...string) {
	k.t.Helper()
	k.runningPodOn("", name, annotations...)
}

// runningPodOn is runningPod on node ("": where the scheduler puts it).
func (k *kubectl) runningPodOn(node, name string, annotations ...string) {
	k.t.Helper()
	args := []string{"run", name, "--image=registry.k8s.io/pause:3.10", "--port=80", "--restart=Never"}
	if node != "" {
		args = append(args, `--overrides={"spec":{"nodeName":"`+node+`"}}`)
	}
	for _, a := range annotations {
		args = append(args, "--annotations="+a)
	}
	k.must(args...)
	k.must("wait", "--for=condition=Ready", "pod/"+name, "--timeout=60s")
}

// TestLoopbackWebhook applies a ValidatingWebhookConfiguration with
// failurePolicy Fail pointing at the Service of a Deployment in the sandbox
// (no server answers it), creates an object it covers, and checks that the
// call fails at once with "connection refused" on a loopback address, that
// the Pod's address is a loopback one, and that no sandbox process had a
// connection to an address outside 127.0.0.0/8 meanwhile. A second webhook,
// by URL to an address outside loopback, is refused by the egress guard
// without a dial.
func TestLoopbackWebhook(t *testing.T) {
	e, kc := shared(t)
	k := newKubectl(t, e, kc)
	ns := k.newNamespace("sbtest-webhook")
	k.must("create", "deployment", "hook", "--image=registry.k8s.io/pause:3.10", "--port=8443")
	k.must("expose", "deployment", "hook", "--port=443", "--target-port=8443")
	k.must("wait", "--for=condition=Available", "deployment/hook", "--timeout=60s")
	podIP := strings.TrimSpace(k.must("get", "pods", "-l", "app=hook", "-o", "jsonpath={.items[0].status.podIP}"))
	if ip := net.ParseIP(podIP); ip == nil || !ip.IsLoopback() {
		t.Errorf("the Pod's address is %q, want one in 127.0.0.0/8 (kwok --cidr)", podIP)
	}
	clusterIP := strings.TrimSpace(k.must("get", "service", "hook", "-o", "jsonpath={.spec.clusterIP}"))
	if ip := net.ParseIP(clusterIP); ip == nil || !ip.IsLoopback() {
		t.Errorf("the Service's ClusterIP is %q, want one in 127.0.0.0/8 (--service-cluster-ip-range)", clusterIP)
	}

	webhook := func(name, clientConfig string) {
		t.Helper()
		k.stdin = strings.NewReader(fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: %[1]s
webhooks:
- name: %[1]s.k8sh.test
  clientConfig:
%[2]s
  rules:
  - apiGroups: [""]
    apiVersions: ["v1"]
    operations: ["CREATE"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: %[3]s
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: ["v1"]
  timeoutSeconds: 10
`, name, clientConfig, ns))
		defer func() { k.stdin = nil }()
		k.must("apply", "-f", "-")
		t.Cleanup(func() { k.run("delete", "validatingwebhookconfiguration", name) })
	}

	webhook(ns+"-svc", fmt.Sprintf("    service:\n      namespace: %s\n      name: hook\n      path: /validate", ns))
	// The webhook configuration takes effect once the apiserver's informer
	// has it: try until the call is rejected by the webhook.
	var stderr string
	mon := watchEgress(t, e)
	start := time.Now()
	for i := 0; ; i++ {
		_, errs, code := k.run("create", "configmap", fmt.Sprintf("covered-%d", i))
		if code != 0 {
			stderr = errs
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the webhook never took effect: configmaps are still created")
		}
		time.Sleep(200 * time.Millisecond)
	}
	foreign := mon.stop()
	t.Logf("kubectl create configmap: %s", strings.TrimSpace(stderr))
	want := regexp.MustCompile(`failed calling webhook "` + regexp.QuoteMeta(ns) + `-svc\.k8sh\.test".*while dialing 127\.2\.\d+\.\d+:443, code 502: 502 dial tcp 127\.2\.\d+\.\d+:443: connect: connection refused`)
	if !want.MatchString(stderr) {
		t.Errorf("the webhook's failure is\n%s\nwant it to match %s", stderr, want)
	}
	if !strings.Contains(stderr, clusterIP+":443") {
		t.Errorf("the failure does not name the Service's ClusterIP %s:443", clusterIP)
	}
	if len(foreign) > 0 {
		t.Errorf("sandbox processes had connections outside 127.0.0.0/8 during the call: %v", foreign)
	}
	if strings.Contains(stderr, "proxy error from "+e.egressSocket()) {
		// kube-apiserver dials through the guard, proven above: a URL outside
		// loopback (TEST-NET-1) is refused by the guard, which never dials it.
		k.must("delete", "validatingwebhookconfiguration", ns+"-svc")
		webhook(ns+"-url", "    url: https://192.0.2.10:8443/validate")
		mon := watchEgress(t, e)
		start := time.Now()
		for i := 0; ; i++ {
			_, errs, code := k.run("create", "configmap", fmt.Sprintf("by-url-%d", i))
			if code != 0 && strings.Contains(errs, ns+"-url") {
				stderr = errs
				break
			}
			if time.Since(start) > 30*time.Second {
				t.Fatalf("the URL webhook never took effect (last: %s)", errs)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("kubectl create configmap: %s", strings.TrimSpace(stderr))
		if !strings.Contains(stderr, "403 egress to 192.0.2.10:8443 refused: 192.0.2.10 is not in 127.0.0.0/8") {
			t.Errorf("the URL webhook's failure is\n%s\nwant the egress guard's refusal", stderr)
		}
		if foreign := mon.stop(); len(foreign) > 0 {
			t.Errorf("sandbox processes had connections outside 127.0.0.0/8 during the call: %v", foreign)
		}
	}
}

// egressMonitor samples /proc/net/tcp and tcp6 while a call runs and
// records every connection of a sandbox process to an address outside
// 127.0.0.0/8 and ::1.
type egressMonitor struct {
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	foreign map[string]bool
}

func watchEgress(t *testing.T, e *env) *egressMonitor {
	s, err := e.readState()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, c := range s.Components {
		pids = append(pids, c.Pid)
	}
	m := &egressMonitor{done: make(chan struct{}), foreign: map[string]bool{}}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			m.sample(pids)
			select {
			case <-m.done:
				m.sample(pids)
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return m
}

func (m *egressMonitor) stop() []string {
	close(m.done)
	m.wg.Wait()
	var out []string
	for k := range m.foreign {
		out = append(out, k)
	}
	return out
}

func (m *egressMonitor) sample(pids []int) {
	cand := map[string]string{} // socket inode -> remote address
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 {
				continue
			}
			ip, port := procAddr(fs[2])
			if ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
				continue
			}
			cand[fs[9]] = net.JoinHostPort(ip.String(), strconv.Itoa(port))
		}
	}
	if len(cand) == 0 {
		return
	}
	for _, pid := range pids {
		fds, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
		for _, fd := range fds {
			l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			if addr, ok := cand[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")]; ok {
				m.mu.Lock()
				m.foreign[fmt.Sprintf("pid %d -> %s", pid, addr)] = true
				m.mu.Unlock()
			}
		}
	}
}

// procAddr decodes an address of /proc/net/tcp ("0100007F:1F90") or tcp6.
func procAddr(s string) (net.IP, int) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0
	}
	ip := make(net.IP, len(raw))
	// Each 32-bit word is in host (little-endian) order.
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, _ := strconv.ParseInt(p, 16, 32)
	return ip, int(port)
}

func TestProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"0100000A:01BB":                         "10.0.0.1:443",
		"00000000000000000000000001000000:0050": "[::1]:80",
	} {
		ip, port := procAddr(in)
		if got := net.JoinHostPort(ip.String(), strconv.Itoa(port)); got != want {
			t.Errorf("procAddr(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestExec runs real local commands through kubectl exec: output, exit
// codes, stdin, the environment, and a TTY.
func TestExec(t *testing.T) {
	e, kc := shared(t)
	k := newKubectl(t, e, kc)
	k.newNamespace("sbtest-exec")
	k.runningPod("shell")

	// The command runs on the host: it reads the host's files.
	host, err := os.ReadFile("/etc/hostname")
	if err != nil {
		t.Skipf("this machine has no /etc/hostname: %v", err)
	}
	out := k.must("exec", "shell", "--", "sh", "-c", "echo hi; cat /etc/hostname")
	if want := "hi\n" + string(host); out != want {
		t.Errorf("exec output %q, want %q", out, want)
	}
	ns := k.namespace
	out = k.must("exec", "shell", "--", "sh", "-c", `pwd; echo "$POD_NAMESPACE/$POD_NAME $CONTAINER_NAME $HOSTNAME $K8SH_SANDBOX"`)
	if want := filepath.Join(e.execDir, ns, "shell") + "\n" + ns + "/shell shell shell 1\n"; out != want {
		t.Errorf("exec working directory and environment %q, want %q", out, want)
	}
	_, stderr, code := k.run("exec", "shell", "--", "sh", "-c", "echo oops >&2; exit 3")
	if code != 3 || stderr != "oops\ncommand terminated with exit code 3\n" {
		t.Errorf("exit 3: kubectl exited %d with stderr %q", code, stderr)
	}
	// stdin streams to the command, and its end reaches the command too.
	k.stdin = strings.NewReader("line one\nline two\n")
	out = k.must("exec", "-i", "shell", "--", "sh", "-c", "wc -l; echo done")
	k.stdin = nil
	if f := strings.Fields(out); len(f) != 2 || f[0] != "2" || f[1] != "done" {
		t.Errorf("exec -i: %q, want 2 lines counted, then done", out)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	k.stdin = bytes.NewReader(big)
	out = k.must("exec", "-i", "shell", "--", "sha256sum")
	k.stdin = nil
	if sum := sha256.Sum256(big); !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
		t.Errorf("exec -i of 1 MiB: sha256sum printed %q", out)
	}

	// -t on a terminal: the command runs on a pseudo-terminal of its own.
	master, slave := openPTY(t)
	c := k.cmd("exec", "-it", "shell", "--", "sh", "-c", `test -t 0 && test -t 1 && echo "tty=yes"; read x; echo "got=$x"`)
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var screen bytes.Buffer
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			got := screen.String()
			mu.Unlock()
			if strings.Contains(got, s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("exec -it: %q never showed; the terminal shows %q", s, got)
			}
		}
	}
	waitFor("tty=yes")
	io.WriteString(master, "typed\r")
	waitFor("got=typed")
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("kubectl exec -it: %v", err)
		}
	case <-time.After(30 * time.Second):
		c.Process.Kill()
		t.Fatal("kubectl exec -it did not end after the command did")
	}
	master.Close()
}

// openPTY opens a pseudo-terminal pair (stdlib only: /dev/ptmx, unlock,
// its number).
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatal(errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatal(errno)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// TestAttach reads a Pod's output through kubectl attach: what is written to
// the sandbox's attach.log after the attach.
func TestAttach(t *testing.T) {
	e, kc := shared(t)
	k := newKubectl(t, e, kc)
	k.newNamespace("sbtest-attach")
	k.runningPod("attached")
	c := k.cmd("attach", "attached")
	var out bytes.Buffer
	var mu sync.Mutex
	c.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	c.Stderr = io.Discard
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Process.Kill()
	mark := fmt.Sprintf("attached %d", time.Now().UnixNano())
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		f, err := os.OpenFile(e.attachLog(), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), mark)
		f.Close()
		mu.Lock()
		got := out.String()
		mu.Unlock()
		if strings.Contains(got, mark+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl attach printed %q, want %q", got, mark)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestPortForward forwards a Pod's port 80 (the echo server's HTTP) and
// 9000 (its TCP echo), and sends 100 MB both ways through the second one,
// checked by hash.
func TestPortForward(t *testing.T) {
	t.Parallel()
	e, kc := shared(t)
	k := newKubectl(t, e, kc)
	k.newNamespace("sbtest-pf")
	k.runningPod("web")

	c := k.cmd("port-forward", "pod/web", ":80", ":9000")
	pr, pw := io.Pipe()
	c.Stdout = pw
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	local := map[string]string{}
	fwd := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$`)
	lines := make(chan string)
	go func() {
		buf := make([]byte, 0, 4096)
		b := make([]byte, 1)
		for {
			if _, err := pr.Read(b); err != nil {
				close(lines)
				return
			}
			if b[0] == '\n' {
				lines <- string(buf)
				buf = buf[:0]
				continue
			}
			buf = append(buf, b[0])
		}
	}()
	timeout := time.After(30 * time.Second)
	for len(local) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl port-forward ended: %s", stderr.String())
			}
			if m := fwd.FindStringSubmatch(l); m != nil {
				local[m[2]] = "127.0.0.1:" + m[1]
			}
		case <-timeout:
			t.Fatalf("kubectl port-forward printed no ports: %s", stderr.String())
		}
	}
	go func() {
		for range lines {
		}
	}()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := hc.Get("http://" + local["80"] + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "k8sh sandbox echo server\nGET / HTTP/1.1\n") {
		t.Errorf("GET / through the forward: %q", body)
	}

	const size = 100 << 20
	conn, err := net.Dial("tcp", local["9000"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sent := sha256.New()
	var werr error
	go func() {
		chunk := make([]byte, 1<<20)
		for n := 0; n < size; n += len(chunk) {
			rand.Read(chunk)
			sent.Write(chunk)
			if _, werr = conn.Write(chunk); werr != nil {
				return
			}
		}
		conn.(*net.TCPConn).CloseWrite()
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
	got := sha256.New()
	start := time.Now()
	n, err := io.Copy(got, io.LimitReader(conn, size))
	if err != nil || n != size {
		t.Fatalf("read %d of %d bytes back through the forward: %v (write: %v)", n, size, err, werr)
	}
	if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Fatal("the 100 MB that came back differ from those sent")
	}
	t.Logf("100 MB each way through kubectl port-forward in %s", time.Since(start).Round(time.Millisecond))
}

// TestTop checks kubectl top nodes and pods through metrics-server, fed by
// kwok's simulated resource metrics.
func TestTop(t *testing.T) {
	t.Parallel()
	e, kc := shared(t)
	k := newKubectl(t, e, kc)
	k.newNamespace("sbtest-top")
	k.runningPodOn(nodeName, "busy", "kwok.x-k8s.io/usage-cpu=250m", "kwok.x-k8s.io/usage-memory=64Mi")
	// On the second node, whose kwok serves its own metrics: with one
	// kubelet address for both, its pods would have none, and its usage
	// would be the first node's.
	k.runningPodOn(node1Name, "busy1", "kwok.x-k8s.io/usage-cpu=500m", "kwok.x-k8s.io/usage-memory=128Mi")
	retry := func(what string, ok func(out string) bool, args ...string) string {
		t.Helper()
		var out, errs string
		for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
			var code int
			out, errs, code = k.run(args...)
			if code == 0 && ok(out) {
				return out
			}
		}
		t.Fatalf("%s: kubectl %s never answered as expected:\n%s%s", what, strings.Join(args, " "), out, errs)
		return ""
	}
	// A node's CPU is the sum of its pods' (other tests' pods add a few
	// millicores): kwok-node-1's at least busy1's 500m.
	nodeCPU := regexp.MustCompile(`(?m)^` + node1Name + `\s+(\d+)m\s`)
	nodes := retry("top nodes", func(out string) bool {
		m := nodeCPU.FindStringSubmatch(out)
		cpu := 0
		if m != nil {
			cpu, _ = strconv.Atoi(m[1])
		}
		return strings.Contains(out, nodeName+" ") && cpu >= 495
	}, "top", "nodes")
	t.Logf("kubectl top nodes:\n%s", nodes)
	pods := retry("top pods", func(out string) bool {
		return regexp.MustCompile(`(?m)^busy\s+\d+m\s+\d+Mi\s*$`).MatchString(out) &&
			regexp.MustCompile(`(?m)^busy1\s+\d+m\s+\d+Mi\s*$`).MatchString(out)
	}, "top", "pods")
	t.Logf("kubectl top pods:\n%s", pods)
	// CPU is a rate of kwok's cumulative counter over a scrape window, so
	// it can be off by a few millicores.
	for i, want := range []struct {
		cpu int
		mem string
	}{{250, "64Mi"}, {500, "128Mi"}} {
		f := strings.Fields(strings.Split(strings.TrimSpace(pods), "\n")[1+i])
		cpu, _ := strconv.Atoi(strings.TrimSuffix(f[1], "m"))
		if cpu < want.cpu-5 || cpu > want.cpu+5 || f[2] != want.mem {
			t.Errorf("kubectl top pods shows %s CPU and %s memory for %s, want the Pod's annotated %dm (±5m) and %s", f[1], f[2], f[0], want.cpu, want.mem)
		}
	}
	// The second node's kubelet path works as the first's: exec and logs.
	if out := k.must("exec", "busy1", "--", "sh", "-c", "echo $POD_NAME"); out != "busy1\n" {
		t.Errorf("kubectl exec busy1 (on %s) printed %q", node1Name, out)
	}
	if out := k.must("logs", "busy1", "--tail=1"); !strings.HasPrefix(out, "sandbox log line") {
		t.Errorf("kubectl logs busy1 (on %s) printed %q", node1Name, out)
	}
}

// TestReadyDelay: a Pod annotated pod-ready.stage.kwok.x-k8s.io/delay=3s
// becomes Ready 3s after it is created, not at once (kwok's fast pod-ready
// stage waits that long), so that a rollout can be slow.
func TestReadyDelay(t *testing.T) {
	t.Parallel()
	e, kc := shared(t)
	k := newKubectl(t, e, kc)
	k.newNamespace("sbtest-delay")
	k.runningPod("slow", readyDelayAnnotation+"=3s")
	out := k.must("get", "pod", "slow", "-o", `jsonpath={.metadata.creationTimestamp} {.status.conditions[?(@.type=="Ready")].lastTransitionTime}`)
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("pod slow: creation and Ready times %q", out)
	}
	created, err1 := time.Parse(time.RFC3339, f[0])
	ready, err2 := time.Parse(time.RFC3339, f[1])
	// Both are whole seconds: ready - created >= 3s holds when the delay
	// was waited.
	if err1 != nil || err2 != nil || ready.Sub(created) < 3*time.Second {
		t.Errorf("pod slow was created at %s and Ready at %s, want Ready 3s after (%v %v)", f[0], f[1], err1, err2)
	}
}

// TestResume kills each component of a private sandbox in turn (SIGKILL, by
// pid) and runs up: the object created before is still there and the node
// is Ready. Then down and up resume it too, and reset empties it.
func TestResume(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end test: starts a sandbox of its own (run without -short)")
	}
	root, err := findRoot("")
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEnv(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(e.stampPath()); err != nil {
		t.Skipf("no sandbox binaries in %s (make sandbox-build)", e.binDir)
	}
	t.Cleanup(func() {
		if err := e.down(); err != nil {
			t.Error(err)
		}
	})
	if _, err := e.up(); err != nil {
		t.Fatal(err)
	}
	s, err := e.readState()
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadPKI(e.pkiDir)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := newAPIClient(s.Server, p.caPEM, p.adminToken)
	if err != nil {
		t.Fatal(err)
	}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "survivor"}, "data": map[string]string{"k": "v"}}
	if err := admin.create("/api/v1/namespaces/default/configmaps", cm); err != nil {
		t.Fatal(err)
	}
	check := func(after string) {
		t.Helper()
		var got struct {
			Data map[string]string `json:"data"`
		}
		found, err := admin.get("/api/v1/namespaces/default/configmaps/survivor", &got)
		if err != nil || !found || got.Data["k"] != "v" {
			t.Fatalf("after %s: the ConfigMap is gone (found=%v, %v, %v)", after, found, got.Data, err)
		}
		for _, node := range []string{nodeName, node1Name} {
			if ready, err := admin.nodeReady(node); !ready {
				t.Fatalf("after %s: node %s is not Ready (%v)", after, node, err)
			}
		}
	}
	for _, c := range s.Components {
		cur, _ := e.readState()
		pid := 0
		for _, cc := range cur.Components {
			if cc.Name == c.Name {
				pid = cc.Pid
			}
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s (pid %d): %v", c.Name, pid, err)
		}
		for i := 0; i < 100 && alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := e.up(); err != nil {
			t.Fatalf("up after killing %s: %v", c.Name, err)
		}
		after, _ := e.readState()
		if after.Server != s.Server {
			t.Fatalf("after killing %s the server moved from %s to %s", c.Name, s.Server, after.Server)
		}
		check("killing " + c.Name)
	}
	if err := e.down(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.up(); err != nil {
		t.Fatal(err)
	}
	check("down and up")

	if _, err := e.reset(); err != nil {
		t.Fatal(err)
	}
	s, _ = e.readState()
	admin, _ = newAPIClient(s.Server, p.caPEM, p.adminToken)
	found, err := admin.get("/api/v1/namespaces/default/configmaps/survivor", nil)
	if err != nil || found {
		t.Fatalf("after reset the ConfigMap is still there (found=%v, %v)", found, err)
	}
}
