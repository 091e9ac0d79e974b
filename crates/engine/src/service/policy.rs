//! Scheduling decisions as pure functions: when to poll next, how long to back
//! off after a failure, and when to give up on a mailbox. The scheduler feeds
//! them the settings, the profile and the last outcome.

use std::time::Duration;

use crmsync_core::ErrorClass;
use crmsync_core::settings::{IntSetting, Settings};

/// The polling and backoff settings that apply to one mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The profile's minimum interval between two polls.
    pub min_interval: Duration,
    /// Poll interval after a cycle that found mail.
    pub active_interval: Duration,
    /// Longest interval of an idle mailbox (also the safety poll under IDLE).
    pub idle_max_interval: Duration,
    /// First retry delay after a transient failure.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Consecutive transient failures before the mailbox is disabled.
    pub max_transient_failures: i64,
}

impl Policy {
    /// From the settings and the profile's minimum poll interval (seconds).
    pub fn new(settings: &Settings, min_poll_interval_secs: u32) -> Policy {
        let secs = |k: IntSetting| Duration::from_secs(settings.int(k).max(0) as u64);
        Policy {
            min_interval: Duration::from_secs(u64::from(min_poll_interval_secs)),
            active_interval: secs(IntSetting::PollingActiveIntervalSecs),
            idle_max_interval: secs(IntSetting::PollingIdleMaxIntervalSecs),
            backoff_base: secs(IntSetting::BackoffBaseSecs),
            backoff_max: secs(IntSetting::BackoffMaxSecs),
            max_transient_failures: settings.int(IntSetting::BackoffMaxTransientFailures),
        }
    }
}

/// What a finished poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    /// It worked; `items` new items, `capped` when the per-cycle cap stopped it.
    Synced {
        /// Items processed.
        items: i64,
        /// More is waiting.
        capped: bool,
    },
    /// Nothing to do now (channel not enabled, not available in this build).
    Skipped,
}

/// The delay before the next poll after a successful (or skipped) one, and the
/// interval to remember for the next idle doubling. `previous` is the interval
/// used last time; `push` says IDLE watches the mailbox, so polling is only a
/// safety net.
pub fn next_poll(p: &Policy, previous: Duration, result: PollResult, push: bool) -> (Duration, Duration) {
    let floor = p.min_interval;
    let interval = match result {
        // More is waiting: come back as soon as the profile allows; the queue
        // puts the mailbox behind the others that are due, so it shares fairly.
        PollResult::Synced { capped: true, .. } => Duration::ZERO,
        PollResult::Synced { items, .. } if items > 0 => p.active_interval,
        PollResult::Synced { .. } => {
            (previous.max(p.active_interval) * 2).min(p.idle_max_interval.max(p.active_interval))
        }
        PollResult::Skipped => p.idle_max_interval,
    };
    let delay = if push { p.idle_max_interval.max(interval) } else { interval };
    (delay.max(floor), interval)
}

/// The retry delay after the `failures`-th consecutive transient failure:
/// exponential from `backoff_base`, capped at `backoff_max`, with "equal
/// jitter" (half fixed, half random) so mailboxes of one failed server do not
/// retry in lock step. `random` is in [0, 1).
pub fn backoff(p: &Policy, failures: i64, random: f64) -> Duration {
    let exp = (failures.max(1) - 1).min(30) as u32;
    let full = p.backoff_base.saturating_mul(1u32 << exp.min(20)).min(p.backoff_max);
    let half = full / 2;
    let jitter = half.mul_f64(random.clamp(0.0, 1.0));
    (half + jitter).max(p.min_interval)
}

/// What to do after a failed sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureAction {
    /// Try again after the delay.
    Retry(Duration),
    /// Stop the channel: a permanent error, or too many transient ones
    /// (`transient` true: recovery will re-test it).
    Disable {
        /// Disabled because of repeated transient failures.
        transient: bool,
    },
}

/// Decides after a failure of class `class`; `failures` is the consecutive
/// transient failure count including this one.
pub fn on_failure(p: &Policy, class: ErrorClass, failures: i64, random: f64) -> FailureAction {
    match class {
        ErrorClass::Permanent => FailureAction::Disable { transient: false },
        ErrorClass::Transient | ErrorClass::Item if failures >= p.max_transient_failures => {
            FailureAction::Disable { transient: true }
        }
        ErrorClass::Transient | ErrorClass::Item => FailureAction::Retry(backoff(p, failures, random)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            min_interval: Duration::from_secs(10),
            active_interval: Duration::from_secs(60),
            idle_max_interval: Duration::from_secs(900),
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(1800),
            max_transient_failures: 10,
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn defaults_build_a_policy_from_settings() {
        let p = Policy::new(&Settings::defaults(), 60);
        assert_eq!(p.min_interval, S(60));
        assert_eq!(p.max_transient_failures, 10);
        assert_eq!(p.active_interval, S(60));
        assert_eq!(p.idle_max_interval, S(900));
    }

    #[test]
    fn mail_found_polls_at_the_active_interval_and_idle_doubles_up_to_the_maximum() {
        let p = policy();
        let (d, i) = next_poll(&p, S(480), PollResult::Synced { items: 3, capped: false }, false);
        assert_eq!((d, i), (S(60), S(60)));
        let mut prev = S(60);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let (d, i) = next_poll(&p, prev, PollResult::Synced { items: 0, capped: false }, false);
            seen.push(d.as_secs());
            prev = i;
        }
        assert_eq!(seen, vec![120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn never_sooner_than_the_profile_minimum_even_when_capped() {
        let p = Policy { min_interval: S(300), ..policy() };
        for r in [
            PollResult::Synced { items: 0, capped: true },
            PollResult::Synced { items: 5, capped: false },
            PollResult::Synced { items: 0, capped: false },
            PollResult::Skipped,
        ] {
            assert!(next_poll(&p, S(1), r, false).0 >= S(300), "{r:?}");
        }
        for n in 1..20 {
            assert!(backoff(&p, n, 0.0) >= S(300));
        }
    }

    #[test]
    fn capped_cycle_comes_back_at_the_floor() {
        let p = policy();
        assert_eq!(next_poll(&p, S(900), PollResult::Synced { items: 500, capped: true }, false).0, S(10));
    }

    #[test]
    fn under_idle_polling_is_a_safety_net_at_the_idle_maximum() {
        let p = policy();
        assert_eq!(next_poll(&p, S(60), PollResult::Synced { items: 1, capped: false }, true).0, S(900));
    }

    #[test]
    fn backoff_doubles_with_jitter_within_half_and_full_and_is_capped() {
        let p = policy();
        for (n, full) in [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1800), (40, 1800)] {
            let lo = backoff(&p, n, 0.0);
            let hi = backoff(&p, n, 0.999_999);
            assert_eq!(lo, S(full / 2).max(S(10)), "n={n}");
            assert!(hi <= S(full) && hi > S(full) - S(1), "n={n} hi={hi:?}");
        }
    }

    #[test]
    fn permanent_disables_at_once_and_transient_after_the_maximum() {
        let p = policy();
        assert_eq!(
            on_failure(&p, ErrorClass::Permanent, 0, 0.5),
            FailureAction::Disable { transient: false }
        );
        for n in 1..10 {
            assert!(
                matches!(on_failure(&p, ErrorClass::Transient, n, 0.5), FailureAction::Retry(_)),
                "n={n}"
            );
        }
        assert_eq!(
            on_failure(&p, ErrorClass::Transient, 10, 0.5),
            FailureAction::Disable { transient: true }
        );
    }
}
