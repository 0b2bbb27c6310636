// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines and macros behind rust/kernel/mm/{page_cache,retract}.rs: the XArray
 * cursor over a mapping's i_pages, page-cache folio state, shmem, the i_mmap tree and
 * page-table retraction. One call each.
 */

#include <linux/backing-dev.h>
#include <linux/dax.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/page_table_check.h>
#include <linux/pgalloc.h>
#include <linux/rcupdate_wait.h>
#include <linux/rmap.h>
#include <linux/shmem_fs.h>
#include <linux/userfaultfd_k.h>
#include <linux/xarray.h>
#include "../../mm/internal.h"

/* The XArray cursor (struct xa_state) over i_pages */
__rust_helper void rust_helper_xas_init(struct xa_state *xas, struct xarray *xa, unsigned long index) { *xas = (struct xa_state)__XA_STATE(xa, index, 0, 0); }
__rust_helper void rust_helper_mapping_set_update(struct xa_state *xas, struct address_space *mapping) { mapping_set_update(xas, mapping); }
__rust_helper void rust_helper_xas_lock_irq(struct xa_state *xas) { xas_lock_irq(xas); }
__rust_helper void rust_helper_xas_unlock_irq(struct xa_state *xas) { xas_unlock_irq(xas); }
__rust_helper void rust_helper_xas_set(struct xa_state *xas, unsigned long index) { xas_set(xas, index); }
__rust_helper void rust_helper_xas_set_order(struct xa_state *xas, unsigned long index, unsigned int order) { xas_set_order(xas, index, order); }
__rust_helper int rust_helper_xas_error(const struct xa_state *xas) { return xas_error(xas); }
__rust_helper void *rust_helper_xas_next(struct xa_state *xas) { return xas_next(xas); }
__rust_helper void *rust_helper_xas_next_entry(struct xa_state *xas, unsigned long max) { return xas_next_entry(xas, max); }
__rust_helper bool rust_helper_xas_retry(struct xa_state *xas, const void *entry) { return xas_retry(xas, entry); }
__rust_helper void *rust_helper_xas_reload(struct xa_state *xas) { return xas_reload(xas); }
__rust_helper void rust_helper_xas_reset(struct xa_state *xas) { xas_reset(xas); }
__rust_helper unsigned long rust_helper_xas_index(const struct xa_state *xas) { return xas->xa_index; }
__rust_helper bool rust_helper_xa_is_value(const void *entry) { return xa_is_value(entry); }
__rust_helper void *rust_helper_xa_retry_entry(void) { return XA_RETRY_ENTRY; }
__rust_helper struct xarray *rust_helper_mapping_i_pages(struct address_space *mapping) { return &mapping->i_pages; }
__rust_helper void rust_helper_mapping_sub_nrpages(struct address_space *mapping, unsigned long nr) { mapping->nrpages -= nr; }
__rust_helper void rust_helper_cond_resched_rcu(void) { cond_resched_rcu(); }
__rust_helper bool rust_helper_need_resched(void) { return need_resched(); }

/* Mappings and files */
__rust_helper struct address_space *rust_helper_file_mapping(struct file *file) { return file->f_mapping; }
__rust_helper struct file *rust_helper_vma_file(struct vm_area_struct *vma) { return vma->vm_file; }
__rust_helper bool rust_helper_mapping_can_writeback(struct address_space *mapping) { return mapping_can_writeback(mapping); }
__rust_helper bool rust_helper_mapping_pmd_folio_support(const struct address_space *mapping) { return mapping_pmd_folio_support(mapping); }
__rust_helper unsigned int rust_helper_mapping_max_folio_order(const struct address_space *mapping) { return mapping_max_folio_order(mapping); }
__rust_helper bool rust_helper_mapping_host_open_for_write(struct address_space *mapping) { return inode_is_open_for_write(mapping->host); }
__rust_helper bool rust_helper_mapping_shmem_charge(struct address_space *mapping, long pages) { return shmem_charge(mapping->host, pages); }
__rust_helper void rust_helper_mapping_shmem_uncharge(struct address_space *mapping, long pages) { shmem_uncharge(mapping->host, pages); }
__rust_helper int rust_helper_mapping_shmem_get_folio_noalloc(struct address_space *mapping, pgoff_t index, struct folio **foliop) { return shmem_get_folio(mapping->host, index, 0, foliop, SGP_NOALLOC); }
__rust_helper void rust_helper_page_cache_sync_readahead(struct address_space *mapping, struct file *file, pgoff_t index, unsigned long nr) { page_cache_sync_readahead(mapping, &file->f_ra, file, index, nr); }
__rust_helper struct folio *rust_helper_filemap_lock_folio_or_null(struct address_space *mapping, pgoff_t index) { struct folio *folio = filemap_lock_folio(mapping, index); return IS_ERR(folio) ? NULL : folio; }
__rust_helper void rust_helper_i_mmap_lock_read(struct address_space *mapping) { i_mmap_lock_read(mapping); }
__rust_helper void rust_helper_i_mmap_unlock_read(struct address_space *mapping) { i_mmap_unlock_read(mapping); }
__rust_helper pgoff_t rust_helper_vma_start_pgoff(const struct vm_area_struct *vma) { return vma_start_pgoff(vma); }

