// SPDX-License-Identifier: GPL-2.0

#include <linux/gfp.h>
#include <linux/mmzone.h>
#include <linux/pageblock-flags.h>

__rust_helper bool rust_helper_populated_zone(const struct zone *zone)
{
	return populated_zone(zone);
}

__rust_helper unsigned long rust_helper_zone_idx(const struct zone *zone)
{
	return zone_idx(zone);
}

__rust_helper enum zone_type rust_helper_gfp_zone(gfp_t flags)
{
	return gfp_zone(flags);
}

__rust_helper unsigned long rust_helper_pageblock_nr_pages(void)
{
	return pageblock_nr_pages;
}

__rust_helper struct folio *rust_helper___folio_alloc(gfp_t gfp, unsigned int order, int nid,
						      nodemask_t *nodemask)
{
	return __folio_alloc(gfp, order, nid, nodemask);
}
