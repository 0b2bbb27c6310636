// SPDX-License-Identifier: GPL-2.0
/* What the shmem collapse tests share: see shmem_util.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kselftest.h"

#include "guest_util.h"
#include "shmem_util.h"
#include "thp_util.h"

static const char *const counter_names[C_NR] = {
	"thp_collapse_alloc", "thp_collapse_alloc_failed", "nr_shmem_hugepages",
	"nr_file_pages", "nr_shmem", "thp_file_mapped", "size collapse_alloc",
};

void stat_refresh(void)
{
	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		ksft_print_msg("stat_refresh: %s\n", strerror(errno));
}

void read_counters(struct counters *c)
{
	char path[256];
	int i;

	stat_refresh();
	for (i = 0; i < C_SIZE_ALLOC; i++)
		c->v[i] = vmstat(counter_names[i]);
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%zukB/stats/collapse_alloc",
		 pmd_size >> 10);
	c->v[C_SIZE_ALLOC] = read_ulong(path);
}

bool counters_moved(const struct counters *a, const long *want)
{
	struct counters b;
	bool ok = true;
	char msg[512];
	int i, n = 0;

	read_counters(&b);
	for (i = 0; i < C_NR; i++) {
		long d = b.v[i] - a->v[i];

		n += snprintf(msg + n, sizeof(msg) - n, " %s %+ld", counter_names[i], d);
		if (want[i] != ANY && d != want[i]) {
			ksft_print_msg("%s moved by %ld, expected %ld\n", counter_names[i], d,
				       want[i]);
			ok = false;
		}
	}
	ksft_print_msg("deltas:%s\n", msg);
	return ok;
}

bool want_err(int err, int want, const char *what)
{
	if (err == want)
		return true;
	ksft_print_msg("%s: MADV_COLLAPSE returned %s, expected %s\n", what,
		       err ? strerror(err) : "0", want ? strerror(want) : "0");
	return false;
}

bool swap_on(void)
{
	char buf[4096], *nl;

	/* The header line, then one line per swap device. */
	return !read_file("/proc/swaps", buf, sizeof(buf)) && (nl = strchr(buf, '\n')) && nl[1];
}
