#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# thread.sh - check that the "khugepaged" kernel thread runs exactly when
# Linux 7.3's hugepage_enabled() (mm/khugepaged.c) says it should:
#   - global THP "enabled" is always or madvise, or
#   - an anon mTHP size's "enabled" is always or madvise, or inherit while
#     the global one is on, or
#   - shmem PMD-sized THP is possible (shmem_hpage_pmd_enabled() in
#     mm/shmem.c): global shmem_enabled is not deny, and the PMD size's
#     shmem_enabled is always/within_size/advise, or inherit while the
#     global shmem_enabled is not never,
# that it is not restarted when the mode changes between two "on" values,
# that it runs at nice 19, and that the message raising min_free_kbytes for
# THP is rate-limited as 7.3's (10 in 5 s).  All THP settings are restored at the end.
# Must run as root.  Output is kselftest TAP; exit 0 only if nothing failed.

THP=/sys/kernel/mm/transparent_hugepage
PLAN=16

echo "TAP version 13"
if [ ! -f $THP/enabled ]; then
	echo "1..0 # SKIP no $THP/enabled (CONFIG_TRANSPARENT_HUGEPAGE=n?)"
	exit 0
fi
echo "1..$PLAN"

num=0
failed=0
serr=

# report MSG NAME: pass if MSG is empty.  Errors from the preceding setting
# changes ($serr) make the test fail too.
report() {
	num=$((num + 1))
	msg=$1$serr
	serr=
	if [ -z "$msg" ]; then
		echo "ok $num - $2"
	else
		echo "not ok $num - $2"
		echo "# ${msg#; }"
		failed=$((failed + 1))
	fi
}

skip() {
	num=$((num + 1))
	serr=
	echo "ok $num - $1 # SKIP $2"
}

# The selected word of a "a [b] c" style file.
mode() {
	sed -n 's/.*\[\([a-z_]*\)\].*/\1/p' "$1" 2>/dev/null
}

# setm FILE MODE: change a setting; failures are reported by the next test.
setm() {
	err=$(echo "$2" 2>&1 >"$1")
	got=$(mode "$1")
	[ "$got" = "$2" ] || serr="$serr; setting $1 to $2 failed ($err), it is '$got'"
}

pmd_kb=$(($(cat $THP/hpage_pmd_size) / 1024))
PMD_SHMEM=$THP/hugepages-${pmd_kb}kB/shmem_enabled
anon_sizes=
for f in $THP/hugepages-*kB/enabled; do
	[ -f "$f" ] && anon_sizes="$anon_sizes $f"
done
shmem_sizes=
for f in $THP/hugepages-*kB/shmem_enabled; do
	[ -f "$f" ] && shmem_sizes="$shmem_sizes $f"
done
have_shmem=
[ -f $THP/shmem_enabled ] && have_shmem=1

# 1 if 7.3 would run khugepaged with the current settings, else 0.
predict() {
	g=$(mode $THP/enabled)
	case $g in always|madvise) echo 1; return;; esac
	for f in $anon_sizes; do
		case $(mode "$f") in
		always|madvise) echo 1; return;;
		inherit) case $g in always|madvise) echo 1; return;; esac;;
		esac
	done
	if [ -n "$have_shmem" ]; then
		s=$(mode $THP/shmem_enabled)
		p=inherit	# what kernels without per-size shmem controls do
		[ -f "$PMD_SHMEM" ] && p=$(mode "$PMD_SHMEM")
		if [ "$s" != deny ]; then
			case $p in
			always|within_size|advise) echo 1; return;;
			inherit) [ "$s" != never ] && { echo 1; return; };;
			esac
		fi
	fi
	echo 0
}

settings() {
	s="enabled=$(mode $THP/enabled)"
	[ -n "$have_shmem" ] && s="$s shmem_enabled=$(mode $THP/shmem_enabled)"
	for f in $anon_sizes $shmem_sizes; do
		m=$(mode "$f")
		[ "$m" = never ] || s="$s ${f#$THP/}=$m"
	done
	echo "$s"
}

# PIDs of tasks whose comm is exactly "khugepaged".
khugepaged_pids() {
	for c in /proc/[0-9]*/comm; do
		n=
		read -r n 2>/dev/null <"$c"
		[ "$n" = khugepaged ] && { c=${c%/comm}; echo "${c#/proc/}"; }
	done
}

# wait_threads N: the kernel starts/stops the thread synchronously with the
# sysfs write, but a stopped thread may take a moment to leave /proc, so
# poll for up to 5 s until exactly N exist.  Sets $pids and $nthreads.
wait_threads() {
	want=$1 i=0
	while :; do
		pids=$(khugepaged_pids)
		set -- $pids
		nthreads=$#
		[ "$nthreads" -eq "$want" ] && return 0
		i=$((i + 1))
		[ $i -ge 50 ] && return 1
		sleep 0.1 2>/dev/null || sleep 1
	done
}

# expect N NAME: exactly N khugepaged threads with the current settings.
expect() {
	msg=
	wait_threads "$1" ||
		msg="expected $1 khugepaged thread(s), found $nthreads (pids: $(echo $pids)) with $(settings)"
	report "$msg" "$2"
}

all_off() {
	setm $THP/enabled never
	for f in $anon_sizes $shmem_sizes; do
		setm "$f" never
	done
	[ -n "$have_shmem" ] && setm $THP/shmem_enabled never
}

# Per-size controls first: with the global shmem_enabled at "force", the
# kernel refuses "inherit" for non-PMD shmem sizes.
saved=
for f in $anon_sizes $shmem_sizes ${have_shmem:+$THP/shmem_enabled} $THP/enabled; do
	saved="$saved $f=$(mode "$f")"
