# PharmaTrace — `make up` starts the consortium on this machine, `make test`
# runs every suite (starting the network when it is not running).
SHELL := /bin/bash
.DEFAULT_GOAL := help

BIN := $(CURDIR)/bin
RUN := $(CURDIR)/run
GO ?= go
FABNET := $(BIN)/fabnet
FABRIC_TOOLS := fabric-network/tools/fabric
CA_TOOLS := fabric-network/tools/fabric-ca
PROM_TOOLS := fabric-network/tools/prometheus
FABRIC_PIN := github.com/hyperledger/fabric
PROM_PIN := github.com/prometheus/prometheus
# Integration suites may take a while on 2 cores (they kill and restart nodes).
INTEGRATION_TIMEOUT ?= 30m
QUICK ?=

export PHARMATRACE_RUN_DIR := $(RUN)
export PHARMATRACE_BIN_DIR := $(BIN)

.PHONY: help up down clean test check-deps unit integration bench chaos binaries fabric-bins prometheus-bins monitor lint
help:
	@echo "make up      start the Fabric network (CAs, 3 orderers, 4 peers, chaincode) on 127.0.0.1"
	@echo "make down    stop every process make up (and make monitor) started"
	@echo "make monitor start Prometheus against the running network (alerts: deploy/prometheus)"
	@echo "make clean   down, then delete all network state (run/)"
	@echo "make test    unit tests, then integration tests against the real network"
	@echo "make bench   performance harness (QUICK=1 for a short run)"
	@echo "make chaos   10-minute chaos soak: load while peers, raft leaders, quorums and chaincode servers are killed"

# Fabric and Fabric CA are built from the pinned tools modules; the stamps
# make them rebuild only when a pin (go.mod/go.sum) changes.
$(BIN)/.fabric.stamp: $(FABRIC_TOOLS)/go.mod $(FABRIC_TOOLS)/go.sum
	@mkdir -p $(BIN)/fabric-config
	@echo "building Fabric v2.5.0 (peer, orderer, configtxgen, osnadmin) — about 2 minutes the first time"
	cd $(FABRIC_TOOLS) && $(GO) build -trimpath -o $(BIN)/ $(FABRIC_PIN)/cmd/peer $(FABRIC_PIN)/cmd/orderer $(FABRIC_PIN)/cmd/configtxgen $(FABRIC_PIN)/cmd/osnadmin
	dir=$$(cd $(FABRIC_TOOLS) && $(GO) list -m -f '{{.Dir}}' $(FABRIC_PIN)) && install -m 0644 $$dir/sampleconfig/core.yaml $$dir/sampleconfig/orderer.yaml $(BIN)/fabric-config/
	@touch $@

$(BIN)/.fabric-ca.stamp: $(CA_TOOLS)/go.mod $(CA_TOOLS)/go.sum
	@mkdir -p $(BIN)
	@echo "building Fabric CA v1.5.15 — about 1 minute the first time"
	cd $(CA_TOOLS) && $(GO) build -trimpath -o $(BIN)/ github.com/hyperledger/fabric-ca/cmd/fabric-ca-server github.com/hyperledger/fabric-ca/cmd/fabric-ca-client
	@touch $@

fabric-bins: $(BIN)/.fabric.stamp $(BIN)/.fabric-ca.stamp

# Prometheus and promtool from the pinned tools module, without the cloud
# service discoveries (remove_all_sd keeps static and file discovery) and
# without the web UI's assets (the HTTP API serves; Grafana is the UI).
$(BIN)/.prometheus.stamp: $(PROM_TOOLS)/go.mod $(PROM_TOOLS)/go.sum
	@mkdir -p $(BIN)
	@echo "building Prometheus (prometheus, promtool) — about 4 minutes the first time"
	cd $(PROM_TOOLS) && v=$$($(GO) list -m -f '{{.Version}}' $(PROM_PIN)) && \
		$(GO) build -trimpath -tags remove_all_sd -ldflags "-X github.com/prometheus/common/version.Version=$$v" \
		-o $(BIN)/ $(PROM_PIN)/cmd/prometheus $(PROM_PIN)/cmd/promtool
	@touch $@

