package builtins

import (
	"context"
	"sync"
	"time"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
)

// completionWait bounds how long a TAB waits for a first fetch.
const completionWait = 3 * time.Second

// CompletionSource tells the REPL's completion (repl.Source) what the
// session's cluster and kubeconfig hold. It follows ctx.use: the names come
// from the client the session uses at the moment of the TAB, and a switch
// starts a new cache (the old client is no longer the session's).
type CompletionSource struct {
	session *Session
	clients *kube.Clients

	mu    sync.Mutex
	cur   *kube.Client
	cache *kube.NameCache
}

// NewCompletionSource returns the completion source of session s, whose
// kubeconfig's contexts clients reaches.
func NewCompletionSource(s *Session, clients *kube.Clients) *CompletionSource {
	return &CompletionSource{session: s, clients: clients}
}

func (cs *CompletionSource) client() (*kube.Client, *kube.NameCache) {
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

func (cs *CompletionSource) Kinds() []string {
	c, _ := cs.client()
	if c == nil {
		return nil
	}
	names, _ := c.Names()
	return names
}

func (cs *CompletionSource) Names(kind, namespace string) []string {
	_, nc := cs.client()
	if nc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionWait)
	defer cancel()
	return nc.Names(ctx, kind, namespace)
}

func (cs *CompletionSource) Namespaces() []string {
	return cs.Names("namespaces", "")
}

func (cs *CompletionSource) Contexts() []string {
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

func (cs *CompletionSource) Params(fn string) []string { return doc.Params(fn) }

// Fields implements repl.FieldSource: the fields the kind's OpenAPI schema
// allows at path, with their types, from the cached schema (explain.go).
func (cs *CompletionSource) Fields(apiVersion, kind string, path []string) (names, types []string) {
	s := cs.schemaAt(apiVersion, kind, path)
	if s == nil {
		return nil, nil
	}
	for _, f := range s.Fields() {
		names = append(names, f)
		types = append(types, s.Field(f).Type())
	}
	return names, types
}

// Enum implements repl.EnumSource: the values the schema's enum allows for
// the string field at path.
func (cs *CompletionSource) Enum(apiVersion, kind string, path []string) []string {
	s := cs.schemaAt(apiVersion, kind, path)
	if s == nil {
		return nil
	}
	var out []string
	for _, v := range s.Enum() {
		if v, ok := v.(string); ok {
			out = append(out, v)
		}
	}
	return out
}

// schemaAt is the schema at path of a kind named exactly (apiVersion and
// kind) or as a user types it (apiVersion ""), nil when there is none.
func (cs *CompletionSource) schemaAt(apiVersion, kind string, path []string) *kube.Schema {
	c, _ := cs.client()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionWait)
	defer cancel()
	var (
		s   *kube.Schema
		err error
	)
	if apiVersion == "" {
		s, err = c.KindSchema(ctx, kind, "")
	} else {
		s, err = c.SchemaOf(ctx, apiVersion, kind)
	}
	if err != nil {
		return nil
	}
	return s.Lookup(path)
}
