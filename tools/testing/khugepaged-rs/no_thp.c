// SPDX-License-Identifier: GPL-2.0
/*
 * no_thp - a kernel on a machine without transparent huge pages.
 *
 *   no_thp rs|c
 *
 * Some machines cannot map PMD-sized pages at all: s390x without EDAT-1,
 * which QEMU's TCG does not emulate, is one.  There the kernel turns THP off
 * at boot, and khugepaged must stay out of the way: no thread, no sysfs
 * directory, MADV_COLLAPSE refused with EINVAL and the memory left as it was.
 * The Rust kernel must still carry khugepaged-rs (its hint entry point is in
 * kallsyms; the C kernel has no such symbol), so that this is a test of the
 * Rust kernel's boot path, not of an empty build.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"

#include "guest_util.h"
#include "thp_util.h"

/* Whether /proc/kallsyms names the symbol (KALLSYMS lists text symbols). */
static bool in_kallsyms(const char *sym)
{
	char line[256], name[200];
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%*s %*s %199s", name) == 1 && !strcmp(name, sym);
	fclose(f);
	return found;
}

/* Whether a process whose comm is exactly name exists. */
static bool have_thread(const char *name)
{
	char path[300], comm[64];
	struct dirent *d;
	bool found = false;
	DIR *dir = opendir("/proc");

	if (!dir)
		return false;
	while (!found && (d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		found = !read_line(path, comm, sizeof(comm)) && !strcmp(comm, name);
	}
	closedir(dir);
	return found;
}

int main(int argc, char **argv)
{
	const char *kernel = argc > 1 ? argv[1] : "";
	size_t len = 4UL << 20;
	uint64_t seed = 0x0e0a1b2c3d4e5f60ULL;
	bool rs = !strcmp(kernel, "rs");
	char *p;
	int ret, err;

	if (!rs && strcmp(kernel, "c"))
		ksft_exit_fail_msg("usage: no_thp rs|c\n");
	page_size = sysconf(_SC_PAGESIZE);

	ksft_print_header();
	ksft_set_plan(5);

	ksft_test_result(access(THP_DIR, F_OK) && errno == ENOENT,
			 "THP is off: %s does not exist\n", THP_DIR);
	ksft_test_result(!have_thread("khugepaged"), "no khugepaged thread runs\n");
	if (rs)
		ksft_test_result(in_kallsyms("khugepaged_add_collapse_hint"),
				 "khugepaged-rs is built in (kallsyms has khugepaged_add_collapse_hint)\n");
	else
		ksft_test_result(!in_kallsyms("khugepaged_add_collapse_hint") &&
				 in_kallsyms("khugepaged_enter_vma"),
				 "7.3's C khugepaged is built in, not khugepaged-rs\n");

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ksft_exit_fail_perror("mmap");
	fill(p, len, seed);
	ret = madvise(p, len, MADV_COLLAPSE);
	err = errno;
	if (ret != -1 || err != EINVAL)
		ksft_print_msg("madvise returned %d (%s), expected -1 (EINVAL)\n", ret,
			       ret ? strerror(err) : "no error");
	ksft_test_result(ret == -1 && err == EINVAL, "MADV_COLLAPSE fails with EINVAL\n");
	ksft_test_result(intact(p, len, seed), "the memory is intact after MADV_COLLAPSE\n");
	munmap(p, len);
	ksft_finished();
}
