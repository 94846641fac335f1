# Temper: the two set-up commands are `make train` and `make test`.
# Each installs what a fresh machine lacks (a Rust toolchain is assumed).

CONFIG ?= configs/digits.toml
DEVICE ?=
ARGS ?=
CARGO ?= cargo
# GPU backends compiled in (comma-separated: wgpu, cuda). wgpu is on by
# default: it loads Vulkan at run time, so the binary still runs without a
# GPU, and the tests exercise it on Mesa's software driver. `cuda` downloads
# an LLVM bundle from GitHub at build time (see README).
FEATURES ?= wgpu
comma := ,
FEATURE_LIST := $(subst $(comma), ,$(FEATURES))
BUILD_FEATURES := $(if $(FEATURES),--features "$(FEATURE_LIST)")
TEST_FEATURES := $(if $(FEATURES),--features "$(foreach f,$(FEATURE_LIST),temper/$(f))")
# Shared by `make train` and `make test`: one dev-profile build serves both.
TEMPER := $(or $(CARGO_TARGET_DIR),target)/debug/temper
DATA := data/generated/digits/train.parquet data/generated/messages/train.csv

.PHONY: all train test test-slurm test-kubernetes data bench bench-model lint fmt compare clean-data deps

all: test

deps:
	@./scripts/install-deps.sh

$(TEMPER): deps $(shell find pipeline/src augment/src -name '*.rs') Cargo.toml Cargo.lock
	$(CARGO) build --locked -p temper $(BUILD_FEATURES)

data: $(DATA)

$(DATA): | $(TEMPER)
	$(TEMPER) synth --out data/generated

## Train and evaluate one config (default: the bundled digits).
train: $(TEMPER) data
	$(TEMPER) train --config $(CONFIG) $(if $(DEVICE),--device $(DEVICE)) $(ARGS)

## The whole test suite.
test:
	@./scripts/install-deps.sh $(FEATURE_LIST)
	$(CARGO) test --locked --workspace $(TEST_FEATURES)

## The generated Slurm pipeline on a real single-node Slurm brought up on
## this machine (installed from Debian's packages when run as root).
test-slurm:
	$(CARGO) test --locked --workspace $(TEST_FEATURES) --no-run
	./scripts/slurm-test.sh $(TEMPER)

## The Kubernetes job files against the API schema, and their pods'
## commands run here index by index (kubernetes-validate in a venv).
test-kubernetes:
	$(CARGO) test --locked --workspace $(TEST_FEATURES) --no-run
	./scripts/kubernetes-test.sh $(TEMPER)

## Throughput tables (release build).
bench: deps
	$(CARGO) bench -p augment

## Model throughput (train, inference, PGD-10) beside PyTorch's, interleaved.
## The dev-profile binary `make train` runs; PyTorch in bench/.venv-torch.
bench-model: $(TEMPER)
	python3 bench/model_bench.py --temper $(TEMPER) $(ARGS)

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets $(TEST_FEATURES) -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf data/generated
