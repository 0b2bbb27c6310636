// SPDX-License-Identifier: GPL-2.0

#include <linux/freezer.h>

/* A real function with CONFIG_FREEZER, an empty inline without. */
void rust_helper_set_freezable(void)
{
	set_freezable();
}
