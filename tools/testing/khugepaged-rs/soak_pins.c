// SPDX-License-Identifier: GPL-2.0
/*
 * The soak's pins: O_DIRECT, vmsplice, long-term GUP and io_uring fixed
 * buffers on a worker's pages (soak.c says what the soak does).
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

/* O_DIRECT reads of random device blocks into random pages: written through GUP pins. */
void op_odirect(struct worker *w)
{
	size_t first, n;

	if (zram_fd < 0) {
		atomic_fetch_add(&sh->skipped[OP_odirect], 1);
		return;
	}
	pick(w, &first, &n);
	n = n < 32 ? n : 32;
	note(w, OP_odirect, first, n);
	for (size_t i = first; i < first + n; i++) {
		size_t b = rnd_below(dev_pages);

		if (pread(zram_fd, addr(w, i), page_size, b * page_size) != (ssize_t)page_size) {
			fail("worker %d: O_DIRECT read: %s\n", w->id, strerror(errno));
			return;
		}
		w->model[i] = dev_seed(b);
	}
	check_pages(w, first, n, "after O_DIRECT read");
}

/*
 * vmsplice() holds references to the pages in the pipe: khugepaged must leave
 * them alone, so what we write through the mapping afterwards is what the
 * pipe reads.
 */
void op_vmsplice(struct worker *w)
{
	size_t first, n, k;
	int fds[2];
	char *buf;

	pick(w, &first, &n);
	n = n < 16 ? n : 16;	/* a pipe holds 16 pages */
	note(w, OP_vmsplice, first, n);
	if (pipe(fds))
		return;
	buf = aligned_alloc(page_size, page_size);
	/* Present and exclusive first: a write must not CoW the spliced page away. */
	write_pages(w, first, n);
	for (k = 0; k < n; k++) {
		struct iovec v = { addr(w, first + k), page_size };

		if (vmsplice(fds[1], &v, 1, 0) != (ssize_t)page_size)
			break;
	}
	collapse_checked("vmsplice", addr(w, first & ~(pmd_nr - 1)), pmd_size);
	usleep(rnd_below(5000));
	write_pages(w, first, k);
	for (size_t i = 0; i < k; i++) {
		if (read(fds[0], buf, page_size) != (ssize_t)page_size) {
			fail("worker %d: vmsplice pipe read: %s\n", w->id, strerror(errno));
			break;
		}
		if (page_diff(buf, w->model[first + i]) >= 0) {
			fail("worker %d: page %zu: the pipe holds another page than the mapping\n",
			     w->id, first + i);
			dump_history(w);
			break;
		}
	}
	free(buf);
	close(fds[0]);
	close(fds[1]);
}

/* A long-term pin (gup_test): what the mapping holds is what the pin reads. */
void op_gup_longterm(struct worker *w)
{
	struct pin_longterm_test t;
	size_t first, n;
	char *buf;

	if (gup_fd < 0) {
		atomic_fetch_add(&sh->skipped[OP_gup_longterm], 1);
		return;
	}
	pick(w, &first, &n);
	n = n < 64 ? n : 64;
	t.addr = (uintptr_t)addr(w, first);
	t.size = n * page_size;
	t.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | (rnd_below(2) ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0);
	write_pages(w, first, n);
	/* One pin at a time machine-wide: another worker's pin makes this EINVAL. */
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &t)) {
		atomic_fetch_add(&sh->skipped[OP_gup_longterm], 1);
		return;
	}
	note(w, OP_gup_longterm, first, n);
	collapse_checked("gup pin", addr(w, first & ~(pmd_nr - 1)), pmd_size);
	write_pages(w, first, n);
	buf = aligned_alloc(page_size, n * page_size);
	{
		uint64_t to = (uintptr_t)buf;

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
			fail("worker %d: PIN_LONGTERM_TEST_READ: %s\n", w->id, strerror(errno));
	}
	for (size_t i = 0; i < n && !atomic_load(&sh->failed); i++)
		if (page_diff(buf + i * page_size, w->model[first + i]) >= 0) {
			fail("worker %d: page %zu: the long-term pin holds another page than the mapping\n",
			     w->id, first + i);
			dump_history(w);
		}
	ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	free(buf);
}

