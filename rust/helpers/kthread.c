// SPDX-License-Identifier: GPL-2.0

#include <linux/freezer.h>
#include <linux/sched.h>

/* A real function with CONFIG_FREEZER, an empty inline without. */
__rust_helper void rust_helper_set_freezable(void)
{
	set_freezable();
}

__rust_helper bool rust_helper_try_to_freeze(void)
{
	return try_to_freeze();
}

__rust_helper void rust_helper_cond_resched(void)
{
	cond_resched();
}
