package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/kubectl/pkg/cmd/util/podcmd"
)

// ExecOptions say what to run in a container and where its streams go, as
// kubectl exec's flags do.
type ExecOptions struct {
	// Container is the container; "" means the pod's default one (its
	// kubectl.kubernetes.io/default-container annotation, else the first),
	// with kubectl's "Defaulted container ..." note written to Warn when
	// the pod has several.
	Container string
	Command   []string
	// Stdin, when not nil, is sent to the command until its end.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output as it comes; nil
	// does not ask for that stream. With TTY, stderr comes on Stdout.
	Stdout, Stderr io.Writer
	TTY            bool
	// Size, with TTY, reports the terminal's size: its first call returns
	// the size now, each later one blocks until the size changes; ok false
	// ends the reporting.
	Size func() (width, height uint16, ok bool)
	// Warn receives kubectl's notes (the defaulted container); nil drops
	// them.
	Warn io.Writer
	// Attach attaches to the container's running process instead of
	// running Command (kubectl attach).
	Attach bool
}

// ExecPod is the pod that kubectl exec KIND/NAME runs in: the object of
// kind called name in namespace when it is a pod, else the pod that
// PodForObject picks among its selector's.
func (c *Client) ExecPod(ctx context.Context, kind, name, namespace string) (*corev1.Pod, error) {
	if kind != "pods" {
		n, err := c.PodForObject(ctx, kind, name, namespace)
		if err != nil {
			return nil, err
		}
		name = n
	}
	cs, err := c.clientset()
	if err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = c.namespace
	}
	p, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, namespace)
	}
	return p, nil
}

// ExecContainer is the container of pod that o.Container names, or its
// default one as kubectl picks it (writing kubectl's note to o.Warn).
func ExecContainer(pod *corev1.Pod, o ExecOptions) (string, error) {
	if o.Container != "" {
		if ct, _ := podcmd.FindContainerByName(pod, o.Container); ct == nil {
			return "", fmt.Errorf("container %s is not valid for pod %s out of: %s", o.Container, pod.Name, podcmd.AllContainerNames(pod))
		}
		return o.Container, nil
	}
	warn := o.Warn
	if warn == nil {
		warn = io.Discard
	}
	ct, err := podcmd.FindOrDefaultContainerByName(pod, "", false, warn)
	if err != nil {
		return "", err
	}
	return ct.Name, nil
}

// Exec runs o.Command in a container of pod, as kubectl exec does (the
// WebSocket executor, falling back to SPDY when the server cannot upgrade
// to WebSockets), streaming its output to o.Stdout and o.Stderr. It returns
// the command's exit code; err is for what kept it from running or
// finishing (a cancelled ctx among them).
func (c *Client) Exec(ctx context.Context, pod *corev1.Pod, o ExecOptions) (int, error) {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase)
	}
	container, err := ExecContainer(pod, o)
	if err != nil {
		return 0, err
	}
	cs, err := c.clientset()
	if err != nil {
		return 0, err
	}
	sub := "exec"
	req := cs.CoreV1().RESTClient().Post().Resource("pods").Name(pod.Name).Namespace(pod.Namespace)
	stderr := o.Stderr
	if o.TTY {
		stderr = nil
	}
	if o.Attach {
		sub = "attach"
		req = req.SubResource(sub).VersionedParams(&corev1.PodAttachOptions{
			Container: container, Stdin: o.Stdin != nil, Stdout: o.Stdout != nil, Stderr: stderr != nil, TTY: o.TTY,
		}, scheme.ParameterCodec)
	} else {
		req = req.SubResource(sub).VersionedParams(&corev1.PodExecOptions{
			Container: container, Command: o.Command,
			Stdin: o.Stdin != nil, Stdout: o.Stdout != nil, Stderr: stderr != nil, TTY: o.TTY,
		}, scheme.ParameterCodec)
	}
	ex, err := c.executor(req.URL())
	if err != nil {
		return 0, err
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: stderr, Tty: o.TTY, TerminalSizeQueue: sizeQueue(o.Size),
	})
	var code utilexec.CodeExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &code):
		return code.Code, nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	}
	return 0, apiError(err, pod.Namespace)
}

// executor is kubectl 1.37's: WebSockets (a GET, RFC 6455), and SPDY (a
// POST) when the upgrade fails or a proxy refuses it.
func (c *Client) executor(u *url.URL) (remotecommand.Executor, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	spdy, err := remotecommand.NewSPDYExecutor(c.config, "POST", u)
	if err != nil {
		return nil, err
	}
	ws, err := remotecommand.NewWebSocketExecutor(c.config, "GET", u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// sizeQueue is size as client-go's TerminalSizeQueue, or nil.
func sizeQueue(size func() (uint16, uint16, bool)) remotecommand.TerminalSizeQueue {
	if size == nil {
		return nil
	}
	return sizeFunc(size)
}

type sizeFunc func() (uint16, uint16, bool)

func (f sizeFunc) Next() *remotecommand.TerminalSize {
	w, h, ok := f()
	if !ok {
		return nil
	}
	return &remotecommand.TerminalSize{Width: w, Height: h}
}
