package kube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// BenchmarkPortForward200MB sends 200 MB through one forwarded connection
// to the sandbox's echo server (POST /echo: the 200 MB come back), through
// k8sh's forward and through kubectl port-forward, in the same run; each
// transfer is checked by hash.
//
//	go test -run '^$' -bench PortForward200MB -benchtime 1x -count 3 ./kube/
func BenchmarkPortForward200MB(b *testing.B) {
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skip(err)
	}
	env := kubetest.Sandbox(b)
	ns := kubetest.PrefixNamespace(b, env, "p18-")
	kubetest.CreateWeb(b, env, ns)
	const size = 200 << 20
	block := make([]byte, 1<<20)
	rand.Read(block)
	sum := sha256.New()
	for range size / len(block) {
		sum.Write(block)
	}
	want := sum.Sum(nil)
	transfer := func(b *testing.B, port int) {
		body := io.MultiReader(repeat(block, size/len(block))...)
		resp, err := httpClient().Post(fmt.Sprintf("http://127.0.0.1:%d/echo", port), "application/octet-stream", body)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		if err != nil || n != size || !bytes.Equal(h.Sum(nil), want) {
			b.Fatalf("echoed %d bytes (%v), same hash: %v", n, err, bytes.Equal(h.Sum(nil), want))
		}
	}

	b.Run("k8sh", func(b *testing.B) {
		flags := NewConfigFlags()
		kc, kctx, dir := env.Kubeconfig, "sandbox", b.TempDir()
		flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &kctx, &dir
		f, err := NewClient(flags).PortForward(context.Background(), "deploy", "web", ns, []string{"0:80"}, "127.0.0.1", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Stop()
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			transfer(b, int(f.Ports()[0].Local))
		}
	})
	b.Run("kubectl", func(b *testing.B) {
		bin := filepath.Join(filepath.Dir(env.Kubeconfig), "bin", "kubectl")
		cmd := exec.Command(bin, "--kubeconfig", env.Kubeconfig, "-n", ns, "port-forward", "--address", "127.0.0.1", "deploy/web", "0:80")
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		m := regexp.MustCompile(`127\.0\.0\.1:(\d+) ->`).FindStringSubmatch(line)
		if err != nil || m == nil {
			b.Fatalf("kubectl port-forward said %q: %v", line, err)
		}
		go io.Copy(io.Discard, r) // its "Handling connection" lines
		port, _ := strconv.Atoi(m[1])
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			transfer(b, port)
		}
	})
}

func repeat(block []byte, n int) []io.Reader {
	rs := make([]io.Reader, n)
	for i := range rs {
		rs[i] = bytes.NewReader(block)
	}
	return rs
}
