# SPDX-License-Identifier: GPL-2.0
# Shared settings for the scripts under tools/vm: paths, toolchain, per-architecture facts.
# Source it; it reads ARCH (default x86_64) and BUILD_DIR.

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$vm_dir/../.." && pwd)
. "$vm_dir/pins"
BUILD_DIR=${BUILD_DIR:-$top/build}
ARCH=${ARCH:-x86_64}
SRC=$BUILD_DIR/src/linux

# Debian's toolchain, named by path so that rustup or another clang in PATH never wins.
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_MAJOR/lib
KMAKE_TOOLS=(LLVM=-$LLVM_MAJOR RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc
	     RUSTDOC=/usr/bin/rustdoc RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver
	     BINDGEN=$BUILD_DIR/tools/bin/bindgen)

# Per-architecture facts: kbuild ARCH, boot image, QEMU command and console.
case $ARCH in
x86_64)
	KARCH=x86_64 IMAGE=arch/x86/boot/bzImage CONSOLE=ttyS0
	QEMU=(qemu-system-x86_64 -machine q35,accel=tcg -cpu max)
	;;
arm64)
	KARCH=arm64 IMAGE=arch/arm64/boot/Image CONSOLE=ttyAMA0
	QEMU=(qemu-system-aarch64 -machine virt,accel=tcg -cpu max)
	;;
ppc64le)
	KARCH=powerpc IMAGE=vmlinux CONSOLE=hvc0
	QEMU=(qemu-system-ppc64 -machine pseries,accel=tcg)
	;;
s390x)
	KARCH=s390 IMAGE=arch/s390/boot/bzImage CONSOLE=ttysclp0
	QEMU=(qemu-system-s390x -machine s390-ccw-virtio,accel=tcg)
	;;
*)
	echo "unknown ARCH '$ARCH' (x86_64, arm64, ppc64le, s390x)" >&2
	exit 1
	;;
esac

# Output directory of one kernel flavour: rs (CONFIG_KHUGEPAGED_RS=y) or c (7.3's C).
kernel_out() { echo "$BUILD_DIR/$ARCH/kernel-$1"; }

kmake() {
	make -C "$SRC" ARCH="$KARCH" "${KMAKE_TOOLS[@]}" "$@"
}
