package kubetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoComponent is ComponentPid's error when the sandbox's state records
// no component of the name.
var ErrNoComponent = errors.New("no such sandbox component")

// ComponentPid is the pid of the sandbox component called name
// ("kube-apiserver", "etcd", ...), as the state.json beside env's
// kubeconfig records it, to read its CPU time or memory.
func ComponentPid(env *Env, name string) (int, error) {
	path := filepath.Join(filepath.Dir(env.Kubeconfig), "state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var st struct {
		Components []struct {
			Name string `json:"name"`
			Pid  int    `json:"pid"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range st.Components {
		if c.Name == name {
			return c.Pid, nil
		}
	}
	return 0, fmt.Errorf("%s records no %s: %w", path, name, ErrNoComponent)
}

// APIServerPid is ComponentPid of the sandbox's kube-apiserver.
func APIServerPid(env *Env) (int, error) { return ComponentPid(env, "kube-apiserver") }

// ProcessCPU is the CPU time (user and system) process pid has used so
// far, from /proc/PID/stat, or -1 when it cannot be read.
func ProcessCPU(pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// The fields after the command's name, which ends with ")": utime and
	// stime (fields 14 and 15 of stat) are the 12th and 13th of them.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// SelfCPU is the CPU time (user and system) this process has used so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Median is the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
