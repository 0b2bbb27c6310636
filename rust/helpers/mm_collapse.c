// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines and macros behind rust/kernel/mm/{pgtable,folio,collapse}.rs, and the
 * mm-internal functions (mm/internal.h) that bindgen cannot see. One call each.
 */

#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/ksm.h>
#include <linux/leafops.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/pgalloc.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/userfaultfd_k.h>
#include <linux/vmstat.h>
#if defined(__BINDGEN__) || defined(MODULE)
/*
 * x86's <asm/tlb.h> hides what it needs from modules. bindgen parses as one, and so does
 * helpers_module.bc under CONFIG_RUST_INLINE_HELPERS (no module calls this helper).
 */
void tlb_remove_table_sync_one(void);
#else
#include <asm/tlb.h>
#endif
#include "../../mm/internal.h"

/* mm and VMA */
__rust_helper void rust_helper_mmap_write_lock(struct mm_struct *mm) { mmap_write_lock(mm); }
__rust_helper bool rust_helper_mmap_write_trylock(struct mm_struct *mm) { return mmap_write_trylock(mm); }
__rust_helper void rust_helper_mmap_write_unlock(struct mm_struct *mm) { mmap_write_unlock(mm); }
__rust_helper void rust_helper_vma_start_write(struct vm_area_struct *vma) { vma_start_write(vma); }
__rust_helper int rust_helper_mm_users(struct mm_struct *mm) { return atomic_read(&mm->mm_users); }
__rust_helper bool rust_helper_mm_flags_test(int flag, const struct mm_struct *mm) { return mm_flags_test(flag, mm); }
__rust_helper bool rust_helper_mm_flags_test_and_set(int flag, struct mm_struct *mm) { return mm_flags_test_and_set(flag, mm); }
__rust_helper void rust_helper_mm_flags_clear(int flag, struct mm_struct *mm) { mm_flags_clear(flag, mm); }
__rust_helper bool rust_helper_vma_is_anonymous(struct vm_area_struct *vma) { return vma_is_anonymous(vma); }
__rust_helper bool rust_helper_vma_is_droppable(struct vm_area_struct *vma) { return vma->vm_flags & VM_DROPPABLE; }
__rust_helper bool rust_helper_userfaultfd_armed(struct vm_area_struct *vma) { return userfaultfd_armed(vma); }
__rust_helper bool rust_helper_thp_vma_suitable_order(struct vm_area_struct *vma, unsigned long addr, int order) { return thp_vma_suitable_order(vma, addr, order); }
__rust_helper void rust_helper_anon_vma_lock_write(struct anon_vma *av) { anon_vma_lock_write(av); }
__rust_helper void rust_helper_anon_vma_unlock_write(struct anon_vma *av) { anon_vma_unlock_write(av); }
__rust_helper bool rust_helper_mmu_notifier_test_young(struct mm_struct *mm, unsigned long addr) { return mmu_notifier_test_young(mm, addr); }
__rust_helper void rust_helper_add_mm_counter(struct mm_struct *mm, int member, long value) { add_mm_counter(mm, member, value); }

