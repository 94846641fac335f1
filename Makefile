# Temper: the two set-up commands are `make train` and `make test`.
# Each installs what a fresh machine lacks (a Rust toolchain is assumed).

CONFIG ?= configs/digits.toml
DEVICE ?=
ARGS ?=
CARGO ?= cargo
# GPU backends compiled in (comma-separated: wgpu, webgpu, cuda; webgpu is
# wgpu with WGSL kernels on Vulkan too, README "Devices"). wgpu is on by
# default: it loads Vulkan at run time, so the binary still runs without a
# GPU, and the tests exercise it on Mesa's software driver. `cuda` also
# loads its driver at run time; it links LLVM, which scripts/cuda-llvm.sh
# fetches from PyPI (92 MB, once) for the build.
FEATURES ?= wgpu
# The CUDA driver API the `cuda` build binds (13.0, drivers 580 and newer);
# without it cudarc picks the newest it knows, which older drivers lack.
CUDARC_CUDA_VERSION ?= 13000
export CUDARC_CUDA_VERSION
comma := ,
FEATURE_LIST := $(subst $(comma), ,$(FEATURES))
BUILD_FEATURES := $(if $(FEATURES),--features "$(FEATURE_LIST)")
TEST_FEATURES := $(if $(FEATURES),--features "$(foreach f,$(FEATURE_LIST),temper/$(f))")
# Shared by `make train` and `make test`: one dev-profile build serves both
# (scripts/check-shared-build.sh, in `make lint`, keeps it so).
TEMPER := $(or $(CARGO_TARGET_DIR),target)/debug/temper
DATA := data/generated/digits/train.parquet data/generated/messages/train.csv

.PHONY: all train test test-slurm test-kubernetes test-cuda-build data bench bench-model lint fmt compare clean-data deps

all: test

deps:
	@./scripts/install-deps.sh $(FEATURE_LIST)

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

## The CUDA build compiles and links (LLVM from PyPI, no GitHub), and
## without an NVIDIA driver says so in one line (its e2e test). Same target
## folder and profile as the tests: after `make test FEATURES=wgpu,cuda` (as
## CI runs it) nothing is compiled again; after the default tests, the
## crates CUDA changes (cubecl and burn) are.
test-cuda-build:
	./scripts/cuda-build-test.sh

## Throughput tables (release build).
bench: deps
	$(CARGO) bench -p augment

## Model throughput (train, inference, PGD-10) beside PyTorch's, interleaved.
## The dev-profile binary `make train` runs; PyTorch in bench/.venv-torch.
bench-model: $(TEMPER)
	python3 bench/model_bench.py --temper $(TEMPER) $(ARGS)

lint: deps
	$(CARGO) fmt --all -- --check
	./scripts/check-shared-build.sh $(FEATURE_LIST)
	$(CARGO) clippy --locked --workspace --all-targets $(TEST_FEATURES) -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf data/generated
