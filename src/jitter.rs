//! Randomness without a crate: poll periods with ±10% jitter, so a fleet of pods started together
//! does not query in lockstep, and the host order of `load_balance_hosts=random`.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// A random number. RandomState is seeded from the OS per instance: enough randomness for
/// spreading load, no extra crate.
fn random() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// `period` scaled by a random factor in [0.9, 1.1).
pub fn jittered(period: Duration) -> Duration {
    let factor = 0.9 + (random() % 10_000) as f64 / 50_000.0;
    period.mul_f64(factor)
}

/// Shuffles `items` (Fisher-Yates).
pub fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = (random() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_ten_percent_and_varies() {
        let base = Duration::from_secs(10);
        let samples: Vec<Duration> = (0..200).map(|_| jittered(base)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= Duration::from_secs(9) && *d < Duration::from_secs(11))
        );
        assert!(samples.iter().any(|d| *d != samples[0]), "no jitter at all");
    }
}