prometheus-bins: $(BIN)/.prometheus.stamp

# Our own binaries: go's build cache makes this a no-op when nothing changed.
binaries: fabric-bins
	$(GO) build -trimpath -o $(BIN)/ ./fabric-network/cmd/fabnet ./chaincode/cmd/pharmatrace-cc ./scanner-agent/cmd/scanner-agent ./api/cmd/pharmatrace-api ./epcis/cmd/pharmatrace-epcis

up: binaries
	$(FABNET) up

# Prometheus (data in run/data/prometheus) and the certificate expiry
# exporter, scraping the network `make up` started; `make down` stops them.
monitor: binaries prometheus-bins
	$(FABNET) monitor

down:
	@if [ -x $(FABNET) ]; then $(FABNET) down; else echo "nothing to stop (no $(FABNET))"; fi

clean:
	@if [ -x $(FABNET) ]; then $(FABNET) clean; fi
	rm -rf $(RUN)

# check-deps first: a missing Chromium stops make test at once with the
# command that installs it (PHARMATRACE_INSTALL_DEPS=1: installs it).
test:
	@scripts/check-deps
	@$(MAKE) --no-print-directory unit integration

check-deps:
	@scripts/check-deps

# promtool: the alerting rules' unit tests here, and `promtool check
# config` of the generated Prometheus configuration in fabric-network/monitor.
unit: prometheus-bins
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	$(BIN)/promtool test rules deploy/prometheus/alerts_test.yml

# The integration suite starts the network itself when it is not running
# (and stops it again afterwards); set PHARMATRACE_KEEP_NETWORK=1 to keep it.
integration: binaries prometheus-bins
	$(GO) test -count=1 -tags integration -timeout $(INTEGRATION_TIMEOUT) -v ./test/...

# `make chaos` is the long form of test/chaos_test.go (its short form runs
# in `make test`): 10 minutes of load (CHAOS_DURATION to change it) while
# nodes are killed and restarted, then the invariants checked against the
# ledger. It starts the network when it is not running.
CHAOS_DURATION ?= 10m
chaos: binaries
	PHARMATRACE_CHAOS=long PHARMATRACE_CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -count=1 -tags integration -timeout 40m -run 'TestChaos$$' -v ./test/

# `make bench` (QUICK=1 for a short run) drives load against the network
# from `make up` and writes run/bench/results.{md,json}.
bench: up
	$(GO) build -o $(BIN)/ ./bench/cmd/pharmabench
	$(BIN)/pharmabench $(if $(QUICK),-quick) -out $(RUN)/bench
	@mkdir -p $(RUN)/bench
	PHARMATRACE_OPS_TABLE=$(RUN)/bench/operations.md $(GO) test -count=1 -run '^TestOperationCounts$$' ./chaincode/ >/dev/null
	@echo "per-transaction operation counts: $(RUN)/bench/operations.md"

# `make fuzz` runs every fuzz target of the members' inputs (chaincode
# decoding and dispatch, the API's routes) for FUZZTIME each on one core,
# then keeps the corpus it grew under the package's testdata/fuzz (commit
# it: `go test` replays it on every run).
FUZZTIME ?= 10m
FUZZ_TARGETS := ./chaincode:FuzzTransaction ./api:FuzzRequests ./gs1:FuzzParse ./gs1:FuzzParseDigitalLink
.PHONY: fuzz
fuzz:
	@set -e; cache=$$($(GO) env GOCACHE)/fuzz/github.com/pharmatrace/pharmatrace; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzzing $$name in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s -parallel 1 $$pkg; \
	  mkdir -p $$pkg/testdata/fuzz/$$name; cp -n $$cache/$${pkg#./}/$$name/* $$pkg/testdata/fuzz/$$name/ 2>/dev/null || true; \
	done
