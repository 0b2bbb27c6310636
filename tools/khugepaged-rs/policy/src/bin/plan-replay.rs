// SPDX-License-Identifier: GPL-2.0

//! `plan-replay LOG...`: the policy core's order selector, checked against what the kernel
//! did.
//!
//! The guest test `mthp_sizes` prints one `# plan-check NAME: ...` line per case: the PMD
//! order, the enabled orders, the `max_ptes_*` limits, the PTEs present, swapped out and
//! shared when khugepaged ran, and the folios of order 2 and up the range held afterwards
//! (`got=OFFSET:ORDER,...`). For each line this runs [`plan`] on the same input and checks
//! that the plan is exactly those folios. Prints TAP; exits 1 on a mismatch, on a line it
//! cannot read, or when the logs hold no line at all (so that it cannot pass vacuously).

use khugepaged_policy::order::{plan, PmdScan, Range};
use std::{env, fs, process::ExitCode};

/// One `# plan-check` line.
struct Record {
    name: String,
    pmd_order: u32,
    enabled: u64,
    max_ptes_none: u32,
    max_ptes_swap: u32,
    max_ptes_shared: u32,
    present: Vec<u64>,
    swap: Vec<u64>,
    shared: Vec<u64>,
    got: Vec<Range>,
}

fn number(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("bad number '{s}'"))
}

fn small(s: &str) -> Result<u32, String> {
    u32::try_from(number(s)?).map_err(|_| format!("'{s}' is too large"))
}

/// "a-b,c,..." into a bitmap of `nr` bits.
fn bits(s: &str, nr: usize) -> Result<Vec<u64>, String> {
    let mut map = vec![0u64; nr.div_ceil(64)];
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (number(a)? as usize, number(b)? as usize);
        if a > b || b >= nr {
            return Err(format!("range '{part}' outside the {nr} PTEs"));
        }
        for i in a..=b {
            map[i / 64] |= 1 << (i % 64);
        }
    }
    Ok(map)
}

fn parse(line: &str) -> Result<Record, String> {
    let rest = &line[line.find("plan-check ").ok_or("no plan-check")? + "plan-check ".len()..];
    let (name, fields) = rest.split_once(": ").ok_or("no ': ' after the name")?;
    let field = |key: &str| -> Result<&str, String> {
        fields
            .split_whitespace()
            .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .ok_or(format!("no {key}="))
    };
    let pmd_order = small(field("pmd_order")?)?;
    if !(2..=13).contains(&pmd_order) {
        return Err(format!("pmd_order {pmd_order}"));
    }
    let nr = 1usize << pmd_order;
    let mut got = Vec::new();
    for f in field("got")?.split(',').filter(|f| !f.is_empty()) {
        let (offset, order) = f.split_once(':').ok_or(format!("bad folio '{f}'"))?;
        got.push(Range {
            offset: small(offset)?,
            order: small(order)?,
        });
    }
    Ok(Record {
        name: name.trim().to_string(),
        pmd_order,
        enabled: number(field("enabled")?)?,
        max_ptes_none: small(field("max_ptes_none")?)?,
        max_ptes_swap: small(field("max_ptes_swap")?)?,
        max_ptes_shared: small(field("max_ptes_shared")?)?,
        present: bits(field("present")?, nr)?,
        swap: bits(field("swap")?, nr)?,
        shared: bits(field("shared")?, nr)?,
        got,
    })
}

fn show(ranges: &[Range]) -> String {
    if ranges.is_empty() {
        return "nothing".to_string();
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|r| format!("{}:{}", r.offset, r.order))
        .collect();
    parts.join(",")
}

/// The plan for a record, by offset, or why there is none.
fn replay(r: &Record) -> Result<Vec<Range>, String> {
    let scan = PmdScan {
        present: &r.present,
        swap: &r.swap,
        shared: &r.shared,
        pmd_order: r.pmd_order,
        enabled_orders: r.enabled,
        max_ptes_none: r.max_ptes_none,
        max_ptes_swap: r.max_ptes_swap,
        max_ptes_shared: r.max_ptes_shared,
    };
    let mut ranges: Vec<Range> = plan(&scan).map_err(|e| format!("{e:?}"))?.collect();
    ranges.sort();
    Ok(ranges)
}

fn main() -> ExitCode {
    let logs: Vec<String> = env::args().skip(1).collect();
    if logs.is_empty() {
        eprintln!("usage: plan-replay LOG...");
        return ExitCode::from(2);
    }
    let mut results = Vec::new();
    for log in &logs {
        let text = match fs::read(log) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) => {
                eprintln!("plan-replay: {log}: {e}");
                return ExitCode::from(2);
            }
        };
        for line in text.lines().filter(|l| l.contains("# plan-check ")) {
            results.push(match parse(line) {
                Err(e) => (false, format!("{log}: unreadable line ({e}): {line}")),
                Ok(rec) => {
                    let mut got = rec.got.clone();
                    got.sort();
                    match replay(&rec) {
                        Err(e) => (false, format!("{log}: {}: no plan: {e}", rec.name)),
                        Ok(want) => (
                            want == got,
                            format!(
                                "{log}: {} (PMD order {}): plan {}, kernel {}",
                                rec.name,
                                rec.pmd_order,
                                show(&want),
                                show(&got)
                            ),
                        ),
                    }
                }
            });
        }
    }
    println!("TAP version 13");
    println!("1..{}", results.len());
    for (i, (ok, what)) in results.iter().enumerate() {
        println!("{}ok {} - {}", if *ok { "" } else { "not " }, i + 1, what);
    }
    if results.is_empty() {
        println!("# no plan-check line in {}", logs.join(" "));
        return ExitCode::FAILURE;
    }
    if results.iter().all(|(ok, _)| *ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