/* PMDs and PTEs */
__rust_helper pmd_t *rust_helper_mm_find_pmd(struct mm_struct *mm, unsigned long address) { return mm_find_pmd(mm, address); }
__rust_helper unsigned long rust_helper_ptrs_per_pte(void) { return PTRS_PER_PTE; }
__rust_helper pmd_t rust_helper_pmdp_get(pmd_t *pmdp) { return pmdp_get(pmdp); }
__rust_helper pmd_t rust_helper_pmdp_get_lockless(pmd_t *pmdp) { return pmdp_get_lockless(pmdp); }
__rust_helper bool rust_helper_pmd_none(pmd_t pmd) { return pmd_none(pmd); }
__rust_helper bool rust_helper_pmd_present(pmd_t pmd) { return pmd_present(pmd); }
__rust_helper bool rust_helper_pmd_trans_huge(pmd_t pmd) { return pmd_trans_huge(pmd); }
__rust_helper bool rust_helper_pmd_bad(pmd_t pmd) { return pmd_bad(pmd); }
__rust_helper bool rust_helper_pmd_is_migration_entry(pmd_t pmd) { return pmd_is_migration_entry(pmd); }
__rust_helper spinlock_t *rust_helper_pmd_lock(struct mm_struct *mm, pmd_t *pmd) { return pmd_lock(mm, pmd); }
__rust_helper pmd_t rust_helper_pmdp_collapse_flush(struct vm_area_struct *vma, unsigned long addr, pmd_t *pmdp) { return pmdp_collapse_flush(vma, addr, pmdp); }
__rust_helper void rust_helper_tlb_remove_table_sync_one(void) { tlb_remove_table_sync_one(); }
__rust_helper void rust_helper_pmd_populate_from(struct mm_struct *mm, pmd_t *pmdp, pmd_t orig) { pmd_populate(mm, pmdp, pmd_pgtable(orig)); }
__rust_helper void rust_helper_pgtable_deposit_from(struct mm_struct *mm, pmd_t *pmdp, pmd_t orig) { pgtable_trans_huge_deposit(mm, pmdp, pmd_pgtable(orig)); }
__rust_helper void rust_helper_spin_lock_nested_single(spinlock_t *lock) { spin_lock_nested(lock, SINGLE_DEPTH_NESTING); }
__rust_helper void rust_helper_pte_unmap(pte_t *pte) { pte_unmap(pte); }
__rust_helper pte_t rust_helper_ptep_get(pte_t *ptep) { return ptep_get(ptep); }
__rust_helper pte_t rust_helper_ptep_get_lockless(pte_t *ptep) { return ptep_get_lockless(ptep); }
__rust_helper void rust_helper_ptep_clear(struct mm_struct *mm, unsigned long addr, pte_t *ptep) { ptep_clear(mm, addr, ptep); }
__rust_helper void rust_helper_clear_ptes(struct mm_struct *mm, unsigned long addr, pte_t *ptep, unsigned int nr) { clear_ptes(mm, addr, ptep, nr); }
__rust_helper bool rust_helper_pte_none(pte_t pte) { return pte_none(pte); }
__rust_helper bool rust_helper_pte_present(pte_t pte) { return pte_present(pte); }
__rust_helper bool rust_helper_pte_dirty(pte_t pte) { return pte_dirty(pte); }
__rust_helper bool rust_helper_pte_young(pte_t pte) { return pte_young(pte); }
__rust_helper bool rust_helper_pte_uffd(pte_t pte) { return pte_uffd(pte); }
__rust_helper bool rust_helper_pte_swp_uffd_any(pte_t pte) { return pte_swp_uffd_any(pte); }
/* 7.3's pte_none_or_zero() (static in mm/khugepaged.c): one call per PTE where helpers are not inlined. */
__rust_helper bool rust_helper_pte_none_or_zero(pte_t pte) { return pte_none(pte) || (pte_present(pte) && is_zero_pfn(pte_pfn(pte))); }
__rust_helper struct page *rust_helper_pte_page(pte_t pte) { return pte_page(pte); }
__rust_helper void rust_helper_ksm_might_unmap_zero_page(struct mm_struct *mm, pte_t pte) { ksm_might_unmap_zero_page(mm, pte); }
__rust_helper pgoff_t rust_helper_linear_page_index(struct vm_area_struct *vma, unsigned long addr) { return linear_page_index(vma, addr); }
__rust_helper vm_fault_t rust_helper_do_swap_page(struct vm_fault *vmf) { return do_swap_page(vmf); }

/* Folios */
__rust_helper struct folio *rust_helper_page_folio(struct page *page) { return page_folio(page); }
__rust_helper bool rust_helper_is_zone_device_page(const struct page *page) { return is_zone_device_page(page); }
__rust_helper struct page *rust_helper_folio_page(struct folio *folio, unsigned long n) { return folio_page(folio, n); }
__rust_helper bool rust_helper_folio_test_lazyfree(struct folio *folio) { return folio_test_lazyfree(folio); }
__rust_helper bool rust_helper_folio_test_anon(struct folio *folio) { return folio_test_anon(folio); }
__rust_helper bool rust_helper_folio_maybe_mapped_shared(struct folio *folio) { return folio_maybe_mapped_shared(folio); }
__rust_helper bool rust_helper_folio_test_lru(struct folio *folio) { return folio_test_lru(folio); }
__rust_helper bool rust_helper_folio_test_locked(struct folio *folio) { return folio_test_locked(folio); }
__rust_helper bool rust_helper_folio_test_young(struct folio *folio) { return folio_test_young(folio); }
__rust_helper bool rust_helper_folio_test_referenced(struct folio *folio) { return folio_test_referenced(folio); }
__rust_helper bool rust_helper_folio_test_large(struct folio *folio) { return folio_test_large(folio); }
__rust_helper int rust_helper_folio_nid(struct folio *folio) { return folio_nid(folio); }
__rust_helper unsigned int rust_helper_folio_order(struct folio *folio) { return folio_order(folio); }
__rust_helper unsigned long rust_helper_folio_pfn(struct folio *folio) { return folio_pfn(folio); }
__rust_helper bool rust_helper_folio_has_extra_refs(struct folio *folio) { return folio_expected_ref_count(folio) != folio_ref_count(folio); }
__rust_helper bool rust_helper_folio_trylock(struct folio *folio) { return folio_trylock(folio); }
__rust_helper void rust_helper_node_stat_mod_folio_isolated(struct folio *folio, long nr) { node_stat_mod_folio(folio, NR_ISOLATED_ANON + folio_is_file_lru(folio), nr); }
__rust_helper bool rust_helper_folio_isolate_lru(struct folio *folio) { return folio_isolate_lru(folio); }
__rust_helper void rust_helper_folio_putback_lru(struct folio *folio) { folio_putback_lru(folio); }
__rust_helper void rust_helper_lru_add_drain(void) { lru_add_drain(); }
__rust_helper void rust_helper_folio_put(struct folio *folio) { folio_put(folio); }
__rust_helper void rust_helper_folio_put_refs(struct folio *folio, int refs) { folio_put_refs(folio, refs); }
__rust_helper void rust_helper_free_swap_cache(struct folio *folio) { free_swap_cache(folio); }
__rust_helper unsigned int rust_helper_folio_pte_batch(struct folio *folio, pte_t *ptep, pte_t pte, unsigned int max_nr) { return folio_pte_batch(folio, ptep, pte, max_nr); }
__rust_helper void rust_helper_clear_user_highpage(struct page *page, unsigned long vaddr) { clear_user_highpage(page, vaddr); }
__rust_helper int rust_helper_copy_mc_user_highpage(struct page *to, struct page *from, unsigned long vaddr, struct vm_area_struct *vma) { return copy_mc_user_highpage(to, from, vaddr, vma); }
__rust_helper void rust_helper___folio_mark_uptodate(struct folio *folio) { __folio_mark_uptodate(folio); }
__rust_helper int rust_helper_mem_cgroup_charge(struct folio *folio, struct mm_struct *mm, gfp_t gfp) { return mem_cgroup_charge(folio, mm, gfp); }
__rust_helper int rust_helper_folio_memcg_alloc_deferred(struct folio *folio) { return folio_memcg_alloc_deferred(folio); }

