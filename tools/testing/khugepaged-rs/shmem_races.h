/* SPDX-License-Identifier: GPL-2.0 */
/* What the files of shmem_races share (shmem_races.c says what it tests). */
#ifndef SHMEM_RACES_H
#define SHMEM_RACES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shmem_util.h"
#include "tap_count.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define TRACING "/sys/kernel/tracing"
#define EVENTS TRACING "/events/huge_memory"
#define CGROUP "/sys/fs/cgroup"
#define MEMCG CGROUP "/shmem_races"
#define MNT "/tmp/shmem_races"

extern bool mounted;

enum kind { K_MEMFD, K_FILE };
extern const char *const kind_name[];

/* shmem_races.c: a file of a kind (a memfd called name, or a file on MNT). */
int open_kind(enum kind kind, const char *name, size_t size);

/* shmem_races_trace.c: the huge_memory file collapse events; cases 4 and 5. */
bool have_events(void);
bool trace_filename(int fd, char *out, size_t len);
void trace_on(bool on);
bool read_trace(void);
bool one_event(const char *ev, const char *fname, pid_t pid, char *line, size_t len);
bool field_is(const char *line, const char *key, const char *want);
bool field_num(const char *line, const char *key, int base, unsigned long long want);
void test_trace_full(void);
void test_trace_page_count(void);
void test_trace_swap(void);
void test_trace_khugepaged(void);
void test_pte_mapped(enum kind kind, bool with_trace);

/* shmem_races_memcg.c: case 3. */
void test_memcg(enum kind kind);

#endif
