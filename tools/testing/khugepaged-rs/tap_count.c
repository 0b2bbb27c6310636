// SPDX-License-Identifier: GPL-2.0
/* The one set of kselftest counts of a program split over files: see tap_count.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kselftest.h"

#include "tap_count.h"

enum verdict { PASS, FAIL, SKIP };

static void report(enum verdict v, const char *fmt, va_list ap)
{
	char *msg;
	const char *text;

	/* Out of memory: the format as it is, still counted. */
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	text = msg ? msg : fmt;
	switch (v) {
	case PASS:
		ksft_test_result_pass("%s", text);
		break;
	case FAIL:
		ksft_test_result_fail("%s", text);
		break;
	case SKIP:
		ksft_test_result_skip("%s", text);
		break;
	}
	free(msg);
}

void tap_plan(unsigned int n)
{
	ksft_set_plan(n);
}

void tap_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(ok ? PASS : FAIL, fmt, ap);
	va_end(ap);
}

void tap_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(FAIL, fmt, ap);
	va_end(ap);
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(SKIP, fmt, ap);
	va_end(ap);
}

void tap_finished(void)
{
	ksft_finished();
}
