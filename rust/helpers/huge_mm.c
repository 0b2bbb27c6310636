// SPDX-License-Identifier: GPL-2.0

#include <linux/huge_mm.h>
#include <linux/shmem_fs.h>

__rust_helper bool rust_helper_hugepage_global_enabled(void)
{
	return hugepage_global_enabled();
}

__rust_helper bool rust_helper_shmem_hpage_pmd_enabled(void)
{
	return shmem_hpage_pmd_enabled();
}

__rust_helper unsigned int rust_helper_hpage_pmd_order(void)
{
	return HPAGE_PMD_ORDER;
}

__rust_helper unsigned long rust_helper_thp_vma_allowable_orders(struct vm_area_struct *vma,
						    vm_flags_t vm_flags,
						    enum tva_type type,
						    unsigned long orders)
{
	return thp_vma_allowable_orders(vma, vm_flags, type, orders);
}
