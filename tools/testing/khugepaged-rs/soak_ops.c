// SPDX-License-Identifier: GPL-2.0
/*
 * The soak's worker operations on its anonymous region: fork, exit, mremap,
 * mprotect, madvise, userfaultfd, migration (soak.c says what the soak does).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "../../../mm/gup_test.h"

#include "guest_util.h"
#include "thp_util.h"
#include "soak.h"

/* ------------------------------------------------ worker operations */

void op_fork(struct worker *w)
{
	size_t first, n;
	int status;
	pid_t pid;

	pick(w, &first, &n);
	note(w, OP_fork_cow, first, n);
	pid = fork();
	if (pid == 0) {
		/* The model as it was at the fork; CoW some pages on the way out. */
		thp_util_reopen_pagemap();
		if (!check_pages(w, 0, w->npages, "child after fork"))
			_exit(1);
		write_pages(w, first, n);
		if (rnd_below(2))
			collapse_checked("fork child", w->p, w->len);
		_exit(check_pages(w, 0, w->npages, "child after CoW") ? 0 : 1);
	}
	if (pid < 0)
		return;
	/* The parent's own copies, while the child reads. */
	pick(w, &first, &n);
	write_pages(w, first, n);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("worker %d: fork child failed (status %#x)\n", w->id, status);
}

/*
 * A process that maps, registers with khugepaged and exits, while we collapse
 * its memory with process_madvise().
 */
