// SPDX-License-Identifier: GPL-2.0

#include <linux/freezer.h>
#include <linux/sched.h>

/* A real function with CONFIG_FREEZER, an empty inline without. */
void rust_helper_set_freezable(void)
{
	set_freezable();
}

bool rust_helper_try_to_freeze(void)
{
	return try_to_freeze();
}

void rust_helper_cond_resched(void)
{
	cond_resched();
}
