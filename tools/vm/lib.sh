# SPDX-License-Identifier: GPL-2.0
# Shared settings for the scripts under tools/vm: paths, toolchain, per-architecture facts.
# Source it; it reads TARGET (default x86_64) and BUILD_DIR.

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$vm_dir/../.." && pwd)
. "$vm_dir/pins"
BUILD_DIR=${BUILD_DIR:-$top/build}
TARGET=${TARGET:-x86_64}
SRC=$BUILD_DIR/src/linux

. "$vm_dir/cache.sh"

# Debian's toolchain, named by path so that rustup or another clang in PATH never wins.
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_MAJOR/lib
KMAKE_TOOLS=(LLVM=-$LLVM_MAJOR RUSTDOC=/usr/bin/rustdoc RUSTFMT=/usr/bin/rustfmt
	     CLIPPY_DRIVER=/usr/bin/clippy-driver BINDGEN=$BINDGEN_DIR/bin/bindgen)
if compiler_cache_on; then
	# Every C compile of the kernel and of its host programs (objtool, fixdep, kconfig)
	# through ccache; every rustc run through rustc-cache.
	cc=$(ccache_wrap "clang-$LLVM_MAJOR")
	KMAKE_TOOLS+=(CC="$cc" HOSTCC="$cc" RUSTC="$vm_dir/rustc-cache" HOSTRUSTC="$vm_dir/rustc-cache")
	export RUSTC_CACHE_RUSTC=/usr/bin/rustc
else
	KMAKE_TOOLS+=(RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc)
fi

# Per-target facts.  A target is one architecture with one page-table geometry; its name is
# what `make TARGET=NAME` and `tools/vm/run --arch NAME` take.
#   KARCH      kbuild's ARCH
#   BUILD_NAME directory of its kernels under $BUILD_DIR (targets that differ only in the
#              boot command line share one build)
#   FRAGMENTS  config fragments (tools/vm/configs/NAME.config) on top of common.config
#   DEB_ARCH   Debian's name for the architecture (busybox-static for the guest)
#   CROSS      prefix of the GCC that builds the static guest programs
#   BOOT_ARGS  extra kernel command line
#   GUEST_MEM  the guest's memory: room for several PMD-sized test regions
#   GOALS      what kbuild builds (default: its default goal)
#   GEOMETRY   page size and PTEs per PMD, for reports
TARGETS="x86_64 arm64 arm64-16k arm64-64k ppc64le ppc64le-hash s390x"
BOOT_ARGS= GUEST_MEM=2G GOALS=()
case $TARGET in
x86_64)
	KARCH=x86_64 FRAGMENTS=(x86_64) DEB_ARCH=amd64 CROSS=x86_64-linux-gnu-
	GEOMETRY="4K pages, 512 PTEs/PMD"
	IMAGE=arch/x86/boot/bzImage CONSOLE=ttyS0 QEMU_PKG=qemu-system-x86
	QEMU=(qemu-system-x86_64 -machine q35,accel=tcg -cpu max)
	;;
arm64|arm64-16k|arm64-64k)
	page=${TARGET#arm64-}
	[ "$page" != arm64 ] || page=4k
	# 64K pages make a PMD 512 MB.
	[ "$page" != 64k ] || GUEST_MEM=6G
	case $page in
	4k) GEOMETRY="4K pages, 512 PTEs/PMD" ;;
	16k) GEOMETRY="16K pages, 2048 PTEs/PMD" ;;
	64k) GEOMETRY="64K pages, 8192 PTEs/PMD" ;;
	esac
	KARCH=arm64 FRAGMENTS=(arm64 "arm64-$page") DEB_ARCH=arm64 CROSS=aarch64-linux-gnu-
	IMAGE=arch/arm64/boot/Image CONSOLE=ttyAMA0 QEMU_PKG=qemu-system-arm
	QEMU=(qemu-system-aarch64 -machine virt,accel=tcg -cpu max)
	;;
