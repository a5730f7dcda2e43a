# k8sh. A newcomer needs two commands:
#   make run    build k8sh, start the local sandbox cluster, open the REPL on it
#   make test   unit and end-to-end tests (starts the sandbox if needed)

GO       ?= go
ROOT     := $(CURDIR)
SANDBOX  := $(ROOT)/.cache/sandbox/sandboxctl
KUBECONFIG_SANDBOX := $(ROOT)/.cache/sandbox/kubeconfig

.PHONY: all build run test test-unit fuzz bench lint sandbox-build sandbox-up sandbox-down sandbox-reset sandbox-status clean

all: build

build:
	$(GO) build -buildvcs=auto -o bin/k8sh .

# The sandbox controller is a small stdlib-only program of its own module.
$(SANDBOX): $(wildcard sandbox/*.go) sandbox/go.mod sandbox/go.sum
	$(GO) -C sandbox build -o $(SANDBOX) .

# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# and kwok from the pinned modules into .cache/sandbox/bin, only when the pins
# changed (about 6 minutes on 2 cores the first time).
sandbox-build: $(SANDBOX)
	$(SANDBOX) -root $(ROOT) build

sandbox-up: $(SANDBOX)
	$(SANDBOX) -root $(ROOT) up

# Stops every sandbox process; the cluster's data is kept for the next up.
sandbox-down: $(SANDBOX)
	$(SANDBOX) -root $(ROOT) down

# The one way to wipe the sandbox: stop it, delete its data, start it empty.
sandbox-reset: $(SANDBOX)
	$(SANDBOX) -root $(ROOT) reset

sandbox-status: $(SANDBOX)
	$(SANDBOX) -root $(ROOT) status

run: build sandbox-up
	bin/k8sh --kubeconfig $(KUBECONFIG_SANDBOX)

# Unit tests only: no cluster needed. The example scripts' tests
# (scripts/*_test.star, on fake clusters) run through k8sh test; `make test`
# runs them as scripts.TestStarTests, skipped here so as not to run them twice.
test-unit: build
	$(GO) -C sandbox test -short -count=1 ./...
	bin/k8sh test scripts/
	$(GO) test -short -skip '^TestStarTests$$' ./...

test: build sandbox-up
	K8SH_SANDBOX_KUBECONFIG=$(KUBECONFIG_SANDBOX) $(GO) -C sandbox test -count=1 -timeout 15m ./...
	K8SH_SANDBOX_KUBECONFIG=$(KUBECONFIG_SANDBOX) $(GO) test -count=1 -timeout 20m ./...

# A short run of each fuzz target: conversion of Starlark values, YAML
# manifests, references, selectors and sys.parse_args. `make test` runs only their seeds
# and testdata/fuzz (what a run found is committed there), so that a new
# find does not fail an unrelated change. FUZZTIME=1m for a longer one.
FUZZTIME ?= 3s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzFromStarlark$$' -fuzztime $(FUZZTIME) ./lib/starconv/
	$(GO) test -run '^$$' -fuzz '^FuzzDocuments$$' -fuzztime $(FUZZTIME) ./lib/yaml/
	$(GO) test -run '^$$' -fuzz '^FuzzReferences$$' -fuzztime $(FUZZTIME) ./builtins/
	$(GO) test -run '^$$' -fuzz '^FuzzSelectors$$' -fuzztime $(FUZZTIME) ./kube/
	$(GO) test -run '^$$' -fuzz '^FuzzRawObject$$' -fuzztime $(FUZZTIME) ./kube/
	$(GO) test -run '^$$' -fuzz '^FuzzParseArgs$$' -fuzztime $(FUZZTIME) ./lib/sys/

# Benchmarks of docs/performance.md, in one run: every benchmark of
# builtins/ (issue 21's read path, printing, watch, startup among them; the
# 10k/50k ConfigMaps are filled the first time), CBOR, then the 100k Pods.
# Figures are noisy on a shared machine: compare the lines of one run with
# each other. BENCHCOUNT=6 gives benchstat its samples (six times longer).
BENCHCOUNT ?= 1
BENCHTIME  ?= 3x
# BenchmarkReadPath10k (issue 21) interleaves, in each round, the wire
# floor, k8s.list, client-go, k8s.print and kubectl get, and k8sh processes
# for their peak RSS: about 15 s a round on a quiet machine, so it adds
# about 6 minutes here; run it alone with -bench ReadPath10k -benchtime 5x.
# BenchmarkPrint10k (issue 21) interleaves k8s.print and kubectl get cm,
# with their CPU and kube-apiserver's: about 15 s a round, 5 minutes here;
# alone: -bench Print10k -benchtime 5x.
# BenchmarkCBOR10k (kube/) compares JSON and CBOR on a sandbox whose
# kube-apiserver serves CBOR (CBORServingAndStorage): it starts one of its
# own when the default sandbox does not (about 1 minute more).
# Issue 21, watch21: BenchmarkIterWatchList50k (k8s.iter over 50,000
# ConfigMaps as pages and as a streaming list: time, k8sh's and the
# apiserver's RSS; filling the namespace takes minutes the first time, a
# round ~5-10 s), BenchmarkWatchThroughput10k (a k8s.watch loop against
# kubectl get -w on the same 10,000 changes, and a stopped kubectl against an
# unread k8s.watch) and BenchmarkWatchSlowConsumer10k
# (a slow loop's RSS against a fast one's); they measure in the first
# -count only (a round is 5-30 s): about 4 minutes in all.
# BenchmarkBig100kPods (issue 21) runs apart, one round, on a sandbox of its
# own kept in .cache/sandbox-big (stopped after, its data kept): 100,000
# Pods on 100 kwok nodes, which its first run creates (12 minutes on a
# quiet machine until kwok has made them Running, 41 at load 14-24; 4 GB of
# apiserver memory while it runs) and later runs reuse
# (K8SH_BENCH_BIG_NOWAIT=1: without waiting for kwok); each round reads the
# 100k about 8 times, about 5 minutes on 2 cores. The shared sandbox never
# holds them.
bench: sandbox-up
	K8SH_SANDBOX_KUBECONFIG=$(KUBECONFIG_SANDBOX) $(GO) test -run '^$$' -bench . -skip Big100kPods -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 60m ./builtins/
	K8SH_SANDBOX_KUBECONFIG=$(KUBECONFIG_SANDBOX) $(GO) test -run '^$$' -bench CBOR10k -benchtime $(BENCHTIME) -timeout 10m ./kube/
	$(GO) test -run '^$$' -bench Big100kPods -benchtime 1x -timeout 120m ./builtins/

lint:
	@out=$$(gofmt -l . ); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) -C sandbox vet ./...

clean:
	rm -rf bin
