# SPDX-License-Identifier: GPL-2.0
#
# khugepaged-rs: build, boot and test a Linux 7.3 kernel whose khugepaged is written in Rust.
#
#   make run      boot the Rust kernel under QEMU and show khugepaged working
#   make check    every test: host, both kernels, upstream selftests and ours
#
# Both install what is missing first.  ARCH selects the target (x86_64 by default); build
# output goes to BUILD_DIR (./build by default).  See README.md.

ARCH ?= x86_64
BUILD_DIR ?= $(CURDIR)/build
export ARCH BUILD_DIR
VM := tools/vm

# `make CLIPPY=1 kernel` lints the Rust code with clippy while building.
ifneq ($(CLIPPY),)
export KMAKE_EXTRA += CLIPPY=1
endif

.PHONY: help deps source kernel kernel-c guest-programs test-core host-test bench-core bench rustfmt \
	rustfmtcheck run check clean distclean

help:
	@sed -n '3,10p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: deps source kernel kernel-c guest-programs test-core bench-core bench clean distclean"

deps:
	$(VM)/install-deps $(ARCH)

source:
	$(VM)/prepare-tree

kernel:
	$(VM)/build-kernel rs

kernel-c:
	$(VM)/build-kernel c

guest-programs:
	$(VM)/build-selftests

# The policy core's host tests (unit and property tests); `make check` runs them first.
test-core:
	CARGO_TARGET_DIR=$(BUILD_DIR)/cargo-target \
		cargo test --locked --manifest-path tools/khugepaged-rs/policy/Cargo.toml

host-test: test-core

# The policy core's timings (optimised build): figures only, never part of `make check`.
bench-core:
	CARGO_TARGET_DIR=$(BUILD_DIR)/cargo-target \
		cargo bench --locked --manifest-path tools/khugepaged-rs/policy/Cargo.toml --bench policy

# The Rust and C kernels side by side on the khugepaged benchmarks: figures, never a verdict.
bench:
	$(VM)/bench

rustfmt:
	$(VM)/rustfmt-check --fix

rustfmtcheck:
	$(VM)/rustfmt-check

run:
	$(VM)/demo

check:
	$(VM)/check

# Kernel build trees and guest programs; keeps the downloads and the toolchain.
clean:
	rm -rf $(BUILD_DIR)/$(ARCH) $(BUILD_DIR)/cargo-target

distclean:
	rm -rf $(BUILD_DIR)
