/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kselftest results of a program whose cases are in several files.
 * kselftest.h keeps its counts in statics, one set in every file that
 * includes it: cases reported from different files would each be numbered
 * from 1, and ksft_finished() would count only its own file's.  These report
 * through the counts of tap_count.c alone, with kselftest.h's output.
 */
#ifndef KHUGEPAGED_RS_TAP_COUNT_H
#define KHUGEPAGED_RS_TAP_COUNT_H

#include <stdbool.h>

/* ksft_set_plan() */
void tap_plan(unsigned int n);
/* ksft_test_result(), ksft_test_result_fail(), ksft_test_result_skip() */
void tap_result(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ksft_finished(): exits, passing if every planned case ran and none failed. */
void tap_finished(void) __attribute__((noreturn));

#endif
