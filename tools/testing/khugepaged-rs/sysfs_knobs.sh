#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# sysfs_knobs.sh - check /sys/kernel/mm/transparent_hugepage/khugepaged/*
# against the Linux 7.3 ABI: the exact set of files, their modes, the boot
# defaults, the kstrtouint()/kstrtoul() parsing and range rules of every
# writable knob, and that the two statistics are read-only.
#
# Must run as root, before anything else changed the knobs (the defaults are
# checked first).  Every knob is put back to its initial value at the end.
# Output is kselftest TAP; exit status 0 only if no test failed.

THP=${THP:-/sys/kernel/mm/transparent_hugepage}
KDIR=$THP/khugepaged
KNOBS="defrag max_ptes_none max_ptes_swap max_ptes_shared pages_to_scan
pages_collapsed full_scans scan_sleep_millisecs alloc_sleep_millisecs"
RW_KNOBS="defrag max_ptes_none max_ptes_swap max_ptes_shared pages_to_scan
scan_sleep_millisecs alloc_sleep_millisecs"
RO_KNOBS="pages_collapsed full_scans"

echo "TAP version 13"

bail() { echo "Bail out! $*"; exit 1; }

[ -d "$KDIR" ] || bail "$KDIR does not exist"

# HPAGE_PMD_NR = PMD size / base page size; the page size comes from the
# first KernelPageSize line of our own smaps (in kB).
pmd_size=$(cat $THP/hpage_pmd_size 2>/dev/null)
page_kb=
while read -r key val unit; do
	if [ "$key" = KernelPageSize: ]; then page_kb=$val; break; fi
done </proc/self/smaps
case "$pmd_size$page_kb" in
''|*[!0-9]*) bail "cannot get hpage_pmd_size ('$pmd_size') or page size ('$page_kb')";;
esac
NR=$((pmd_size / (page_kb * 1024)))
echo "# hpage_pmd_size=$pmd_size page=${page_kb}kB HPAGE_PMD_NR=$NR"

# 5000 nines: longer than a page, so sysfs truncates it to PAGE_SIZE bytes,
# which still overflows.
nines=9999999999
nines=$nines$nines$nines$nines$nines$nines$nines$nines$nines$nines
nines=$nines$nines$nines$nines$nines$nines$nines$nines$nines$nines
huge=$nines$nines$nines$nines$nines

# Every test goes through t(): the body below runs twice, first only counting
# (for the plan line), then for real.  Code outside t() must not write.
num=0
failed=0
counting=1
t() {
	num=$((num + 1))
	[ -n "$counting" ] && return 0
	"$@"
}

# report MSG NAME: pass if MSG is empty, otherwise fail and print MSG.
report() {
	if [ -z "$1" ]; then
		echo "ok $num - $2"
	else
		echo "not ok $num - $2"
		echo "# $1" | sed 's/^# ; /# /'
		failed=$((failed + 1))
	fi
}

isnum() {
	case "$1" in ''|*[!0-9]*) return 1;; esac
}

# The knobs are read and written with shell builtins and redirections only:
# under TCG every fork of the shell costs milliseconds, and the cases below
# read and write well over a thousand times.

# rd KNOB: sets $val to KNOB's contents, every line of it (one value is one
# line; anything else compares unequal), or to an error text.
rd() {
	val= _first=1
	if ! { while IFS= read -r _line || [ -n "$_line" ]; do
			if [ $_first = 1 ]; then val=$_line; else val="$val
$_line"; fi
			_first=0
		done; } 2>/dev/null <"$KDIR/$1"; then
		val="cannot read $KDIR/$1"
	fi
}

# wr KNOB STRING [nl]: write STRING, followed by a newline when "nl", in a
# single write(2).  Busybox echo reports a failed write on stderr with the
# errno text (its printf builtin does not), so the message lands in $err; so
# does the shell's, when the file cannot be opened for writing.
errf=${TMPDIR:-/tmp}/sysfs_knobs.$$.err
wr() {
	if [ "$3" = nl ]; then
		echo "$2" 2>"$errf" >"$KDIR/$1"
	else
		echo -n "$2" 2>"$errf" >"$KDIR/$1"
	fi
	_status=$?
	err=
	IFS= read -r err <"$errf"
	return $_status
}

# errno_is NAME TEXT: does the error text match errno NAME (glibc, musl and
# uclibc spell ERANGE differently)?
errno_is() {
	case "$1:$2" in
	EINVAL:*"Invalid argument"*) return 0;;
	EACCES:*"Permission denied"*) return 0;;
	ERANGE:*"out of range"*|ERANGE:*"not representable"*) return 0;;
	esac
	return 1
}

