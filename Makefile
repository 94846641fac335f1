# Temper: the two set-up commands are `make train` and `make test`.
# Each installs what a fresh machine lacks (a Rust toolchain is assumed).

CONFIG ?= configs/digits.toml
DEVICE ?=
ARGS ?=
CARGO ?= cargo
# Shared by `make train` and `make test`: one dev-profile build serves both.
TEMPER := $(or $(CARGO_TARGET_DIR),target)/debug/temper
DATA := data/generated/digits/train.parquet data/generated/messages/train.csv

.PHONY: all train test data bench lint fmt compare clean-data deps

all: test

deps:
	@./scripts/install-deps.sh

$(TEMPER): deps $(shell find pipeline/src augment/src -name '*.rs') Cargo.toml Cargo.lock
	$(CARGO) build --locked -p temper

data: $(DATA)

$(DATA): | $(TEMPER)
	$(TEMPER) synth --out data/generated

## Train and evaluate one config (default: the bundled digits).
train: $(TEMPER) data
	$(TEMPER) train --config $(CONFIG) $(if $(DEVICE),--device $(DEVICE)) $(ARGS)

## The whole test suite.
test: deps
	$(CARGO) test --locked --workspace

## Throughput tables (release build).
bench: deps
	$(CARGO) bench -p augment

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean-data:
	rm -rf data/generated
