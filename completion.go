package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
)

// completionWait bounds how long a TAB waits for a first fetch.
const completionWait = 3 * time.Second

// completionSource tells the REPL's completion what the session's cluster
// and kubeconfig hold. It follows ctx.use: the names come from the client
// the session uses at the moment of the TAB, and a switch starts a new
// cache (the old client is no longer the session's).
type completionSource struct {
	session *builtins.Session
	clients *kube.Clients

	mu    sync.Mutex
	cur   *kube.Client
	cache *kube.NameCache
}

func (cs *completionSource) client() (*kube.Client, *kube.NameCache) {
	c, ok := cs.session.Cluster.(*kube.Client)
	if !ok {
		return nil, nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c != cs.cur {
		cs.cur, cs.cache = c, kube.NewNameCache(c)
	}
	return c, cs.cache
}

func (cs *completionSource) Kinds() []string {
	c, _ := cs.client()
	if c == nil {
		return nil
	}
	names, _ := c.Names()
	return names
}

func (cs *completionSource) Names(kind, namespace string) []string {
	_, nc := cs.client()
	if nc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionWait)
	defer cancel()
	return nc.Names(ctx, kind, namespace)
}

func (cs *completionSource) Namespaces() []string {
	return cs.Names("namespaces", "")
}

func (cs *completionSource) Contexts() []string {
	infos, err := cs.clients.Contexts()
	if err != nil {
		return nil
	}
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.Name
	}
	return out
}

func (cs *completionSource) Params(fn string) []string { return doc.Params(fn) }

// historyPath is the REPL's history file: $XDG_STATE_HOME/k8sh/history,
// ~/.local/state/k8sh/history by default.
func historyPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "k8sh", "history")
}
