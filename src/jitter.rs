//! Poll periods with ±10% jitter, so a fleet of pods started together does not query in lockstep.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// `period` scaled by a random factor in [0.9, 1.1).
pub fn jittered(period: Duration) -> Duration {
    // RandomState is seeded from the OS per instance: enough randomness, no extra crate.
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let factor = 0.9 + (random % 10_000) as f64 / 50_000.0;
    period.mul_f64(factor)
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