/* Events and NUMA */
__rust_helper void rust_helper_count_vm_event(enum vm_event_item item) { count_vm_event(item); }
__rust_helper void rust_helper_count_mthp_stat(int order, enum mthp_stat_item item) { count_mthp_stat(order, item); }
__rust_helper void rust_helper_mod_mthp_stat(int order, enum mthp_stat_item item, int delta) { mod_mthp_stat(order, item, delta); }
__rust_helper void rust_helper_count_memcg_folio_events(struct folio *folio, enum vm_event_item idx, unsigned long nr) { count_memcg_folio_events(folio, idx, nr); }
__rust_helper bool rust_helper_node_reclaim_enabled(void) { return node_reclaim_enabled(); }
#ifdef CONFIG_NUMA
__rust_helper bool rust_helper_node_too_far(int a, int b) { return node_distance(a, b) > node_reclaim_distance; }
#else
__rust_helper bool rust_helper_node_too_far(int a, int b) { return false; }
#endif

/* MMU notifiers */
__rust_helper void rust_helper_mmu_notifier_range_init_clear(struct mmu_notifier_range *range, struct mm_struct *mm, unsigned long start, unsigned long end) { mmu_notifier_range_init(range, MMU_NOTIFY_CLEAR, 0, mm, start, end); }
__rust_helper void rust_helper_mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range) { mmu_notifier_invalidate_range_start(range); }
__rust_helper void rust_helper_mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range) { mmu_notifier_invalidate_range_end(range); }

/* The huge_memory tracepoints khugepaged fires (defined by mm/khugepaged.c or glue.c). */
#include "../../mm/khugepaged_rs/scan_result.h"
#include <trace/events/huge_memory.h>

__rust_helper void rust_helper_trace_mm_khugepaged_scan_pmd(struct mm_struct *mm, unsigned long pfn, int referenced, int none_or_zero, int status, int unmapped) { trace_mm_khugepaged_scan_pmd(mm, pfn, referenced, none_or_zero, status, unmapped); }
__rust_helper void rust_helper_trace_mm_collapse_huge_page(struct mm_struct *mm, int isolated, int status, unsigned int order) { trace_mm_collapse_huge_page(mm, isolated, status, order); }
__rust_helper void rust_helper_trace_mm_collapse_huge_page_isolate(struct folio *folio, int none_or_zero, int referenced, int status, unsigned int order) { trace_mm_collapse_huge_page_isolate(folio, none_or_zero, referenced, status, order); }
__rust_helper void rust_helper_trace_mm_collapse_huge_page_swapin(struct mm_struct *mm, int swapped_in, int referenced, int ret, unsigned int order) { trace_mm_collapse_huge_page_swapin(mm, swapped_in, referenced, ret, order); }
__rust_helper void rust_helper_trace_mm_khugepaged_scan(struct mm_struct *mm, unsigned int progress, bool full_scan_finished) { trace_mm_khugepaged_scan(mm, progress, full_scan_finished); }
__rust_helper void rust_helper_trace_mm_khugepaged_scan_file(struct mm_struct *mm, unsigned long pfn, struct file *file, int present, int swap, int result) { trace_mm_khugepaged_scan_file(mm, pfn, file, present, swap, result); }
__rust_helper void rust_helper_trace_mm_khugepaged_collapse_file(struct mm_struct *mm, unsigned long new_pfn, pgoff_t index, unsigned long addr, bool is_shmem, struct file *file, int nr, int result) { trace_mm_khugepaged_collapse_file(mm, new_pfn, index, addr, is_shmem, file, nr, result); }
