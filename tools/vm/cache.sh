# SPDX-License-Identifier: GPL-2.0
# The cache that every clone of the repository on this machine shares: downloads and built
# tools (keyed by their pinned versions), the C compiler cache (ccache) and the Rust object
# cache (tools/vm/rustc-cache).  Nothing in it is keyed by a time stamp: a download or a tool
# is named by its version, a compiled object by the contents of everything the compiler read.
# Source it after tools/vm/pins; it reads BUILD_DIR and the clone's top directory `top`.
#
#   KHUGEPAGED_RS_CACHE=DIR      where the cache lives
#                                (default ${XDG_CACHE_HOME:-$HOME/.cache}/khugepaged-rs)
#   KHUGEPAGED_RS_CCACHE=0       compile without the compiler caches (C and Rust); downloads
#                                and tools are still cached
#   KHUGEPAGED_RS_CCACHE_SIZE=S  bound of the C compiler cache (ccache's max_size, default 6G)

CACHE=${KHUGEPAGED_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khugepaged-rs}

# bindgen-cli, built once per pinned version.
BINDGEN_DIR=$CACHE/tools/bindgen-$BINDGEN_VERSION
# Debian packages, under their own file names (which carry the version).
DOWNLOAD_DIR=$CACHE/download

# busybox_path DEBARCH: the static busybox of a foreign guest, Debian's busybox-static of
# $GUEST_SUITE (tools/vm/install-deps puts it there).
busybox_path() { echo "$CACHE/busybox/$GUEST_SUITE/busybox-$1"; }

# compiler_cache_on: whether the compiler caches are in use.
compiler_cache_on() {
	[ "${KHUGEPAGED_RS_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null
}

# The directory under which ccache rewrites absolute paths as paths relative to the
# compiler's working directory: the clone and its build tree, so that two clones in different
# folders compile the same relative command lines and hit each other's entries.
cache_base_dir() {
	local base=$top
	while [ "$base" != / ] && [[ "$BUILD_DIR/" != "$base/"* ]]; do
		base=$(dirname "$base")
	done
	echo "$base"
}

# ccache_wrap COMPILER: the name to call COMPILER by: with the compiler cache on, ccache's
# symlink named after it (ccache then runs the next COMPILER in PATH), kept in the cache so
# that every clone names it alike; one word, as rustc wants its linker.  Without the cache,
# COMPILER itself.
ccache_wrap() {
	local link=$CACHE/bin/$1
	if ! compiler_cache_on; then
		echo "$1"
		return
	fi
	if [ "$(readlink "$link" 2>/dev/null)" != "$(command -v ccache)" ]; then
		mkdir -p "$CACHE/bin"
		ln -sfn "$(command -v ccache)" "$link.$$" && mv -T "$link.$$" "$link"
	fi
	echo "$link"
}

if compiler_cache_on; then
	export CCACHE_DIR=$CACHE/ccache
	export CCACHE_MAXSIZE=${KHUGEPAGED_RS_CCACHE_SIZE:-6G}
	CCACHE_BASEDIR=$(cache_base_dir)
	export CCACHE_BASEDIR
	# Direct mode may use a header written less than a second before the compile (kbuild
	# generates headers just before using them); hits are still keyed by its contents.
	export CCACHE_SLOPPINESS=include_file_mtime,include_file_ctime
	# Compiles with -g (objtool and its libraries, host programs) are otherwise keyed by
	# the absolute working directory, which differs in every clone; their debug information
	# then names the directory of the clone that compiled them, which changes no code.
	export CCACHE_NOHASHDIR=true
	export RUSTC_CACHE_DIR=$CACHE/rustc RUSTC_CACHE_BASEDIR=$CCACHE_BASEDIR
fi
