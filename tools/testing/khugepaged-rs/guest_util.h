/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the khugepaged-rs guest programs. */
#ifndef KHUGEPAGED_RS_GUEST_UTIL_H
#define KHUGEPAGED_RS_GUEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* CLOCK_MONOTONIC, in seconds. */
double now(void);
/* Reads a whole file (up to len - 1 bytes) into buf, NUL-terminated; 0 or -1. */
int read_file(const char *path, char *buf, size_t len);
/* The same, cut at the first newline. */
int read_line(const char *path, char *buf, size_t len);
/* The number a (sysfs) file holds, or (unsigned long)-1 if it cannot be read. */
unsigned long read_ulong(const char *path);
/* Writes s to a (sysfs) file in one write(); 0 or -1. */
int write_file(const char *path, const char *s);
/*
 * Empties the ftrace buffer.  Only an open with O_TRUNC does: a plain write
 * of nothing to the trace file leaves it as it was.
 */
int clear_trace(void);
/* A /proc/vmstat counter, or (unsigned long)-1 if it cannot be read. */
unsigned long vmstat(const char *name);
/* The khugepaged thread's pid, or 0 if it does not run. */
pid_t khugepaged_pid(void);
/*
 * A field of /proc/meminfo text in buf, in kB, or -1.  field includes the
 * colon, and a leading "\n" where its name ends another's ("\nMemFree:").
 */
long meminfo_field(const char *buf, const char *field);
/* The same, read now: meminfo_kb("MemTotal:"). */
long meminfo_kb(const char *field);
/* A field (kB; "ShmemPmdMapped") of the VMA containing addr in /proc/self/smaps, or -1. */
long smaps_kb(void *addr, const char *field);
/* AnonHugePages (kB) of the VMA containing addr, from /proc/self/smaps, or -1. */
long anon_huge_kb(void *addr);

/*
 * Saves the current value of a sysfs setting (the bracketed word of
 * "a [b] c" files, else the text read) and writes value; 0, or -1 with errno
 * set.  Saved settings are written back, newest first, by restore_settings().
 */
int set_setting(const char *path, const char *value);
void restore_settings(void);
/* Runs restore_settings() at exit, and on SIGINT or SIGTERM. */
void restore_settings_at_exit(void);

/* One counter of khugepaged-rs's khugepaged/hint_stats, or -1 if it cannot be read. */
long hint_stat(const char *name);
#define LRU_GEN "/sys/kernel/debug/lru_gen"
/*
 * Runs MGLRU aging (the page-table walk, walk_mm()) once on node 0 of the
 * memcg at memcg_path ("/" is the root) through /sys/kernel/debug/lru_gen;
 * 0, or -1 with errno set.
 */
int lru_gen_age(const char *memcg_path);
/* MGLRU's switch and capabilities: "y" turns it on, reading gives 0x0001 and up. */
#define LRU_GEN_ENABLED "/sys/kernel/mm/lru_gen/enabled"
/*
 * Whether MGLRU's aging walks page tables (walk_mm()) on this machine: only
 * where the MMU sets access bits itself (arch_has_hw_pte_young(), e.g. not
 * powerpc), shown as capability 0x0002 of LRU_GEN_ENABLED.
 * caps gets that file's text, for messages.
 */
bool lru_gen_walks(char *caps, size_t len);

/* Kernel memory, for tests that check it is flat across a load. */
struct mem_snap {
	long mm_structs;	/* active mm_struct objects, -1 without /proc/slabinfo */
	long sunreclaim, page_tables, kernel_stack, anon, swap, used;	/* kB */
};
/* Waits up to a minute for the anonymous memory and swap of exited processes to be freed. */
void wait_teardown(void);
/*
 * Once exited processes are torn down (wait_teardown()), drops caches and
 * shrinks every slab cache (which also empties KASAN's quarantine), then reads
 * the counts.
 */
void mem_snapshot(struct mem_snap *s);
/* Is `after` within `slack` of `before` (growth only)?  Prints both. */
bool mem_flat(const char *what, long before, long after, long slack, const char *unit);
/* Every count of two snapshots, each within the slack a flood or soak may leave. */
bool mem_all_flat(const struct mem_snap *s0, const struct mem_snap *s1);

#endif
