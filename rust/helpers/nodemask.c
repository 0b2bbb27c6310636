// SPDX-License-Identifier: GPL-2.0

#include <linux/nodemask.h>
#include <linux/topology.h>

__rust_helper bool rust_helper_node_online(int nid)
{
	return node_online(nid);
}

__rust_helper bool rust_helper_node_possible(int nid)
{
	return node_possible(nid);
}

__rust_helper int rust_helper_numa_mem_id(void)
{
	return numa_mem_id();
}
