#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest (tools/vm/run): every guest suite of `make check`, one after the
# other, each framed by "@@suite NAME" and "@@end NAME STATUS SECONDSs" lines for
# tools/vm/summarize (and for the suite times `make check` prints).
#
#   guest-suites.sh rs|c [SUITE-PREFIX...]
#
# Our own tests come first: sysfs_knobs.sh checks the boot defaults.
kernel=$1
shift

want() {
	[ -z "$FILTER" ] && return 0
	for p in $FILTER; do
		case $1 in "$p"*) return 0 ;; esac
	done
	return 1
}
FILTER="$*"

run() {
	name=$1
	shift
	want "$name" || return 0
	echo "@@suite $name"
	start=$(date +%s)
	"$@"
	echo "@@end $name $? $(($(date +%s) - start))s"
}

# 7.3's khugepaged selftest bails out of a whole run when khugepaged collapses a range
# between a test's fault and its MADV_PAGEOUT ("Unexpected huge page" in
# collapse_max_ptes_swap: an upstream race, seen on both kernels), losing every later case.
# Its set-up also bails out when mmap() places the test area away from the address it
# hints without MAP_FIXED ("Failed to allocate VMA at" for anonymous memory, seen on the Rust
# kernel; "mmap(): " and a stale errno for shmem and files, seen on the C kernel on x86_64
# and on the Rust kernel on ppc64le, each in 1 run of many).  A run that bailed out either way
# is run again, up to 3 attempts (other bail-outs are not retried); earlier attempts stay
# in the log as comments.  The race needs khugepaged's context, so only the plain and one
# -s run use it; the madvise context runs for every order.
#
# The selftest works at a fixed address, BASE_ADDR (1 GB), and its mremap(MREMAP_FIXED) calls
# replace whatever is mapped next to it.  Where brk is randomized over 1 GB (arm64, ppc64
# radix), the program's own heap can land there: replaced, its thread-local storage reads
# zero and the program segfaults in strtoul() (seen once on ppc64le, collapse_compound_extreme).
# The peer runs keep brk where the program ends (randomize_va_space 1: stack, mmap and vDSO
# stay randomized), on both kernels.
run_peer() {
	name=$1
	shift
	want "$name" || return 0
	echo "@@suite $name"
	start=$(date +%s)
	aslr=$(cat /proc/sys/kernel/randomize_va_space)
	echo 1 > /proc/sys/kernel/randomize_va_space
	attempt=1
	while :; do
		"$@" > /tmp/peer.out 2>&1
		status=$?
		grep -q '^Bail out! \(Unexpected huge page\|Failed to allocate VMA at\|mmap(): \)' /tmp/peer.out && [ $attempt -lt 3 ] || break
		sed "s/^/# attempt $attempt: /" /tmp/peer.out
		echo "# attempt $attempt bailed out: running $name again"
		attempt=$((attempt + 1))
	done
	cat /tmp/peer.out
	rm -f /tmp/peer.out
	echo "$aslr" > /proc/sys/kernel/randomize_va_space
	echo "@@end $name $status $(($(date +%s) - start))s"
}

# A machine that cannot map PMD-sized pages (s390x without EDAT-1, which QEMU's TCG lacks)
# boots with THP off: khugepaged cannot run, and only that behaviour is tested.
if [ ! -d /sys/kernel/mm/transparent_hugepage ]; then
	echo "# THP is not supported on this machine ($(uname -m)): the kernel turned it off at boot,"
	echo "# so no collapse can run here; testing the boot and the no-THP behaviour only"
	run own/no_thp no_thp "$kernel"
	exit 0
fi