done

restore() {
	for fm in $saved; do
		echo "${fm#*=}" 2>/dev/null >"${fm%=*}"
	done
}
trap restore EXIT
trap 'exit 130' INT TERM

echo "# initial: $(settings)"

# 1: the thread state at start agrees with the rule.
init_want=$(predict)
wait_threads "$init_want"
init_n=$nthreads
msg=
[ "$init_n" -le 1 ] || msg="more than one khugepaged thread: $(echo $pids)"
[ "$init_n" = "$init_want" ] ||
	msg="$msg; expected $init_want khugepaged thread(s) with $(settings), found $init_n"
report "$msg" "initial thread state matches hugepage_enabled()"

# 2: nothing enabled anywhere.
all_off
expect 0 "no thread when anon, mTHP and shmem THP are all never"

# 3-6: the global mode; the thread must survive always -> madvise.
setm $THP/enabled always
expect 1 "one thread with enabled=always"
pid_always=$pids

msg= nice=
if [ "$nthreads" -eq 1 ]; then
	i=0
	while :; do
		set -- $(cat /proc/$pid_always/stat 2>/dev/null)
		[ $# -ge 19 ] && { shift 18; nice=$1; }
		[ "$nice" = 19 ] || [ $i -ge 50 ] && break
		i=$((i + 1))
		sleep 0.1 2>/dev/null || sleep 1
	done
	[ "$nice" = 19 ] || msg="khugepaged (pid $pid_always) has nice '$nice', expected 19"
else
	msg="no single khugepaged thread to look at"
fi
report "$msg" "khugepaged runs at nice 19"

setm $THP/enabled madvise
msg=
if ! wait_threads 1; then
	msg="expected 1 khugepaged thread with $(settings), found $nthreads"
elif [ "$pids" != "$pid_always" ]; then
	msg="pid changed from '$pid_always' to '$pids': thread was restarted"
fi
report "$msg" "one thread with enabled=madvise, not restarted after always"

setm $THP/enabled never
expect 0 "no thread after enabled=never"

# 7-9: a per-size anon (mTHP) control alone.  Prefer a small size.
small=
for f in $anon_sizes; do
	case $f in */hugepages-${pmd_kb}kB/*) continue;; esac
	[ -z "$small" ] && small=$f
	case $f in */hugepages-64kB/*) small=$f;; esac
done
[ -z "$small" ] && small=${anon_sizes# }
small=${small%% *}
if [ -n "$small" ]; then
	name=${small#$THP/}
	name=${name%/enabled}
	setm "$small" always
	expect 1 "one thread with enabled=never, $name=always"
	setm "$small" madvise
	expect 1 "one thread with enabled=never, $name=madvise"
	setm "$small" inherit
	expect 0 "no thread with enabled=never, $name=inherit"
	setm "$small" never
else
	for m in always madvise inherit; do
		skip "mTHP $m" "no per-size anon enabled controls"
	done
fi

# 10-14: shmem, following shmem_hpage_pmd_enabled().
if [ -n "$have_shmem" ] && [ -f "$PMD_SHMEM" ]; then
	p=${PMD_SHMEM#$THP/}
	p=${p%/shmem_enabled}
	setm $THP/shmem_enabled always
	expect 0 "no thread with shmem_enabled=always, $p shmem_enabled=never"
	setm "$PMD_SHMEM" inherit
	expect 1 "one thread with shmem_enabled=always, $p shmem_enabled=inherit"
	setm $THP/shmem_enabled never
	expect 0 "no thread with shmem_enabled=never, $p shmem_enabled=inherit"
	setm "$PMD_SHMEM" advise
	expect 1 "one thread with shmem_enabled=never, $p shmem_enabled=advise"
	setm $THP/shmem_enabled deny
	expect 0 "no thread with shmem_enabled=deny, $p shmem_enabled=advise"
	setm "$PMD_SHMEM" never
	setm $THP/shmem_enabled never
else
	for c in always/never always/inherit never/inherit never/advise deny/advise; do
		skip "shmem $c" "no shmem_enabled or hugepages-${pmd_kb}kB/shmem_enabled"
	done
fi

# 15: 7.3 rate-limits the message of set_recommended_min_free_kbytes(),
# which it prints when THP raises a min_free_kbytes the user set.  Each
# never -> madvise raises it again from the default never sets.
setm $THP/enabled never
min_free=$(cat /proc/sys/vm/min_free_kbytes)
echo 1024 > /proc/sys/vm/min_free_kbytes
before=$(dmesg | grep -c "raising min_free_kbytes")
i=0
while [ $i -lt 15 ]; do
	echo madvise > $THP/enabled
	echo never > $THP/enabled
	i=$((i + 1))
done
raised=$(($(dmesg | grep -c "raising min_free_kbytes") - before))
echo "$min_free" > /proc/sys/vm/min_free_kbytes
msg=
[ "$raised" -ge 1 ] && [ "$raised" -le 10 ] ||
	msg="15 raises logged $raised messages, expected 1 to 10"
report "$msg" "raising min_free_kbytes for THP is logged rate-limited"

# 16: everything back as it was, and the thread with it.
restore
msg=
for fm in $saved; do
	got=$(mode "${fm%=*}")
	[ "$got" = "${fm#*=}" ] || msg="$msg; ${fm%=*}: expected ${fm#*=}, is '$got'"
done
wait_threads "$init_n" ||
	msg="$msg; expected $init_n khugepaged thread(s) as initially, found $nthreads"
report "$msg" "settings restored, thread state as initially"

echo "# $failed of $num tests failed"
[ "$failed" -eq 0 ]