ppc64le|ppc64le-hash)
	# One kernel with both MMUs: radix by default on QEMU's POWER10, hash when told.
	KARCH=powerpc FRAGMENTS=(ppc64le) DEB_ARCH=ppc64el CROSS=powerpc64le-linux-gnu-
	IMAGE=vmlinux CONSOLE=hvc0 QEMU_PKG=qemu-system-ppc
	# QEMU boots vmlinux; the zImage wrappers want the target's binutils.
	GOALS=(vmlinux)
	GEOMETRY="64K pages radix, 32 PTEs/PMD"
	QEMU=(qemu-system-ppc64 -machine pseries,accel=tcg)
	if [ "$TARGET" = ppc64le-hash ]; then
		# THP on hash needs 16M pages (the PMD size with 64K pages) in the device
		# tree, which pseries offers only when allowed to.
		BOOT_ARGS=disable_radix
		GEOMETRY="64K pages hash, 256 PTEs/PMD"
		# 7.3's khugepaged selftest faults in HPAGE_PMD_NR huge pages at once
		# (collapse_compound_extreme): 256 x 16 MB.
		GUEST_MEM=6G
		QEMU=(qemu-system-ppc64 -machine pseries,accel=tcg,cap-hpt-max-page-size=16M)
	fi
	;;
s390x)
	KARCH=s390 FRAGMENTS=(s390x) DEB_ARCH=s390x CROSS=s390x-linux-gnu-
	# QEMU's TCG has no EDAT-1 (large segment frames): the kernel runs without THP.
	GEOMETRY="4K pages, 256 PTEs/segment (no THP under TCG)"
	IMAGE=arch/s390/boot/bzImage CONSOLE=ttysclp0 QEMU_PKG=qemu-system-misc
	QEMU=(qemu-system-s390x -machine s390-ccw-virtio,accel=tcg)
	;;
*)
	echo "unknown target '$TARGET' (one of: $TARGETS)" >&2
	exit 1
	;;
esac
BUILD_NAME=${TARGET%-hash}

# s390 hands its include directory to the assembler (arch/s390/Makefile:
# -Wa,-I$(srctree)/arch/s390/include) for the `.include` directives of inline assembly.
# ccache rewrites no path inside -Wa, and it never sees the files the assembler includes:
# keyed by that path no two clones would share an s390 object, and keyed by it alone a
# changed `.include`d file would go unnoticed.  So the option is left out of the hash and the
# files it serves are hashed into every compile instead.  Called once the kernel tree is laid
# out (tools/vm/build-kernel).
ccache_arch() {
	if [ "$KARCH" = s390 ] && compiler_cache_on; then
		export CCACHE_IGNOREOPTIONS='-Wa,-I*'
		CCACHE_EXTRAFILES=$(grep -rhoE '\.include \\"[^\\"]+' "$SRC/arch/s390" |
				    sed 's/.*"//' | sort -u |
				    sed "s|^|$SRC/arch/s390/include/|" | paste -sd:)
		export CCACHE_EXTRAFILES
	fi
}

# cache_counts DIR...: what the kernel builds in the directories DIR... took from the compiler
# caches, from the logs tools/vm/build-kernel keeps there (empty if they kept none).
cache_counts() {
	cat /dev/null "${@/%//rustc-cache.log}" 2>/dev/null | awk '
		{ n[$1]++; t += $2 }
		END { runs = n["hit"] + n["miss"] + n["fail"]
		      if (runs) printf ", rustc %.0fs (%d runs, %d from the cache)", t, runs, n["hit"] }'
	# ccache's stats log: a "# FILE" line, then the outcomes of that compile.
	cat /dev/null "${@/%//ccache-stats.log}" 2>/dev/null | awk '
		/^direct_cache_hit$/ { d++ } /^preprocessed_cache_hit$/ { p++ } /^cache_miss$/ { m++ }
		END { n = d + p + m
		      if (n) printf ", C %d compiles (%d from the cache, %.0f%%; %d of them direct)",
				n, d + p, 100 * (d + p) / n, d }'
}

# Output directory of one kernel flavour: rs (CONFIG_KHUGEPAGED_RS=y) or c (7.3's C).
kernel_out() { echo "$BUILD_DIR/$BUILD_NAME/kernel-$1"; }
# Logs and results of one target.
target_dir() { echo "$BUILD_DIR/$TARGET"; }

kmake() {
	make -C "$SRC" ARCH="$KARCH" "${KMAKE_TOOLS[@]}" "$@"
}
