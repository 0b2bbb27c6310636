/* SPDX-License-Identifier: GPL-2.0 */
/* What the files of shmem_races share (shmem_races.c says what it tests). */
#ifndef SHMEM_RACES_H
#define SHMEM_RACES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tap_count.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define KHUGEPAGED THP_DIR "/khugepaged"
#define TRACING "/sys/kernel/tracing"
#define EVENTS TRACING "/events/huge_memory"
#define CGROUP "/sys/fs/cgroup"
#define MEMCG CGROUP "/shmem_races"
#define MNT "/tmp/shmem_races"

extern long pmd_kb;
extern bool mounted;

enum kind { K_MEMFD, K_FILE };
extern const char *const kind_name[];

/* A shared mapping of len bytes of fd at a PMD boundary, fenced by PROT_NONE. */
struct map {
	char *base;
	size_t total;
	char *p;
};

/* shmem_races.c: the files, their mappings and the model of their pages. */
int open_kind(enum kind kind, const char *name, size_t size);
int map_at_pmd(struct map *m, int fd, size_t len);
void unmap_pmd(struct map *m);
bool page_matches(const char *pg, size_t i, uint64_t seed, const char *how);
bool check_pread(int fd, const uint64_t *model, size_t n);
bool check_mapped(char *p, const uint64_t *model, size_t n);
bool holes_are(int fd, const bool *want, size_t n);
int collapse(char *p);
bool shmem_pmd_mapped(char *p, long want_kb);

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
