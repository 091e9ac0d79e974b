//! Desktop notifications, decided by a pure state machine: fed mailbox
//! healths as they change, it says when to notify and with what text.
//!
//! Only problems and recoveries notify: a mailbox became failing or was
//! disabled by the engine, a profile crossed the 50% line of failing
//! mailboxes (or came back under it), a failing mailbox recovered.
//!
//! **Folded**: changes are collected until nothing new arrived for
//! [`Policy::quiet`] (or the oldest waited [`Policy::max_wait`]), then become
//! ONE notification; a profile over the line stands for its mailboxes, so a
//! server with 40 mailboxes going down gives one notification, not 40.
//! **Rate-limited**: a token bucket ([`Policy::burst`] notifications, one more
//! every [`Policy::refill`]); while it is empty, changes keep folding.
//! **Muted** (`notifications.muted`): nothing is shown and nothing queues up.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::status::{DISABLED_BY_ADMIN, Health};

/// Timing of folding and rate limiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Flush once no change arrived for this long.
    pub quiet: Duration,
    /// Flush at the latest this long after the oldest pending change.
    pub max_wait: Duration,
    /// Notifications that may be shown back to back.
    pub burst: u32,
    /// One more notification is allowed every `refill`.
    pub refill: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            quiet: Duration::from_secs(3),
            max_wait: Duration::from_secs(20),
            burst: 2,
            refill: Duration::from_secs(60),
        }
    }
}

/// How urgent a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// A recovery.
    Normal,
    /// Something stopped working.
    Critical,
}

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// One line.
    pub summary: String,
    /// Details.
    pub body: String,
    /// Urgency.
    pub urgency: Urgency,
    /// UI route to open on click: the mailbox when exactly one is concerned.
    pub open: String,
    /// The words of the notification's action ("Open", or "Sign in").
    pub action: &'static str,
}

/// The code of a mailbox whose OAuth2 sign-in was refused or withdrawn.
pub const SIGN_IN_REQUIRED: &str = "OAUTH_SIGN_IN_REQUIRED";

/// The mailbox page's route with its "Sign in" button focused. A
/// notification's action can only hand a route back to the window (the
/// sign-in itself needs the admin in the browser), so the action "Sign in"
/// opens the mailbox page with the button focused: Enter starts the sign-in.
pub fn sign_in_route(mailbox: &str) -> String {
    format!("#/mailboxes/{mailbox}?sign-in")
}

/// One pending change.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Failing { mailbox: String, profile: String, code: Option<String>, message: Option<String> },
    Disabled { mailbox: String, profile: String, code: Option<String> },
    Recovered { mailbox: String },
    ProfileDown { profile: String, failing: usize, total: usize },
    ProfileUp { profile: String },
}

