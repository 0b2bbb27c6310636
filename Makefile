# SPDX-License-Identifier: GPL-2.0
#
# khugepaged-rs: build, boot and test a Linux 7.3 kernel whose khugepaged is written in Rust.
#
#   make run        boot the Rust kernel under QEMU and show khugepaged working
#   make check      every test on x86_64, and the Rust kernel's core tests on the others
#   make check-all  every test, both kernels, on every target
#
# All install what is missing first.  TARGET selects the architecture and page geometry:
# x86_64 (default), arm64, arm64-16k, arm64-64k, ppc64le, ppc64le-hash, s390x.  Build output
# goes to BUILD_DIR (./build by default).  See README.md.

# ARCH=NAME on the command line is taken as TARGET=NAME.
ifeq ($(origin ARCH),command line)
TARGET ?= $(ARCH)
endif
TARGET ?= x86_64
BUILD_DIR ?= $(CURDIR)/build
export TARGET BUILD_DIR
unexport ARCH
VM := tools/vm

# `make CLIPPY=1 kernel` lints the Rust code with clippy while building.
ifneq ($(CLIPPY),)
export KMAKE_EXTRA += CLIPPY=1
endif

.PHONY: help deps source kernel kernel-c kernel-soak guest-programs test-core host-test bench-core bench profile rustfmt \
	rustfmtcheck run check check-all soak clean distclean clean-cache

help:
	@sed -n '3,11p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Other targets: deps source kernel kernel-c kernel-soak guest-programs test-core bench-core bench profile soak clean distclean clean-cache"
	@echo "(each for TARGET=NAME; kernel and kernel-c build the Rust and the C kernel)"

deps:
	$(VM)/install-deps $(TARGET)

source:
	$(VM)/prepare-tree

kernel:
	$(VM)/build-kernel rs

kernel-c:
	$(VM)/build-kernel c

# The soak flavours of both kernels: KASAN, KFENCE, UBSAN, page-table checking, lockdep.
kernel-soak:
	$(VM)/build-kernel rs-soak
	$(VM)/build-kernel c-soak

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

# The Rust and C kernels side by side on the khugepaged benchmarks, medians of alternating
# runs: figures, never a verdict.
bench:
	$(VM)/bench $(BENCH_ARGS)

# Where kernel time goes during the benchmarks, on both kernels (/proc/profile samples).
profile:
	$(VM)/profile $(PROFILE_ARGS)

rustfmt:
	$(VM)/rustfmt-check --fix

rustfmtcheck:
	$(VM)/rustfmt-check

run:
	$(VM)/demo

check:
	$(VM)/check

check-all:
	$(VM)/check --all

# The soak on both soak kernels, SOAK_SECS (1800) each: every byte checked, no report.
SOAK_SECS ?= 1800
soak:
	$(VM)/soak --seconds $(SOAK_SECS)

# Kernel build trees and guest programs of TARGET; keeps the downloads and the toolchain.
clean:
	rm -rf $(BUILD_DIR)/$(TARGET) $(BUILD_DIR)/cargo-target

distclean:
	rm -rf $(BUILD_DIR)

# The cache every clone on this machine shares (README.md, "The shared cache").
clean-cache:
	rm -rf "$${KHUGEPAGED_RS_CACHE:-$${XDG_CACHE_HOME:-$$HOME/.cache}/khugepaged-rs}"
