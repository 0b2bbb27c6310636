// SPDX-License-Identifier: GPL-2.0

//! The policy core of khugepaged-rs, built for the host from the very files the kernel crate
//! compiles (`mm/khugepaged_rs/policy/`), so that its tests exercise the kernel's code.

#![no_std]

#[path = "../../../../mm/khugepaged_rs/policy/mod.rs"]
mod policy;

pub use policy::*;