/* Page-cache folios */
__rust_helper bool rust_helper_folio_try_get(struct folio *folio) { return folio_try_get(folio); }
__rust_helper void rust_helper_folio_get(struct folio *folio) { folio_get(folio); }
__rust_helper bool rust_helper_folio_test_uptodate(const struct folio *folio) { return folio_test_uptodate(folio); }
__rust_helper bool rust_helper_folio_test_dirty(const struct folio *folio) { return folio_test_dirty(folio); }
__rust_helper bool rust_helper_folio_test_writeback(const struct folio *folio) { return folio_test_writeback(folio); }
__rust_helper bool rust_helper_folio_mapped(const struct folio *folio) { return folio_mapped(folio); }
__rust_helper pgoff_t rust_helper_folio_index(const struct folio *folio) { return folio->index; }
__rust_helper int rust_helper_folio_ref_count(const struct folio *folio) { return folio_ref_count(folio); }
__rust_helper bool rust_helper_folio_has_extra_refs_but_ours(struct folio *folio) { return folio_expected_ref_count(folio) + 1 != folio_ref_count(folio); }
__rust_helper void rust_helper_folio_ref_add(struct folio *folio, int nr) { folio_ref_add(folio, nr); }
__rust_helper void rust_helper_folio_ref_sub(struct folio *folio, int nr) { folio_ref_sub(folio, nr); }
__rust_helper void rust_helper___folio_set_locked(struct folio *folio) { __folio_set_locked(folio); }
__rust_helper void rust_helper___folio_set_swapbacked(struct folio *folio) { __folio_set_swapbacked(folio); }
__rust_helper void rust_helper_folio_set_mapping(struct folio *folio, struct address_space *mapping, pgoff_t index) { folio->mapping = mapping; folio->index = index; }
__rust_helper void rust_helper_folio_mark_uptodate(struct folio *folio) { folio_mark_uptodate(folio); }
__rust_helper void rust_helper_folio_clear_active(struct folio *folio) { folio_clear_active(folio); }
__rust_helper void rust_helper_folio_clear_unevictable(struct folio *folio) { folio_clear_unevictable(folio); }
__rust_helper void rust_helper_lruvec_stat_mod_folio(struct folio *folio, enum node_stat_item idx, int val) { lruvec_stat_mod_folio(folio, idx, val); }
__rust_helper void rust_helper_clear_highpage(struct page *page) { clear_highpage(page); }
__rust_helper int rust_helper_copy_mc_highpage(struct page *to, struct page *from) { return copy_mc_highpage(to, from); }
__rust_helper void rust_helper_try_to_unmap_batched(struct folio *folio) { try_to_unmap(folio, TTU_IGNORE_MLOCK | TTU_BATCH_FLUSH); }
__rust_helper void rust_helper_try_to_unmap_flush(void) { try_to_unmap_flush(); }

/* Retracting page tables, and mapping a page-cache THP by its PMD */
__rust_helper bool rust_helper_userfaultfd_missing(struct vm_area_struct *vma) { return userfaultfd_missing(vma); }
__rust_helper bool rust_helper_userfaultfd_protected(struct vm_area_struct *vma) { return userfaultfd_protected(vma); }
__rust_helper bool rust_helper_vma_maybe_guard(struct vm_area_struct *vma) { return vma_test_atomic_flag(vma, VMA_MAYBE_GUARD_BIT); }
__rust_helper bool rust_helper_vma_anon_vma_once(struct vm_area_struct *vma) { return READ_ONCE(vma->anon_vma) != NULL; }
__rust_helper spinlock_t *rust_helper_pte_lockptr(struct mm_struct *mm, pmd_t *pmd) { return pte_lockptr(mm, pmd); }
__rust_helper void rust_helper_pmdp_get_lockless_sync(void) { pmdp_get_lockless_sync(); }
__rust_helper void rust_helper_mm_dec_nr_ptes(struct mm_struct *mm) { mm_dec_nr_ptes(mm); }
__rust_helper void rust_helper_page_table_check_pte_clear_range(struct mm_struct *mm, unsigned long addr, pmd_t pmd) { page_table_check_pte_clear_range(mm, addr, pmd); }
__rust_helper void rust_helper_pte_free_defer_from(struct mm_struct *mm, pmd_t pmd) { pte_free_defer(mm, pmd_pgtable(pmd)); }
__rust_helper void rust_helper_folio_remove_rmap_ptes(struct folio *folio, struct page *page, int nr, struct vm_area_struct *vma) { folio_remove_rmap_ptes(folio, page, nr, vma); }
__rust_helper int rust_helper_mm_counter_file(struct folio *folio) { return mm_counter_file(folio); }
__rust_helper pte_t *rust_helper_pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, spinlock_t **ptlp) { return pte_offset_map_lock(mm, pmd, addr, ptlp); }
__rust_helper void rust_helper_pte_unmap_unlock(pte_t *pte, spinlock_t *ptl) { pte_unmap_unlock(pte, ptl); }
__rust_helper bool rust_helper_pmd_same(pmd_t a, pmd_t b) { return pmd_same(a, b); }
__rust_helper pmd_t *rust_helper_mm_alloc_pmd(struct mm_struct *mm, unsigned long addr)
{
	p4d_t *p4d = p4d_alloc(mm, pgd_offset(mm, addr), addr);
	pud_t *pud = p4d ? pud_alloc(mm, p4d, addr) : NULL;

	return pud ? pmd_alloc(mm, pud, addr) : NULL;
}
__rust_helper vm_fault_t rust_helper_do_set_pmd_at(struct vm_area_struct *vma, unsigned long addr, pmd_t *pmd, struct folio *folio)
{
	struct vm_fault vmf = { .vma = vma, .address = addr, .pmd = pmd };

	return do_set_pmd(&vmf, folio, &folio->page);
}