# How a written string looks in messages (long ones abbreviated): `label V
# [nl]` sets $shown, `show V [nl]` prints it.
label() {
	s=$1
	[ ${#s} -gt 40 ] && s="${s%"${s#??????????}"}...(${#s} chars)"
	if [ "$2" = nl ]; then shown="'$s\\n'"; else shown="'$s'"; fi
}
show() {
	label "$@"
	printf '%s' "$shown"
}

setval() {
	wr "$1" "$2" nl && rd "$1" && [ "$val" = "$2" ]
}

# ------------------------------------------------------------------ tests

check_files() {
	# khugepaged-rs adds its collapse-hint files and mmap_lock_busy after 7.3's.
	extra=
	[ -e "$KDIR/hint_stats" ] && extra="hints hint_capacity hint_stats mmap_lock_busy"
	want=$(for k in $KNOBS $extra; do echo "$k"; done | sort)
	have=$(ls -1A "$KDIR" | sort)
	msg=
	[ "$want" = "$have" ] ||
		msg="expected: $(echo $want); found: $(echo $have)"
	report "$msg" "exactly the 9 khugepaged knobs exist (and khugepaged-rs's 4 own files)"
}

check_mode() {
	got=$(stat -c %a "$KDIR/$1" 2>&1)
	msg=
	[ "$got" = "$2" ] || msg="mode of $1: expected $2, got $got"
	report "$msg" "$1 has mode $2"
}

check_default() {
	eval "got=\$init_$1"
	msg=
	if [ "$2" = number ]; then
		isnum "$got" || msg="$1: expected an unsigned decimal, read $(show "$got")"
	else
		[ "$got" = "$2" ] || msg="$1: expected default $2, read $(show "$got")"
	fi
	[ "$2" = number ] && set -- "$1" "a decimal number"
	report "$msg" "$1 boot value is $2"
}

# accept KNOB VALUE EXPECTED: writing VALUE, with and without a trailing
# newline, succeeds and reads back as EXPECTED.  The knob is first set to a
# different valid value, so a write that silently did nothing is caught.
accept() {
	k=$1 v=$2 exp=$3 msg=
	if [ "$k" = defrag ]; then
		other=$((1 - exp))
	elif [ "$exp" = 2 ]; then
		other=3
	else
		other=2
	fi
	for nl in plain nl; do
		if ! setval "$k" "$other"; then
			msg="$msg; could not set $k to $other: $err"
			continue
		fi
		if ! wr "$k" "$v" $nl; then
			msg="$msg; wrote $(show "$v" $nl): expected success, failed: $err"
			continue
		fi
		rd "$k"
		got=$val
		[ "$got" = "$exp" ] ||
			msg="$msg; wrote $(show "$v" $nl): expected to read $exp, read $(show "$got")"
	done
	label "$v"
	report "$msg" "$k accepts $shown -> $exp"
}

# reject KNOB ERRNO VALUE [MODES [LABEL]]: writing VALUE fails with ERRNO and
# leaves the knob alone.  MODES says whether to write it with a newline
# ("nl"), without ("plain") or both (default).  defrag is tried from both of
# its values so that a prefix parsed as 0 or as non-zero would be noticed.
reject() {
	k=$1 e=$2 v=$3 modes=${4:-"plain nl"} msg=
	label "$3"
	name=${5:-$shown}
	bases=7
	[ "$k" = defrag ] && bases="0 1"
	for b in $bases; do
		for nl in $modes; do
			if ! setval "$k" "$b"; then
				msg="$msg; could not set $k to $b: $err"
				continue
			fi
			if wr "$k" "$v" $nl; then
				msg="$msg; wrote $(show "$v" $nl): expected $e, write succeeded"
			elif ! errno_is "$e" "$err"; then
				msg="$msg; wrote $(show "$v" $nl): expected $e, got: $err"
			fi
			rd "$k"
			got=$val
			[ "$got" = "$b" ] ||
				msg="$msg; wrote $(show "$v" $nl): expected $b to stay, read $(show "$got")"
		done
	done
	report "$msg" "$k rejects $name with $e"
}

# Writing a statistic must fail at open time (kernfs refuses a write open of
# a file without store, even for root) and must not change it.  The value
# may legitimately grow meanwhile, but never to what we wrote.
check_ro() {
	k=$1 msg=
	rd "$k"
	before=$val
	if ! isnum "$before"; then
		report "$k: read '$before'" "$k is read-only"
		return
	fi
	w=$((before + 12345))
	for nl in plain nl; do
		if wr "$k" "$w" $nl; then
			msg="$msg; wrote $(show "$w" $nl): expected EACCES, write succeeded"
		elif ! errno_is EACCES "$err"; then
			msg="$msg; wrote $(show "$w" $nl): expected EACCES, got: $err"
		fi
	done
	rd "$k"
	after=$val
	if ! isnum "$after" || [ "$after" -lt "$before" ] || [ "$after" -ge "$w" ]; then
		msg="$msg; value changed from $before to $(show "$after") (wrote $w)"
	fi
	report "$msg" "$k is read-only (EACCES) and unchanged"
}

restore() {
	for k in $RW_KNOBS; do
		eval "v=\$init_$k"
		isnum "$v" && wr "$k" "$v" nl
	done
}

check_restore() {
	restore
	msg=
	for k in $RW_KNOBS; do
		eval "v=\$init_$k"
		rd "$k"
		got=$val
		[ "$got" = "$v" ] || msg="$msg; $k: expected initial '$v', read $(show "$got")"
	done
	report "$msg" "initial values restored"
}

# Per-knob parsing/range cases.
knob_cases() {
	k=$1
	big=EINVAL
	# single_hugepage_flag_store() passes kstrtoul()'s -ERANGE through;
	# the other stores turn every parse error into -EINVAL.
	[ "$k" = defrag ] && big=ERANGE

	# Common kstrtox rules: optional '+', decimal digits, one optional
	# newline, nothing else.
	for v in abc 5abc " 5" "5 " -1 -0 0x10 1.5 "+" "++5" "5+" 1e3; do
		t reject "$k" EINVAL "$v"
	done
	t reject "$k" EINVAL "" nl "'\\n'"
	t reject "$k" EINVAL "5
" nl "'5\\n\\n'"
	t reject "$k" $big "$huge"
	t reject "$k" $big 18446744073709551616
	t reject "$k" EINVAL 18446744073709551615

	case $k in
	defrag)
		t accept "$k" 0 0
		t accept "$k" 1 1
		t accept "$k" +1 1
		t accept "$k" 01 1
		t accept "$k" 00 0
		t accept "$k" +0 0
		t reject "$k" EINVAL 2
		t reject "$k" EINVAL +2
		t reject "$k" EINVAL 4294967296
		;;
	max_ptes_*)
		t accept "$k" 0 0
		t accept "$k" 1 1
		t accept "$k" $((NR - 1)) $((NR - 1))
		t accept "$k" +5 5
		t accept "$k" 007 7
		t reject "$k" EINVAL $NR
		t reject "$k" EINVAL $((NR * 2))
		t reject "$k" EINVAL 4294967295
		t reject "$k" EINVAL 4294967296
		;;
	pages_to_scan)
		t accept "$k" 1 1
		t accept "$k" +5 5
		t accept "$k" $((NR * 8)) $((NR * 8))
		t accept "$k" 4294967295 4294967295
		t reject "$k" EINVAL 0
		t reject "$k" EINVAL +0
		t reject "$k" EINVAL 00
		t reject "$k" EINVAL 4294967296
		;;
	*_sleep_millisecs)
		t accept "$k" 0 0
		t accept "$k" 1 1
		t accept "$k" +5 5
		t accept "$k" 4294967295 4294967295
		t reject "$k" EINVAL 4294967296
		;;
	esac
}

