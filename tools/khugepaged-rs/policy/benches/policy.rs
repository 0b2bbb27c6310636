// SPDX-License-Identifier: GPL-2.0

//! Timings of the policy core (`make bench-core`): nanoseconds per collapse plan and per
//! hint queue operation. Figures only, no assertion; never part of `make check`.
//!
//! Each figure is the median of several timed batches, each long enough (a few
//! milliseconds) for `Instant` to be precise.

use khugepaged_policy::hint_queue::{HintQueue, HintSlot, Sighting};

/// A dense sighting in pass `epoch` at time `now`.
fn seen(epoch: u32, now: u32) -> Sighting {
    Sighting {
        share: 0,
        young: 512,
        epoch,
        now,
    }
}
use khugepaged_policy::order::{blocked, plan, Planner, PmdScan, PLAN_SCRATCH_WORDS};
use std::hint::black_box;
use std::time::Instant;

/// Timed batches per figure.
const BATCHES: usize = 7;

/// Runs `f` (which does `per` operations) in batches and returns the median nanoseconds
/// per operation.
fn measure(per: u64, mut f: impl FnMut()) -> f64 {
    // Calibrate: how many calls make a batch of about 5 ms.
    let mut calls = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        if t.elapsed().as_millis() >= 5 || calls >= 1 << 24 {
            break;
        }
        calls *= 2;
    }
    let mut ns: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_nanos() as f64 / (calls * per) as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    ns[BATCHES / 2]
}