run own/sysfs_knobs sh /bin/sysfs_knobs.sh
run own/thread sh /bin/thread.sh
run own/madv_collapse madv_collapse --expect collapse
run own/collapse_contents collapse_contents
run own/collapse_races collapse_races
run own/mthp_sizes mthp_sizes
run own/collapse_hints collapse_hints
# File and shmem collapse (memfd, shared anonymous, tmpfs): contents, holes, failures.
run own/shmem_collapse shmem_collapse
# Shmem collapse racing truncation and hole punching, under a memcg charge failure, its
# trace events, and a PTE-mapped shmem THP mapped by a PMD in place.
run own/shmem_races shmem_races
# Needs two NUMA nodes: tools/vm/check runs it alone in a boot of its own (run --numa 2).
[ ! -d /sys/devices/system/node/node1 ] || run own/numa_collapse numa_collapse

# 7.3's own selftests: the peer suite.
run_peer peer/khugepaged:anon khugepaged khugepaged:anon
run_peer peer/madvise:anon khugepaged madvise:anon
run_peer peer/-s4:khugepaged:anon khugepaged -s 4 khugepaged:anon
# Once per sub-PMD anonymous order this kernel offers (2 and up): PMD collapse by
# MADV_COLLAPSE of memory faulted in as mTHPs of that order (-s), and khugepaged's mTHP
# collapse to that order (-c).
page_kb=$(awk '/^KernelPageSize:/ { print $2; exit }' /proc/self/smaps)
pmd_kb=$(($(cat /sys/kernel/mm/transparent_hugepage/hpage_pmd_size) / 1024))
order=2
while [ $((page_kb << order)) -lt "$pmd_kb" ]; do
	if [ -d "/sys/kernel/mm/transparent_hugepage/hugepages-$((page_kb << order))kB" ]; then
		run_peer "peer/-s$order:madvise:anon" khugepaged -s "$order" madvise:anon
		run_peer "peer/-c$order:mthp_khugepaged:anon" khugepaged -c "$order" mthp_khugepaged:anon
	fi
	order=$((order + 1))
done
run peer/khugepaged:shmem khugepaged khugepaged:shmem /tmp
run peer/madvise:shmem khugepaged madvise:shmem /tmp
# As 7.3's run_vmtests.sh runs it: shmem faulted in as order-4 mTHPs (-s 4 sets that size's
# shmem_enabled to always), collapsed to a PMD by khugepaged and by MADV_COLLAPSE.  Only
# where the machine offers that size.
if [ -d "/sys/kernel/mm/transparent_hugepage/hugepages-$((page_kb << 4))kB" ]; then
	run_peer peer/-s4:all:shmem khugepaged -s 4 all:shmem
fi
run peer/cow cow
# 7.3's file collapse, as run_vmtests.sh runs it: `all:file DIR` on XFS (PMD-sized large
# folios in the page cache), both contexts, on a file system of its own that the host made
# (tools/vm/xfs-image) and handed over as a virtio disk (tools/vm/run --disk; x86_64).
# Our own file tests (own/file_collapse) run on the same file system.
if want peer/all:file || want own/file_collapse; then
	if [ -b /dev/vda ] && grep -qw xfs /proc/filesystems && mkdir -p /mnt/xfs &&
	   mount -t xfs /dev/vda /mnt/xfs; then
		run_peer peer/all:file khugepaged all:file /mnt/xfs
		run own/file_collapse file_collapse /mnt/xfs
		umount /mnt/xfs
	else
		echo "# peer/all:file and own/file_collapse not run: no XFS disk at /dev/vda (tools/vm/run --disk)"
	fi
fi

# The reclaim flood comes last: it leaves memory fragmented and swap in use, and the suites
# above must meet the same memory on both kernels (with 512 MB PMDs, the peer's collapse_full
# failed after it on the Rust kernel only, its huge pages then needing compaction).
# 7.3 itself crashes under this flood on QEMU's pseries (ppc64le), on the C kernel too
# (`hint_flood --no-hints`): an Oops in interrupt entry within seconds.  Not run there.
if [ "$(uname -m)" = ppc64le ] && want own/hint_flood; then
	echo "# own/hint_flood not run on ppc64le: 7.3 crashes under its flood on QEMU pseries, C kernel too"
else
	run own/hint_flood hint_flood
fi

# The cases are judged on the host (tools/vm/summarize), not by the last suite's status: a
# non-zero exit here means the script itself broke.
exit 0