/*
 * io_uring with the pages registered as a fixed buffer (pinned long-term):
 * device blocks read into it arrive in the mapping.
 */
void op_io_uring(struct worker *w)
{
	struct io_uring_params prm = { 0 };
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqe;
	struct iovec v;
	size_t first, n, b;
	unsigned int *sq_tail, *sq_array, *cq_head, *cq_tail;
	char *sq, *cq;
	int fd, ret;

	if (!have_uring || zram_fd < 0) {
		atomic_fetch_add(&sh->skipped[OP_io_uring_fixed], 1);
		return;
	}
	pick(w, &first, &n);
	n = n < 16 ? n : 16;
	note(w, OP_io_uring_fixed, first, n);
	fd = syscall(__NR_io_uring_setup, 4, &prm);
	if (fd < 0) {
		fail("worker %d: io_uring_setup: %s\n", w->id, strerror(errno));
		return;
	}
	sq = mmap(NULL, prm.sq_off.array + prm.sq_entries * 4, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
	cq = mmap(NULL, prm.cq_off.cqes + prm.cq_entries * sizeof(*cqe), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, prm.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		fail("worker %d: io_uring mmap: %s\n", w->id, strerror(errno));
		goto out;
	}
	sq_tail = (unsigned int *)(sq + prm.sq_off.tail);
	sq_array = (unsigned int *)(sq + prm.sq_off.array);
	cq_head = (unsigned int *)(cq + prm.cq_off.head);
	cq_tail = (unsigned int *)(cq + prm.cq_off.tail);
	v.iov_base = addr(w, first);
	v.iov_len = n * page_size;
	write_pages(w, first, n);
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, &v, 1)) {
		fail("worker %d: IORING_REGISTER_BUFFERS: %s\n", w->id, strerror(errno));
		goto out;
	}
	collapse_checked("io_uring", addr(w, first & ~(pmd_nr - 1)), pmd_size);
	b = rnd_below(dev_pages - n);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_READ_FIXED;
	sqes[0].fd = zram_fd;
	sqes[0].addr = (uintptr_t)addr(w, first);
	sqes[0].len = n * page_size;
	sqes[0].off = b * page_size;
	sqes[0].buf_index = 0;
	sq_array[0] = 0;
	atomic_store_explicit((_Atomic unsigned int *)sq_tail, *sq_tail + 1, memory_order_release);
	ret = syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0);
	if (ret < 0 || *cq_head == atomic_load_explicit((_Atomic unsigned int *)cq_tail,
							 memory_order_acquire)) {
		fail("worker %d: io_uring_enter: %s\n", w->id, strerror(errno));
		goto out;
	}
	cqe = (struct io_uring_cqe *)(cq + prm.cq_off.cqes) +
	      (*cq_head & *(unsigned int *)(cq + prm.cq_off.ring_mask));
	if (cqe->res != (int)(n * page_size)) {
		fail("worker %d: READ_FIXED: %d\n", w->id, cqe->res);
		goto out;
	}
	(*cq_head)++;
	for (size_t i = 0; i < n; i++)
		w->model[first + i] = dev_seed(b + i);
	check_pages(w, first, n, "after io_uring READ_FIXED");
out:
	/* Closing the ring drops the registered buffer and its pins. */
	close(fd);
	if (sq != MAP_FAILED)
		munmap(sq, prm.sq_off.array + prm.sq_entries * 4);
	if (cq != MAP_FAILED)
		munmap(cq, prm.cq_off.cqes + prm.cq_entries * sizeof(*cqe));
	if (sqes != MAP_FAILED)
		munmap(sqes, prm.sq_entries * sizeof(*sqes));
}