/// Like [`measure`], but times only `op` (which does `per` operations), each time after
/// an untimed `setup`.
fn measure_split(per: u64, mut setup: impl FnMut(), mut op: impl FnMut()) -> f64 {
    let mut rounds = 1u32;
    let batch = |rounds: u32, setup: &mut dyn FnMut(), op: &mut dyn FnMut()| {
        let mut total = std::time::Duration::ZERO;
        for _ in 0..rounds {
            setup();
            let t = Instant::now();
            op();
            total += t.elapsed();
        }
        total
    };
    while batch(rounds, &mut setup, &mut op).as_millis() < 5 && rounds < 1 << 20 {
        rounds *= 2;
    }
    let mut ns: Vec<f64> = (0..BATCHES)
        .map(|_| {
            batch(rounds, &mut setup, &mut op).as_nanos() as f64 / (u64::from(rounds) * per) as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    ns[BATCHES / 2]
}

/// A deterministic bitmap of `nr` bits with about `percent` of them set.
fn occupancy(nr: usize, percent: u64, seed: u64) -> Vec<u64> {
    let mut x = seed | 1;
    let mut words = vec![0u64; nr.div_ceil(64)];
    for i in 0..nr {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 100 < percent {
            words[i / 64] |= 1 << (i % 64);
        }
    }
    words
}

fn bench_plans() {
    println!("collapse plan (a plan and every range), ns per PMD:");
    println!(
        "  {:>5} {:>6} {:<18} {:>11} {:>11} {:>11} {:>9}",
        "PTEs", "occ.", "enabled orders", "none=NR-1", "none=0", "plan() 0", "ranges"
    );
    println!("  (the kernel's Planner::with_scratch(), and plan() with maps of its own;");
    println!("   ranges: planned with none=NR-1 / none=0)");
    let mut scratch = vec![0u64; PLAN_SCRATCH_WORDS];
    for pmd_order in [9u32, 13, 5, 8, 11] {
        let nr = 1usize << pmd_order;
        let all = ((1u64 << (pmd_order + 1)) - 1) & !3;
        let masks = [
            ("PMD only", 1u64 << pmd_order),
            ("PMD + order 4", 1 << pmd_order | 1 << 4),
            ("all (2..=PMD)", all),
        ];
        for percent in [0, 50, 90, 100] {
            let present = occupancy(nr, percent, 0x2545_f491_4f6c_dd1d);
            let none = vec![0u64; present.len()];
            for (name, enabled) in masks {
                let mut row = vec![];
                let mut ranges = vec![];
                for max_ptes_none in [nr as u32 - 1, 0] {
                    let scan = PmdScan {
                        present: &present,
                        swap: &none,
                        shared: &none,
                        pmd_order,
                        enabled_orders: enabled,
                        max_ptes_none,
                        max_ptes_swap: nr as u32 / 8,
                        max_ptes_shared: nr as u32 / 2,
                    };
                    ranges.push(plan(&scan).unwrap().count().to_string());
                    row.push(measure(1, || {
                        let p = Planner::with_scratch(black_box(&scan), &mut scratch).unwrap();
                        black_box(p.fold(0u32, |a, r| a ^ r.offset ^ r.order));
                    }));
                    if max_ptes_none == 0 {
                        row.push(measure(1, || {
                            let p = plan(black_box(&scan)).unwrap();
                            black_box(p.fold(0u32, |a, r| a ^ r.offset ^ r.order));
                        }));
                    }
                }
                println!(
                    "  {:>5} {:>5}% {:<18} {:>11.0} {:>11.0} {:>11.0} {:>9}",
                    nr,
                    percent,
                    name,
                    row[0],
                    row[1],
                    row[2],
                    ranges.join(" / ")
                );
            }
        }
    }
}

fn bench_blocked() {
    println!("blocked() (ranges refused for swap or shared), all orders, ns per PMD:");
    println!(
        "  {:>5} {:>6} {:>11} {:>11}",
        "PTEs", "occ.", "none=NR-1", "none=0"
    );
    for pmd_order in [9u32, 13] {
        let nr = 1usize << pmd_order;
        for percent in [50, 90] {
            let present = occupancy(nr, percent, 0x2545_f491_4f6c_dd1d);
            // About 2% of the PTEs swapped out, 3% shared.
            let swap: Vec<u64> = occupancy(nr, 2, 77)
                .iter()
                .zip(&present)
                .map(|(s, p)| s & !p)
                .collect();
            let shared: Vec<u64> = occupancy(nr, 3, 99)
                .iter()
                .zip(&present)
                .map(|(h, p)| h & p)
                .collect();
            let row: Vec<f64> = [nr as u32 - 1, 0]
                .into_iter()
                .map(|max_ptes_none| {
                    let scan = PmdScan {
                        present: &present,
                        swap: &swap,
                        shared: &shared,
                        pmd_order,
                        enabled_orders: ((1u64 << (pmd_order + 1)) - 1) & !3,
                        max_ptes_none,
                        max_ptes_swap: nr as u32 / 8,
                        max_ptes_shared: nr as u32 / 2,
                    };
                    measure(1, || {
                        black_box(blocked(black_box(&scan)).unwrap());
                    })
                })
                .collect();
            println!(
                "  {:>5} {:>5}% {:>11.0} {:>11.0}",
                nr, percent, row[0], row[1]
            );
        }
    }
}

fn bench_worst_retries() {
    println!("planner, every attempt failing (all orders retried down to 2), ns per PMD:");
    for pmd_order in [9u32, 13] {
        let nr = 1usize << pmd_order;
        let present = vec![u64::MAX; nr.div_ceil(64)];
        let none = vec![0u64; present.len()];
        let scan = PmdScan {
            present: &present,
            swap: &none,
            shared: &none,
            pmd_order,
            enabled_orders: ((1u64 << (pmd_order + 1)) - 1) & !3,
            max_ptes_none: 0,
            max_ptes_swap: 0,
            max_ptes_shared: 0,
        };
        let mut attempts = 0;
        let mut scratch = vec![0u64; PLAN_SCRATCH_WORDS];
        let ns = measure(1, || {
            let mut p = Planner::with_scratch(black_box(&scan), &mut scratch).unwrap();
            attempts = 0;
            while let Some(r) = p.next() {
                black_box(r);
                attempts += 1;
                p.retry_smaller();
            }
        });
        println!("  {nr:>5} PTEs: {ns:>9.0} ns ({attempts} ranges)");
    }
}

fn bench_queue() {
    const CAP: usize = 4096;
    const PMD_SHIFT: u32 = 21;
    const MMS: usize = 64;
    let mm = |i: usize| 0xffff_8880_0000_0000usize + (i % MMS) * 0x440;
    let addr = |i: usize| 0x7f00_0000_0000usize + ((i / MMS) << PMD_SHIFT);
    let q = HintQueue::new(vec![HintSlot::EMPTY; CAP], PMD_SHIFT).unwrap();
    let fill = |q: &mut HintQueue<Vec<HintSlot>>| {
        q.clear();
        for i in 0..CAP {
            q.add(mm(i), addr(i), (i % 3) as u8);
        }
    };
    println!("hint queue ({CAP} slots, {MMS} mms, 3 levels used), ns per operation:");
    let row = |name: &str, ns: f64| println!("  {name:<32} {ns:>7.1}");
    let q = std::cell::RefCell::new(q);
    let fill = || fill(&mut q.borrow_mut());
    let per = CAP as u64;
    row(
        "add (new hint)",
        measure_split(
            per,
            || q.borrow_mut().clear(),
            || {
                let mut q = q.borrow_mut();
                for i in 0..CAP {
                    black_box(q.add(mm(i), addr(i), (i % 3) as u8));
                }
            },
        ),
    );
    row(
        "add (duplicate)",
        measure_split(per, fill, || {
            let mut q = q.borrow_mut();
            for i in 0..CAP {
                black_box(q.add(mm(i), addr(i), 3));
            }
        }),
    );
    row(
        "add (duplicate, raises priority)",
        measure_split(per, fill, || {
            let mut q = q.borrow_mut();
            for i in 0..CAP {
                black_box(q.add(mm(i), addr(i), 0));
            }
        }),
    );
    row(
        "add (full: evicts the oldest)",
        measure_split(per, fill, || {
            let mut q = q.borrow_mut();
            for i in 0..CAP {
                black_box(q.add(mm(i) + 8, addr(i), 0));
            }
        }),
    );
    row(
        "add_young (a new pass: renews)",
        measure_split(
            per,
            || {
                let mut q = q.borrow_mut();
                q.clear();
                for i in 0..CAP {
                    q.add_young(mm(i), addr(i), seen(1, 0), 1);
                }
            },
            || {
                let mut q = q.borrow_mut();
                for i in 0..CAP {
                    black_box(q.add_young(mm(i), addr(i), seen(2, 100), 1));
                }
            },
        ),
    );
    row(
        "serve()",
        measure_split(per, fill, || {
            let mut q = q.borrow_mut();
            while let Some(h) = q.serve(0) {
                black_box(h);
            }
        }),
    );
    row(
        &format!("remove_mm ({} hints each)", CAP / MMS),
        measure_split(MMS as u64, fill, || {
            let mut q = q.borrow_mut();
            for m in 0..MMS {
                black_box(q.remove_mm(mm(m)));
            }
        }),
    );
    row(
        "add (reclaiming a zombie)",
        measure_split(
            per,
            || {
                fill();
                let mut q = q.borrow_mut();
                for m in 0..MMS {
                    q.remove_mm(mm(m));
                }
            },
            || {
                let mut q = q.borrow_mut();
                for i in 0..CAP {
                    black_box(q.add(mm(i) + 8, addr(i), 1));
                }
            },
        ),
    );
}

fn main() {
    bench_plans();
    bench_blocked();
    bench_worst_retries();
    bench_queue();
}