impl Change {
    fn mailbox(&self) -> Option<&str> {
        match self {
            Change::Failing { mailbox, .. }
            | Change::Disabled { mailbox, .. }
            | Change::Recovered { mailbox } => Some(mailbox),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Known {
    profile: String,
    health: Health,
    /// Failing, or disabled by the engine (not by the admin).
    problem: bool,
}

/// The notification state machine.
#[derive(Debug)]
pub struct Notifier {
    policy: Policy,
    known: BTreeMap<String, Known>,
    /// Profiles currently over the 50% line.
    down: BTreeSet<String>,
    pending: Vec<Change>,
    first_pending: Option<Instant>,
    last_change: Option<Instant>,
    tokens: f64,
    tokens_at: Option<Instant>,
    muted: bool,
}

fn is_problem(h: Health, code: Option<&str>) -> bool {
    h == Health::Error || (h == Health::Disabled && code != Some(DISABLED_BY_ADMIN))
}

impl Notifier {
    /// A notifier with `policy`.
    pub fn new(policy: Policy) -> Notifier {
        Notifier {
            policy,
            known: BTreeMap::new(),
            down: BTreeSet::new(),
            pending: Vec::new(),
            first_pending: None,
            last_change: None,
            tokens: f64::from(policy.burst),
            tokens_at: None,
            muted: false,
        }
    }

    /// Mutes or unmutes; muting drops what is pending.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
        if muted {
            self.pending.clear();
            self.first_pending = None;
        }
    }

    /// Records the current health of a mailbox. The first report of a mailbox
    /// is its starting point and never notifies.
    pub fn observe(
        &mut self,
        mailbox: &str,
        profile: &str,
        health: Health,
        code: Option<&str>,
        message: Option<&str>,
        now: Instant,
    ) {
        let problem = is_problem(health, code);
        let known = Known { profile: profile.to_owned(), health, problem };
        let prev = self.known.insert(mailbox.to_owned(), known);
        let Some(prev) = prev else { return };
        if prev.health == health {
            return;
        }
        let change = match health {
            Health::Error if prev.health != Health::Error => Some(Change::Failing {
                mailbox: mailbox.into(),
                profile: profile.into(),
                code: code.map(Into::into),
                message: message.map(Into::into),
            }),
            Health::Disabled if code != Some(DISABLED_BY_ADMIN) && prev.health != Health::NotConfigured => {
                Some(Change::Disabled {
                    mailbox: mailbox.into(),
                    profile: profile.into(),
                    code: code.map(Into::into),
                })
            }
            Health::Ok if prev.problem => Some(Change::Recovered { mailbox: mailbox.into() }),
            _ => None,
        };
        if let Some(c) = change {
            self.push(c, now);
        }
        self.check_profile(profile, now);
    }

    /// Forgets a removed mailbox.
    pub fn forget(&mut self, mailbox: &str) {
        self.known.remove(mailbox);
    }

    fn check_profile(&mut self, profile: &str, now: Instant) {
        let (failing, total) = self
            .known
            .values()
            .filter(|k| k.profile == profile)
            .fold((0, 0), |(f, t), k| (f + usize::from(k.problem), t + 1));
        let over = total > 0 && failing * 2 > total;
        let was = self.down.contains(profile);
        if over && !was {
            self.down.insert(profile.to_owned());
            self.push(Change::ProfileDown { profile: profile.to_owned(), failing, total }, now);
        } else if !over && was {
            self.down.remove(profile);
            self.push(Change::ProfileUp { profile: profile.to_owned() }, now);
        } else if over {
            // Keep the count of a pending ProfileDown current.
            for c in &mut self.pending {
                if let Change::ProfileDown { profile: p, failing: f, total: t } = c
                    && p == profile
                {
                    (*f, *t) = (failing, total);
                }
            }
        }
    }

    fn push(&mut self, c: Change, now: Instant) {
        if self.muted {
            return;
        }
        self.pending.push(c);
        self.first_pending.get_or_insert(now);
        self.last_change = Some(now);
    }

    fn refill(&mut self, now: Instant) {
        let since = self.tokens_at.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        let max = f64::from(self.policy.burst);
        self.tokens = (self.tokens + since.as_secs_f64() / self.policy.refill.as_secs_f64()).min(max);
        self.tokens_at = Some(now);
    }

    /// When [`Notifier::poll`] should be called next, if anything is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let first = self.first_pending?;
        let last = self.last_change.unwrap_or(first);
        Some((last + self.policy.quiet).min(first + self.policy.max_wait))
    }

    /// Returns the notification due now, if any.
    pub fn poll(&mut self, now: Instant) -> Option<Notification> {
        let deadline = self.next_deadline()?;
        if now < deadline {
            return None;
        }
        self.refill(now);
        if self.tokens < 1.0 {
            return None;
        }
        let changes = std::mem::take(&mut self.pending);
        self.first_pending = None;
        self.last_change = None;
        let n = fold(changes)?;
        self.tokens -= 1.0;
        Some(n)
    }
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = items.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

fn mailboxes(n: usize) -> String {
    if n == 1 { "1 mailbox".into() } else { format!("{n} mailboxes") }
}

/// Folds a batch of changes into at most one notification.
fn fold(changes: Vec<Change>) -> Option<Notification> {
    // The last change of each mailbox wins; a problem and its recovery in the
    // same batch cancel out.
    let mut per_mailbox: BTreeMap<String, (bool, Change)> = BTreeMap::new();
    let mut profiles_down: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut profiles_up: BTreeSet<String> = BTreeSet::new();
    for c in changes {
        match &c {
            Change::ProfileDown { profile, failing, total } => {
                if !profiles_up.remove(profile) {
                    profiles_down.insert(profile.clone(), (*failing, *total));
                }
            }
            Change::ProfileUp { profile } => {
                if profiles_down.remove(profile).is_none() {
                    profiles_up.insert(profile.clone());
                }
            }
            _ => {
                let m = c.mailbox().unwrap_or_default().to_owned();
                let had_problem = match per_mailbox.get(&m) {
                    Some((earlier, prev)) => *earlier || !matches!(prev, Change::Recovered { .. }),
                    None => false,
                };
                if matches!(c, Change::Recovered { .. }) && had_problem {
                    per_mailbox.remove(&m);
                } else {
                    per_mailbox.insert(m, (had_problem, c));
                }
            }
        }
    }
    // A profile over the line stands for its failing mailboxes, unless it is
    // just one (then the mailbox itself is the news).
    let subsumed = |p: &str| profiles_down.get(p).is_some_and(|(f, _)| *f > 1);
    let mut failing = Vec::new();
    let mut disabled = Vec::new();
    let mut recovered = Vec::new();
    let mut single_detail = None;
    for (m, (_, c)) in per_mailbox {
        match c {
            Change::Failing { profile, code, message, .. } if !subsumed(&profile) => {
                single_detail = Some((code, message));
                failing.push(m);
            }
            Change::Disabled { profile, code, .. } if !subsumed(&profile) => {
                single_detail = Some((code, None));
                disabled.push(m);
            }
            Change::Recovered { .. } => recovered.push(m),
            _ => {}
        }
    }

    let mut lines = Vec::new();
    // A refused sign-in is the mailbox's account, not a server that is down.
    let only_sign_in = failing.len() == 1
        && disabled.is_empty()
        && single_detail.as_ref().is_some_and(|(c, _)| c.as_deref() == Some(SIGN_IN_REQUIRED));
    for (p, (f, t)) in &profiles_down {
        if !(only_sign_in && *f == 1) {
            lines.push(format!("Profile {p}: {f} of {t} mailboxes failing — the server may be down."));
        }
    }
    if !failing.is_empty() {
        lines.push(format!("Failing: {}", list(&failing)));
    }
    if !disabled.is_empty() {
        lines.push(format!("Disabled after repeated failures: {}", list(&disabled)));
    }
    for p in &profiles_up {
        lines.push(format!("Profile {p} is back under half failing."));
    }
    if !recovered.is_empty() {
        lines.push(format!("Recovered: {}", list(&recovered)));
    }
    if lines.is_empty() {
        return None;
    }

    let problems = failing.len() + disabled.len();
    let big_outage = profiles_down.iter().find(|(_, (f, _))| *f > 1);
    let (summary, urgency, open) = if let Some((p, (f, _))) = big_outage {
        let summary = if profiles_down.len() == 1 {
            format!("{} on {p} failing", mailboxes(*f))
        } else {
            format!("{} profiles failing", profiles_down.len())
        };
        (summary, Urgency::Critical, "#/mailboxes".to_owned())
    } else if problems == 1 {
        let (m, what) = match failing.first() {
            Some(m) => (m.clone(), "is failing"),
            None => (disabled[0].clone(), "was disabled"),
        };
        let sign_in = single_detail.as_ref().is_some_and(|(c, _)| c.as_deref() == Some(SIGN_IN_REQUIRED));
        if let Some((code, message)) = &single_detail {
            let detail = [code.as_deref(), message.as_deref()].into_iter().flatten().collect::<Vec<_>>();
            if !detail.is_empty() {
                lines.insert(0, detail.join(": "));
            }
        }
        if sign_in {
            lines.insert(
                0,
                "Its sign-in was refused or withdrawn. Press Sign in, sign the mailbox in again in the browser, then Test & Enable; crmsync does not retry until then.".to_owned(),
            );
            return Some(Notification {
                summary: format!("{m} needs a new sign-in"),
                body: lines.join("\n"),
                urgency: Urgency::Critical,
                open: sign_in_route(&m),
                action: "Sign in",
            });
        }
        (format!("{m} {what}"), Urgency::Critical, format!("#/mailboxes/{m}"))
    } else if problems > 1 {
        (format!("{} failing", mailboxes(problems)), Urgency::Critical, "#/mailboxes".to_owned())
    } else if recovered.len() == 1 && profiles_up.is_empty() {
        let m = &recovered[0];
        (format!("{m} recovered"), Urgency::Normal, format!("#/mailboxes/{m}"))
    } else if !recovered.is_empty() {
        (format!("{} recovered", mailboxes(recovered.len())), Urgency::Normal, "#/mailboxes".to_owned())
    } else {
        (
            format!("Profile {} recovered", list(&profiles_up.into_iter().collect::<Vec<_>>())),
            Urgency::Normal,
            "#/mailboxes".to_owned(),
        )
    };
    Some(Notification { summary, body: lines.join("\n"), urgency, open, action: "Open" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    struct Run {
        n: Notifier,
        t0: Instant,
    }

    impl Run {
        fn new() -> Run {
            Run { n: Notifier::new(Policy::default()), t0: Instant::now() }
        }
        fn at(&self, s: u64) -> Instant {
            self.t0 + secs(s)
        }
        fn see(&mut self, s: u64, mailbox: &str, profile: &str, h: Health) {
            let t = self.at(s);
            self.n.observe(mailbox, profile, h, Some("IMAP_AUTH_FAILED"), Some("login refused"), t);
        }
        fn poll(&mut self, s: u64) -> Option<Notification> {
            let t = self.at(s);
            self.n.poll(t)
        }
        fn start(&mut self, count: usize, profile: &str, h: Health) {
            for i in 0..count {
                self.see(0, &format!("m{i}@{profile}"), profile, h);
            }
        }
    }

    #[test]
    fn first_sight_never_notifies() {
        let mut r = Run::new();
        r.see(0, "a@x", "P", Health::Error);
        assert_eq!(r.poll(100), None);
    }

    #[test]
    fn one_failing_mailbox_gives_one_notification_after_the_quiet_time() {
        let mut r = Run::new();
        r.start(4, "P", Health::Ok);
        r.see(10, "m0@P", "P", Health::Error);
        assert_eq!(r.poll(11), None, "still folding");
        let n = r.poll(13).expect("due after 3 s quiet");
        assert_eq!(n.summary, "m0@P is failing");
        assert!(n.body.starts_with("IMAP_AUTH_FAILED: login refused"), "{}", n.body);
        assert_eq!(n.open, "#/mailboxes/m0@P");
        assert_eq!(n.urgency, Urgency::Critical);
        assert_eq!(r.poll(100), None, "nothing more");
    }

    /// A refused sign-in says what to do, and its action opens the mailbox
    /// page with the Sign in button focused.
    #[test]
    fn a_refused_sign_in_asks_for_a_new_sign_in_and_its_action_opens_the_button() {
        let mut r = Run::new();
        r.start(4, "P", Health::Ok);
        let t = r.at(10);
        r.n.observe(
            "m0@P",
            "P",
            Health::Error,
            Some(SIGN_IN_REQUIRED),
            Some("token refresh refused (invalid_grant)"),
            t,
        );
        let n = r.poll(13).expect("due after 3 s quiet");
        assert_eq!(n.summary, "m0@P needs a new sign-in");
        assert!(n.body.starts_with("Its sign-in was refused or withdrawn. Press Sign in"), "{}", n.body);
        assert!(n.body.contains("OAUTH_SIGN_IN_REQUIRED: token refresh refused"), "{}", n.body);
        assert_eq!(n.action, "Sign in");
        assert_eq!(n.open, "#/mailboxes/m0@P?sign-in");
        assert_eq!(r.poll(100), None, "nothing more");
        r.see(101, "m1@P", "P", Health::Error);
        assert_eq!(r.poll(110).expect("another failure").action, "Open");

        // The only mailbox of its profile: no "the server may be down".
        let mut r = Run::new();
        r.see(0, "solo@Q", "Q", Health::Ok);
        let t = r.at(10);
        r.n.observe("solo@Q", "Q", Health::Error, Some(SIGN_IN_REQUIRED), Some("refused"), t);
        let n = r.poll(13).expect("due");
        assert_eq!(n.summary, "solo@Q needs a new sign-in");
        assert!(!n.body.contains("server may be down"), "{}", n.body);
    }

    #[test]
    fn forty_mailboxes_going_down_give_one_notification() {
        let mut r = Run::new();
        r.start(40, "Office", Health::Ok);
        for i in 0..40 {
            // One cycle walks the mailboxes one by one, a second apart.
            r.see(10 + i / 2, &format!("m{i}@Office"), "Office", Health::Error);
            if i % 2 == 0 {
                assert_eq!(r.poll(10 + i / 2), None);
            }
        }
        let n = r.poll(40).expect("one notification");
        assert_eq!(n.summary, "40 mailboxes on Office failing");
        assert!(n.body.contains("40 of 40"), "{}", n.body);
        assert!(!n.body.contains("m3@Office"), "the profile line stands for its mailboxes: {}", n.body);
        assert_eq!(r.poll(500), None);
    }

    #[test]
    fn max_wait_flushes_a_steady_trickle() {
        let mut r = Run::new();
        r.start(10, "P", Health::Ok);
        r.start(10, "Q", Health::Ok);
        for i in 0..4 {
            r.see(2 * i, &format!("m{i}@P"), "P", Health::Error);
            assert_eq!(r.poll(2 * i + 1), None);
        }
        r.see(19, "m0@Q", "Q", Health::Error);
        let n = r.poll(20).expect("max wait");
        assert_eq!(n.summary, "5 mailboxes failing");
        assert!(n.body.contains("and 2 more"), "{}", n.body);
    }

    #[test]
    fn rate_limited_changes_keep_folding_until_a_token_is_back() {
        let mut r = Run::new();
        r.start(10, "P", Health::Ok);
        r.see(10, "m0@P", "P", Health::Error);
        assert!(r.poll(13).is_some());
        r.see(20, "m1@P", "P", Health::Error);
        assert!(r.poll(23).is_some(), "burst of 2");
        r.see(30, "m2@P", "P", Health::Error);
        assert_eq!(r.poll(33), None, "bucket empty");
        r.see(40, "m3@P", "P", Health::Error);
        assert_eq!(r.poll(60), None);
        let n = r.poll(75).expect("a token is back ~60 s after the first");
        assert_eq!(n.summary, "2 mailboxes failing");
    }

    #[test]
    fn recovery_notifies_and_flaps_cancel() {
        let mut r = Run::new();
        r.start(3, "P", Health::Ok);
        r.see(10, "m0@P", "P", Health::Error);
        r.poll(20).unwrap();
        r.see(100, "m0@P", "P", Health::Ok);
        let n = r.poll(110).unwrap();
        assert_eq!(n.summary, "m0@P recovered");
        assert_eq!(n.urgency, Urgency::Normal);
        r.see(200, "m1@P", "P", Health::Error);
        r.see(201, "m1@P", "P", Health::Ok);
        assert_eq!(r.poll(300), None, "failed and recovered within one fold");
    }

    #[test]
    fn disabled_by_the_engine_notifies_but_not_by_the_admin() {
        let mut r = Run::new();
        r.start(3, "P", Health::Ok);
        let t = r.at(10);
        r.n.observe("m0@P", "P", Health::Disabled, Some(DISABLED_BY_ADMIN), None, t);
        assert_eq!(r.poll(20), None);
        r.n.observe("m1@P", "P", Health::Disabled, Some("IMAP_CONNECT_FAILED"), None, t);
        let n = r.poll(20).unwrap();
        assert_eq!(n.summary, "m1@P was disabled");
    }

    #[test]
    fn profile_crossing_back_under_the_line() {
        let mut r = Run::new();
        r.start(2, "P", Health::Ok);
        r.see(10, "m0@P", "P", Health::Error);
        r.see(10, "m1@P", "P", Health::Error);
        assert_eq!(r.poll(20).unwrap().summary, "2 mailboxes on P failing");
        r.see(200, "m0@P", "P", Health::Ok);
        r.see(200, "m1@P", "P", Health::Ok);
        let n = r.poll(210).unwrap();
        assert_eq!(n.summary, "2 mailboxes recovered");
        assert!(n.body.contains("Profile P is back"), "{}", n.body);
    }

    #[test]
    fn a_profile_with_one_mailbox_names_the_mailbox() {
        let mut r = Run::new();
        r.start(1, "P", Health::Ok);
        r.see(10, "m0@P", "P", Health::Error);
        let n = r.poll(20).unwrap();
        assert_eq!(n.summary, "m0@P is failing");
        assert!(n.body.contains("Profile P: 1 of 1"), "{}", n.body);
        assert_eq!(n.open, "#/mailboxes/m0@P");
    }

    #[test]
    fn half_is_not_over_the_line() {
        let mut r = Run::new();
        r.start(2, "P", Health::Ok);
        r.see(10, "m0@P", "P", Health::Error);
        assert_eq!(r.poll(20).unwrap().summary, "m0@P is failing");
    }

    #[test]
    fn muted_shows_nothing_and_keeps_nothing() {
        let mut r = Run::new();
        r.start(3, "P", Health::Ok);
        r.n.set_muted(true);
        r.see(10, "m0@P", "P", Health::Error);
        assert_eq!(r.poll(20), None);
        r.n.set_muted(false);
        assert_eq!(r.poll(30), None);
        r.see(40, "m0@P", "P", Health::Ok);
        assert_eq!(r.poll(50).unwrap().summary, "m0@P recovered");
    }
}
