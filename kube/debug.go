package kube

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// DebugOptions say which ephemeral container Debug adds, as kubectl
// debug's flags do.
type DebugOptions struct {
	Image string
	// Container is the new container's name; "" for "debugger-XXXXX".
	Container string
	// TargetContainer is the container whose processes it sees (--target).
	TargetContainer string
	// Command is its command (kubectl debug POD -- CMD...).
	Command []string
	Stdin   bool // -i
	TTY     bool // -t
	// Profile is one of kubectl debug's --profile values; "" is "general",
	// kubectl's default.
	Profile string
	Env     []corev1.EnvVar
	// DryRun sends the change as a server-side dry run.
	DryRun bool
}

// DebugProfiles are the values of DebugOptions.Profile.
var DebugProfiles = []string{"legacy", "general", "baseline", "restricted", "netadmin", "sysadmin"}

// Debug adds an ephemeral container to the pod of kind/name (a pod, or the
// one of a workload that PodForObject picks) as kubectl debug POD
// --image=... adds it: a strategic merge patch of the ephemeralcontainers
// subresource. It returns the updated pod and the container's name.
//
// kubectl's own code (k8s.io/kubectl/pkg/cmd/debug, whose profiles.go
// this follows for ephemeral containers) is not imported: with its
// dependencies it adds tens of milliseconds to k8sh's start-up.
func (c *Client) Debug(ctx context.Context, kind, name, namespace string, o DebugOptions) (*unstructured.Unstructured, string, error) {
	if o.Image == "" {
		return nil, "", fmt.Errorf("an image is required")
	}
	if namespace == "" {
		if err := c.init(); err != nil {
			return nil, "", err
		}
		namespace = c.namespace
	}
	podName := name
	if kind != "pod" && kind != "pods" && kind != "po" {
		var err error
		if podName, err = c.PodForObject(ctx, kind, name, namespace); err != nil {
			return nil, "", err
		}
	}
	cs, err := c.clientset()
	if err != nil {
		return nil, "", err
	}
	pods := cs.CoreV1().Pods(namespace)
	pod, err := pods.Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		return nil, "", apiError(err, namespace)
	}
	if o.TargetContainer != "" && !hasContainer(pod, o.TargetContainer) {
		return nil, "", fmt.Errorf("pod %s has no container %q to target", pod.Name, o.TargetContainer)
	}
	cname := o.Container
	for cname == "" || hasContainer(pod, cname) && o.Container == "" {
		cname = "debugger-" + utilrand.String(5)
	}
	if hasContainer(pod, cname) {
		return nil, "", fmt.Errorf("pod %s already has a container named %q", pod.Name, cname)
	}
	ec := corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name:                     cname,
			Env:                      o.Env,
			Image:                    o.Image,
			Stdin:                    o.Stdin,
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			TTY:                      o.TTY,
			Command:                  o.Command,
		},
		TargetContainerName: o.TargetContainer,
	}
	if err := applyDebugProfile(o.Profile, &ec); err != nil {
		return nil, "", err
	}
	podJS, err := json.Marshal(pod)
	if err != nil {
		return nil, "", err
	}
	debugPod := pod.DeepCopy()
	debugPod.Spec.EphemeralContainers = append(debugPod.Spec.EphemeralContainers, ec)
	debugJS, err := json.Marshal(debugPod)
	if err != nil {
		return nil, "", err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(podJS, debugJS, pod)
	if err != nil {
		return nil, "", fmt.Errorf("error creating patch to add debug container: %w", err)
	}
	po := metav1.PatchOptions{}
	if o.DryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	result, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, po, "ephemeralcontainers")
	if err != nil {
		// A 404 without details: the subresource is missing (kubectl's words).
		if serr, ok := err.(*apierrors.StatusError); ok && serr.Status().Reason == metav1.StatusReasonNotFound && (serr.ErrStatus.Details == nil || serr.ErrStatus.Details.Name == "") {
			return nil, "", fmt.Errorf("ephemeral containers are disabled for this cluster (error from server: %q)", err)
		}
		return nil, "", apiError(err, namespace)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(result)
	if err != nil {
		return nil, "", err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("v1")
	u.SetKind("Pod")
	return u, cname, nil
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// applyDebugProfile does to ec what kubectl debug's profile does to an
// ephemeral container (k8s.io/kubectl/pkg/cmd/debug/profiles.go).
func applyDebugProfile(profile string, ec *corev1.EphemeralContainer) error {
	sc := func() *corev1.SecurityContext {
		if ec.SecurityContext == nil {
			ec.SecurityContext = &corev1.SecurityContext{}
		}
		return ec.SecurityContext
	}
	addCap := func(c corev1.Capability) {
		s := sc()
		if s.Capabilities == nil {
			s.Capabilities = &corev1.Capabilities{}
		}
		for _, have := range s.Capabilities.Add {
			if have == c {
				return
			}
		}
		s.Capabilities.Add = append(s.Capabilities.Add, c)
	}
	yes := true
	switch profile {
	case "legacy":
	case "", "general":
		addCap("SYS_PTRACE")
	case "baseline":
		ec.SecurityContext = nil
	case "restricted":
		ec.SecurityContext = nil
		sc().RunAsNonRoot = &yes
		sc().Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		no := false
		sc().AllowPrivilegeEscalation = &no
		sc().SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	case "netadmin":
		addCap("NET_ADMIN")
		addCap("NET_RAW")
	case "sysadmin":
		sc().Privileged = &yes
	default:
		return fmt.Errorf("unknown profile: %s (want one of %v)", profile, DebugProfiles)
	}
	return nil
}