body() {
	t check_files
	for k in $KNOBS; do
		mode=644
		case " $RO_KNOBS " in *" $k "*) mode=444;; esac
		t check_mode "$k" $mode
	done

	t check_default defrag 1
	t check_default max_ptes_none $((NR - 1))
	t check_default max_ptes_swap $((NR / 8))
	t check_default max_ptes_shared $((NR / 2))
	t check_default pages_to_scan $((NR * 8))
	t check_default scan_sleep_millisecs 10000
	t check_default alloc_sleep_millisecs 60000
	t check_default pages_collapsed number
	t check_default full_scans number

	for k in $RW_KNOBS; do
		knob_cases "$k"
	done
	for k in $RO_KNOBS; do
		t check_ro "$k"
	done
	# khugepaged-rs's count of collapses left for later because the mmap lock was busy.
	if [ -e "$KDIR/mmap_lock_busy" ]; then
		t check_mode mmap_lock_busy 444
		t check_ro mmap_lock_busy
	fi
	t check_restore
}

# Snapshot everything before the first write.
for k in $KNOBS; do
	rd "$k"
	eval "init_$k=\$val"
done
trap 'restore; rm -f "$errf"' EXIT
trap 'exit 130' INT TERM

body
echo "1..$num"
num=0
counting=
body

echo "# $failed of $num tests failed"
[ "$failed" -eq 0 ]