void op_exit(struct worker *w)
{
	struct region r;
	int fds[2], fd;
	pid_t pid;

	note(w, OP_exit, 0, 0);
	if (pipe(fds))
		return;
	pid = fork();
	if (pid == 0) {
		if (map_region(&r, 2 * pmd_size))
			_exit(0);
		madvise(r.p, r.len, MADV_HUGEPAGE);
		fill(r.p, r.len, 0x5a);
		if (write(fds[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		usleep(rnd_below(2000));
		_exit(0);
	}
	close(fds[1]);
	if (pid > 0 && read(fds[0], &r, sizeof(r)) == sizeof(r)) {
		struct iovec v = { r.p, r.len };

		fd = syscall(SYS_pidfd_open, pid, 0);
		if (fd >= 0) {
			if (syscall(SYS_process_madvise, fd, &v, 1, MADV_COLLAPSE, 0) >= 0)
				atomic_fetch_add(&sh->madv_collapsed, 1);
			else if (errno != EAGAIN && errno != EBUSY && errno != EINVAL &&
				 errno != ENOMEM && errno != ESRCH)
				fail("worker %d: process_madvise of an exiting process: %s\n",
				     w->id, strerror(errno));
			close(fd);
		}
	}
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

void op_mremap_move(struct worker *w)
{
	size_t first, n;
	char *to;

	pick(w, &first, &n);
	note(w, OP_mremap_move, first, n);
	/* To the spare range (PMD-aligned or not), and back. */
	to = w->spare + (rnd_below(2) ? 0 : rnd_below(pmd_nr) * page_size);
	if (mremap(addr(w, first), n * page_size, n * page_size, MREMAP_MAYMOVE | MREMAP_FIXED,
		   to) == MAP_FAILED) {
		fail("worker %d: mremap away: %s\n", w->id, strerror(errno));
		return;
	}
	if (rnd_below(2))
		collapse_checked("mremap", to, n * page_size);
	if (mremap(to, n * page_size, n * page_size, MREMAP_MAYMOVE | MREMAP_FIXED,
		   addr(w, first)) == MAP_FAILED)
		fail("worker %d: mremap back: %s\n", w->id, strerror(errno));
	/* Reserve the hole again, or an mmap() of ours (a thread stack) could land there. */
	mmap(to, n * page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
	     -1, 0);
}

void op_mremap_shrink_grow(struct worker *w)
{
	size_t keep = 1 + rnd_below(w->npages - 1);

	note(w, OP_mremap_shrink_grow, keep, w->npages - keep);
	if (!check_pages(w, keep, w->npages - keep, "before shrink"))
		return;
	/* The region is one VMA only if nothing split it: shrink its last VMA. */
	if (mremap(addr(w, keep), (w->npages - keep) * page_size, page_size, 0) == MAP_FAILED)
		return (void)remap_fresh(w, keep, w->npages - keep);
	/* What is left is one page at keep; grow it back in place: zeros after it. */
	if (mremap(addr(w, keep), page_size, (w->npages - keep) * page_size, 0) == MAP_FAILED) {
		remap_fresh(w, keep, w->npages - keep);
		return;
	}
	for (size_t i = keep + 1; i < w->npages; i++)
		w->model[i] = 0;
}

void op_mprotect(struct worker *w)
{
	size_t first, n;

	pick(w, &first, &n);
	note(w, OP_mprotect_split, first, n);
	mprotect(addr(w, first), n * page_size, PROT_READ);
	if (rnd_below(2))
		collapse_checked("mprotect", addr(w, first), n * page_size);
	check_pages(w, first, n, "read-only");
	mprotect(addr(w, first), n * page_size, PROT_READ | PROT_WRITE);
}

void op_madvise(struct worker *w, int op)
{
	static const int advice[] = {
		[OP_dontneed] = MADV_DONTNEED, [OP_free] = MADV_FREE,
		[OP_pageout] = MADV_PAGEOUT, [OP_cold] = MADV_COLD,
		[OP_willneed] = MADV_WILLNEED,
	};
	size_t first, n;
	int a;

	pick(w, &first, &n);
	note(w, op, first, n);
	a = op == OP_populate ? (rnd_below(2) ? MADV_POPULATE_READ : MADV_POPULATE_WRITE) :
				advice[op];
	if (madvise(addr(w, first), n * page_size, a)) {
		fail("worker %d: madvise %d: %s\n", w->id, a, strerror(errno));
		return;
	}
	for (size_t i = first; i < first + n; i++) {
		if (op == OP_dontneed)
			w->model[i] = 0;
		else if (op == OP_free && w->model[i])
			w->model[i] |= MAYBE_ZERO;
	}
}

/* userfaultfd: missing pages filled with UFFDIO_COPY, or writes under write protection. */
struct uffd_job {
	struct worker *w;
	int fd;
	size_t first, n;
	uint64_t seed0;
	atomic_bool done;
	/* Pages the handler filled; the others were already present when registered. */
	atomic_bool *served;
};

static void *uffd_handler(void *arg)
{
	struct uffd_job *j = arg;
	char *buf = aligned_alloc(page_size, page_size);

	while (!atomic_load(&j->done)) {
		struct pollfd pfd = { j->fd, POLLIN };
		struct uffd_msg msg;
		uintptr_t a;
		size_t i;

		if (poll(&pfd, 1, 10) <= 0 || read(j->fd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		a = msg.arg.pagefault.address & ~(page_size - 1);
		i = (a - (uintptr_t)j->w->p) / page_size;
		if (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
			struct uffdio_writeprotect wp = { { a, page_size }, 0 };

			ioctl(j->fd, UFFDIO_WRITEPROTECT, &wp);
		} else {
			struct uffdio_copy c = { a, (uintptr_t)buf, page_size, 0, 0 };

			bool again = atomic_load(&j->served[i - j->first]);

			page_fill(buf, j->seed0 + (i - j->first));
			/* Marked before the copy wakes the faulting thread. */
			atomic_store(&j->served[i - j->first], true);
			if (ioctl(j->fd, UFFDIO_COPY, &c) == 0)
				continue;
			if (errno != EEXIST)
				fail("worker %d: UFFDIO_COPY: %s\n", j->w->id, strerror(errno));
			else if (!again)
				atomic_store(&j->served[i - j->first], false);
		}
	}
	free(buf);
	return NULL;
}

void op_uffd(struct worker *w, bool wp)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffd_job j = { .w = w };
	pthread_t t;
	size_t first, n;

	if (!have_uffd) {
		atomic_fetch_add(&sh->skipped[wp ? OP_uffd_wp : OP_uffd_missing], 1);
		return;
	}
	pick(w, &first, &n);
	note(w, wp ? OP_uffd_wp : OP_uffd_missing, first, n);
	j.fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (j.fd < 0 || ioctl(j.fd, UFFDIO_API, &api)) {
		fail("worker %d: userfaultfd: %s\n", w->id, strerror(errno));
		return;
	}
	if (!wp && !remap_fresh(w, first, n))
		goto out;
	reg.range.start = (uintptr_t)addr(w, first);
	reg.range.len = n * page_size;
	reg.mode = wp ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(j.fd, UFFDIO_REGISTER, &reg)) {
		/* WP needs the pages present or a kernel with WP_UNPOPULATED; fine either way. */
		atomic_fetch_add(&sh->skipped[wp ? OP_uffd_wp : OP_uffd_missing], 1);
		goto out;
	}
	j.first = first;
	j.n = n;
	j.served = calloc(n, sizeof(*j.served));
	j.seed0 = new_seed(w);
	w->next_seed += n;
	if (wp) {
		struct uffdio_writeprotect p = { reg.range, UFFDIO_WRITEPROTECT_MODE_WP };

		if (ioctl(j.fd, UFFDIO_WRITEPROTECT, &p))
			fail("worker %d: UFFDIO_WRITEPROTECT: %s\n", w->id, strerror(errno));
	}
	pthread_create(&t, NULL, uffd_handler, &j);
	if (rnd_below(2))
		collapse_checked("userfaultfd", addr(w, first), n * page_size);
	if (wp) {
		/* Writes wait for the handler to lift the protection. */
		for (size_t i = first; i < first + n; i++) {
			w->model[i] = j.seed0 + (i - first);
			page_fill(addr(w, i), w->model[i]);
		}
	} else {
		/*
		 * A collapse between the fresh mmap() and the registration may have
		 * filled pages with zeros: those never fault to the handler.
		 */
		for (size_t i = first; i < first + n; i++) {
			volatile char c = *addr(w, i);

			(void)c;
			w->model[i] = atomic_load(&j.served[i - first]) ? j.seed0 + (i - first) : 0;
		}
	}
	check_pages(w, first, n, wp ? "after uffd-wp writes" : "after uffd copy");
	atomic_store(&j.done, true);
	pthread_join(t, NULL);
	ioctl(j.fd, UFFDIO_UNREGISTER, &reg.range);
out:
	free(j.served);
	close(j.fd);
}

void op_migrate(struct worker *w, bool whole)
{
	size_t first, n;

	pick(w, &first, &n);
	note(w, whole ? OP_migrate_pages : OP_move_pages, first, n);
	if (whole) {
		unsigned long from = (1UL << nr_nodes) - 1, to = 1UL << rnd_below(nr_nodes);

		if (syscall(SYS_migrate_pages, 0, 8 * sizeof(long), &from, &to) < 0 &&
		    errno != ENOSYS && errno != EINVAL)
			fail("worker %d: migrate_pages: %s\n", w->id, strerror(errno));
		return;
	}
	{
		void *pages[64];
		int nodes[64], status[64];
		size_t k = n < 64 ? n : 64;

		for (size_t i = 0; i < k; i++) {
			pages[i] = addr(w, first + i);
			nodes[i] = rnd_below(nr_nodes);
		}
		if (syscall(SYS_move_pages, 0, k, pages, nodes, status, MPOL_MF_MOVE) < 0 &&
		    errno != ENOSYS && errno != ENOENT)
			fail("worker %d: move_pages: %s\n", w->id, strerror(errno));
	}
}

