# The one place that knows how hakube is built and tested.

GO        ?= go
PKG       := github.com/hakube/hakube
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X $(PKG)/cmd/hakube/app.version=$(VERSION) -X $(PKG)/cmd/hakube/app.commit=$(COMMIT) \
             -X $(PKG)/manifests.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags "$(LDFLAGS)"
ARCHES    := amd64 arm64 armv7

export CGO_ENABLED := 0
export HAKUBE_NPM_PREFIX ?= $(HOME)/.cache/hakube/npm

.PHONY: all build dist test unit e2e testenv provision bench verify fmt vet clean

all: build

# bin/hakube-linux-<arch> for every supported board, plus bin/hakube for this machine.
build: $(foreach a,$(ARCHES),bin/hakube-linux-$(a))
	$(GO) build $(GOFLAGS_BUILD) -o bin/hakube ./cmd/hakube

bin/hakube-linux-amd64: FORCE
	GOOS=linux GOARCH=amd64 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/hakube
bin/hakube-linux-arm64: FORCE
	GOOS=linux GOARCH=arm64 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/hakube
bin/hakube-linux-armv7: FORCE
	GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(GOFLAGS_BUILD) -o $@ ./cmd/hakube
FORCE:

# Release artifacts: dist/hakube-linux-<arch>, dist/install.sh and dist/sha256sums.txt (sha256sum
# format, all of them), uploaded as the assets of one release; install.sh documents the URL layout.
dist: build
	rm -rf dist && mkdir -p dist
	for a in $(ARCHES); do cp bin/hakube-linux-$$a dist/; done
	cp scripts/install.sh dist/install.sh
	cd dist && sha256sum hakube-linux-* install.sh > sha256sums.txt

# Everything: unit tests, the real binaries under qemu, install.sh, and the
# integration tests against a real control plane (scripts/testenv). It first
# installs whatever the tests need that is missing (scripts/provision).
test: provision dist testenv
	$(GO) test -count=1 -timeout 60m ./...

# Debian and npm packages and Go modules the tests need; only what is missing.
provision:
	scripts/provision

# Benchmarks (render, plan, no-op install); medians come from -count.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./manifests ./installer

# Unit tests only (no control plane, no emulators).
unit:
	$(GO) test -short ./...

e2e: testenv
	$(GO) test -count=1 -timeout 40m -run 'E2E|Integration|RealNode' ./installer/... ./cmd/... ./scripts/... ./internal/...

# The test control plane (kube-apiserver, etcd, kwok, k3s deploy stand-in,
# kubelet, kube-proxy, local-path provisioner) and the real node's images,
# built once and cached under ~/.cache/hakube/testenv. The real-node suite
# (internal/realnode) runs as root.
testenv:
	scripts/testenv/testenv build
	scripts/testenv/testenv images

verify: fmt vet test

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

clean:
	rm -rf bin dist
