// Command node-exec is the front of the sandbox node's kubelet endpoint:
// kube-apiserver reaches the node at its port, and node-exec serves
// `/exec/` itself while it passes every other request (logs, attach,
// port-forward, metrics, healthz; upgrades included) to kwok's kubelet
// server behind it.
//
// It serves exec with the streaming code the kubelet is made of
// (k8s.io/cri-streaming's remotecommand, the same as kwok), running the
// command on this machine, in a directory of its own per Pod under -dir,
// with POD_NAME, POD_NAMESPACE, CONTAINER_NAME and HOSTNAME naming the Pod.
// Unlike kwok v0.8.0's exec it reports the command's exit status as the
// kubelet does ("command terminated with exit code 3") and closes the
// command's stdin when the client's ends, so `cat` and `wc` finish.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:10250", "the node's kubelet address (loopback only)")
	backend := flag.String("kwok", "", "kwok's kubelet server address, which every other request goes to")
	dir := flag.String("dir", "exec", "the directory under which each Pod's commands run (DIR/NAMESPACE/POD)")
	certFile := flag.String("tls-cert-file", "", "serving certificate")
	keyFile := flag.String("tls-private-key-file", "", "serving key")
	flag.Parse()
	if *backend == "" {
		log.Fatal("-kwok is required")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		log.Fatalf("%s: not a loopback address", l.Addr())
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatal(err)
	}
	kwok := &url.URL{Scheme: "https", Host: *backend}
	proxy := httputil.NewSingleHostReverseProxy(kwok)
	// kwok's kubelet server has a self-signed certificate; it is on loopback.
	proxy.Transport = &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec
	proxy.FlushInterval = -1                                                                              // logs -f, streams

	mux := http.NewServeMux()
	ex := &executor{dir: abs}
	mux.Handle("/exec/", ex)
	mux.Handle("/", proxy)
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		srv.Close()
	}()
	log.Printf("node front on %s: exec here, the rest to kwok on %s", l.Addr(), *backend)
	if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

type executor struct{ dir string }

// ServeHTTP takes /exec/NAMESPACE/POD[/UID]/CONTAINER?command=...
func (x *executor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/exec/"), "/")
	var ns, pod, uid, container string
	switch len(parts) {
	case 3:
		ns, pod, container = parts[0], parts[1], parts[2]
	case 4:
		ns, pod, uid, container = parts[0], parts[1], parts[2], parts[3]
	default:
		http.Error(w, "want /exec/NAMESPACE/POD/CONTAINER", http.StatusNotFound)
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "no command", http.StatusBadRequest)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, r, x, ns+"/"+pod, uid, container, cmd, opts,
		4*time.Hour, 30*time.Second, remotecommand.SupportedStreamingProtocols)
}

// ExecInContainer runs cmd locally for the Pod name ("NAMESPACE/POD").
func (x *executor) ExecInContainer(ctx context.Context, name, uid, container string, argv []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	ns, pod, _ := strings.Cut(name, "/")
	if !safeName(ns) || !safeName(pod) {
		return fmt.Errorf("invalid pod %q", name)
	}
	wd := filepath.Join(x.dir, ns, pod)
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = wd
	c.Env = append(os.Environ(),
		"POD_NAME="+pod, "POD_NAMESPACE="+ns, "CONTAINER_NAME="+container, "HOSTNAME="+pod, "PWD="+wd,
		"K8SH_SANDBOX=1")
	// After the command exits, wait at most this long for its output to be
	// copied, then close the pipes (a background child may hold them).
	c.WaitDelay = 2 * time.Second
	if tty {
		return x.runTTY(c, in, out, resize)
	}
	c.Stdin, c.Stdout, c.Stderr = in, out, errOut
	return exitError(c.Run())
}

// exitError turns an exit status into the error the streaming server
// reports as "command terminated with exit code N". A command that
// succeeded while the client kept its stdin open (WaitDelay closed it)
// succeeded.
func exitError(err error) error {
	if errors.Is(err, exec.ErrWaitDelay) {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return utilexec.CodeExitError{Err: err, Code: ee.ExitCode()}
	}
	return err
}

func (x *executor) runTTY(c *exec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize) error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	defer master.Close()
	c.Stdin, c.Stdout, c.Stderr = slave, slave, slave
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	fd := master.Fd()
	setSize := func(size remotecommand.TerminalSize) {
		ws := struct{ rows, cols, x, y uint16 }{size.Height, size.Width, 0, 0}
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSWINSZ, uintptr(unsafe.Pointer(&ws))) //nolint:errcheck
	}
	// The client sends the window's size as soon as its streams are up;
	// the command starts with it (waiting a little for it) rather than
	// with a 0x0 terminal that a quick `stty size` would see.
	if resize != nil {
		select {
		case size, ok := <-resize:
			if ok {
				setSize(size)
			}
		case <-time.After(time.Second):
		}
	}
	if err := c.Start(); err != nil {
		slave.Close()
		return err
	}
	slave.Close()
	go func() {
		for size := range resize {
			setSize(size)
		}
	}()
	if in != nil {
		go io.Copy(master, in) //nolint:errcheck
	}
	copied := make(chan struct{})
	go func() {
		io.Copy(out, master) //nolint:errcheck // ends with EIO once the command and its children have closed the terminal
		close(copied)
	}()
	err = c.Wait()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return exitError(err)
}

// openPTY opens a pseudo-terminal pair: /dev/ptmx, unlocked, and its
// /dev/pts/N.
func openPTY() (*os.File, *os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		master.Close()
		return nil, nil, errno
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		master.Close()
		return nil, nil, errno
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// safeName is a Kubernetes object name: no path separators or dot names.
func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}
