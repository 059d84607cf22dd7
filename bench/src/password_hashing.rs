//! What bcrypt costs on this machine, at the costs around the functions' own.

use std::time::{Duration, Instant};

use crate::stats::stats;

/// The functions that hash or verify a password, whose memory size (and so CPU share) sets how
/// long a hash takes on Lambda.
pub const HASHING_FUNCTIONS: [&str; 5] = [
    "login",
    "change-password",
    "create-user",
    "update-user",
    "migrate",
];

/// The cost the functions hash at, whose time the report scales by each function's CPU share.
pub const DEPLOYED_COST: u32 = 12;

/// The p50 of three hashes at each cost from 10 to 13.
pub fn measure() -> Vec<(u32, Duration)> {
    (10..=13)
        .map(|cost| {
            let samples = (0..3)
                .map(|_| {
                    let started = Instant::now();
                    bcrypt::hash("benchmark-password", cost).unwrap();
                    started.elapsed()
                })
                .collect();
            (cost, stats(samples).p50)
        })
        .collect()
}
