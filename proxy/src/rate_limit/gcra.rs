//! GCRA (the generic cell rate algorithm), the arithmetic both stores share: a key
//! keeps one number, its theoretical arrival time (TAT). A request is allowed when
//! the TAT is at most `tolerance` ahead of now, and then pushes it `interval` further.
//! Over any span `d`, at most `burst + d / interval` requests pass: `burst` at once,
//! then one per `interval`. The Lua script in `shared.lua` is this function again,
//! over Redis's clock.

/// A policy's parameters in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Time one request costs: `per / rate`.
    pub interval: u64,
    /// How far ahead the TAT may be: `(burst - 1) * interval`.
    pub tolerance: u64,
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Whether the request may pass.
    pub allowed: bool,
    /// Requests that could pass right now after this one.
    pub remaining: u64,
    /// When refused: microseconds until one request will pass.
    pub retry_after: u64,
    /// Microseconds until the bucket is full again.
    pub reset: u64,
}

impl Gcra {
    /// `rate` requests per `per_secs` seconds, `burst` at once (all at least 1).
    pub(crate) fn new(rate: u64, per_secs: u64, burst: u64) -> Self {
        let interval = (per_secs.saturating_mul(1_000_000) / rate.max(1)).max(1);
        Self {
            interval,
            tolerance: burst.max(1).saturating_sub(1).saturating_mul(interval),
        }
    }

    /// The verdict at `now` for a key whose TAT is `tat` (`None`: no state), and the
    /// TAT to keep when the request is allowed.
    pub(crate) fn decide(&self, tat: Option<u64>, now: u64) -> (Verdict, Option<u64>) {
        let tat = tat.unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            let verdict = Verdict {
                allowed: false,
                remaining: 0,
                retry_after: ahead - self.tolerance,
                reset: ahead,
            };
            return (verdict, None);
        }
        let new_tat = tat + self.interval;
        let ahead = new_tat - now;
        let remaining = match self.tolerance.checked_sub(ahead) {
            Some(room) => room / self.interval + 1,
            None => 0,
        };
        let verdict = Verdict {
            allowed: true,
            remaining,
            retry_after: 0,
            reset: ahead,
        };
        (verdict, Some(new_tat))
    }
}

/// Microseconds as whole seconds, rounded up (the header fields carry seconds).
pub(crate) fn whole_seconds(micros: u64) -> u64 {
    micros.div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `n` requests at `now` from `tat`; the number allowed and the last TAT.
    fn burst_at(g: &Gcra, mut tat: Option<u64>, now: u64, n: usize) -> (usize, Option<u64>) {
        let mut allowed = 0;
        for _ in 0..n {
            let (v, next) = g.decide(tat, now);
            if v.allowed {
                allowed += 1;
                tat = next;
            }
        }
        (allowed, tat)
    }

    #[test]
    fn a_full_bucket_lets_burst_through_then_one_per_interval() {
        // 10 per second, 3 at once.
        let g = Gcra::new(10, 1, 3);
        assert_eq!(
            g,
            Gcra {
                interval: 100_000,
                tolerance: 200_000
            }
        );
        let (allowed, tat) = burst_at(&g, None, 1_000_000, 10);
        assert_eq!(allowed, 3);
        let (v, _) = g.decide(tat, 1_000_000);
        assert!(!v.allowed);
        assert_eq!(v.retry_after, 100_000, "one interval until the next");
        assert_eq!(v.remaining, 0);
        // 250 ms later: two more intervals have passed.
        let (allowed, _) = burst_at(&g, tat, 1_250_000, 10);
        assert_eq!(allowed, 2);
    }

    #[test]
    fn remaining_and_reset_describe_the_bucket() {
        let g = Gcra::new(60, 60, 5);
        let (v, tat) = g.decide(None, 0);
        assert_eq!((v.allowed, v.remaining, v.reset), (true, 4, 1_000_000));
        let (v, _) = g.decide(tat, 0);
        assert_eq!((v.remaining, v.reset), (3, 2_000_000));
        assert_eq!(whole_seconds(v.reset), 2);
        assert_eq!(whole_seconds(1), 1);
        assert_eq!(whole_seconds(0), 0);
    }

    #[test]
    fn a_burst_of_one_allows_one_per_interval() {
        let g = Gcra::new(1, 1, 1);
        let (v, tat) = g.decide(None, 0);
        assert_eq!((v.allowed, v.remaining), (true, 0));
        assert!(!g.decide(tat, 999_999).0.allowed);
        assert!(g.decide(tat, 1_000_000).0.allowed);
    }

    #[test]
    fn over_any_span_at_most_burst_plus_rate_pass() {
        // Requests every 7 ms for 10 s against 20/s with a burst of 5.
        let g = Gcra::new(20, 1, 5);
        let mut tat = None;
        let mut passed = Vec::new();
        let mut now = 0;
        while now < 10_000_000 {
            let (v, next) = g.decide(tat, now);
            if v.allowed {
                tat = next;
                passed.push(now);
            }
            now += 7_000;
        }
        for (i, start) in passed.iter().enumerate() {
            for span in [100_000_u64, 1_000_000, 3_000_000] {
                let within = passed[i..]
                    .iter()
                    .take_while(|t| **t < start + span)
                    .count();
                let bound = 5 + (span / g.interval) as usize;
                assert!(within <= bound, "{within} in {span} µs from {start}");
            }
        }
    }
}
