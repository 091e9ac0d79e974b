//! Throttling state shared by every Graph client of one tenant: until when
//! each mailbox, and the tenant as a whole, must not be sent a request.
//! A 429 (Outlook's per-mailbox limits) holds back the mailbox; a 503
//! (the service is overloaded) holds back the whole tenant. A request
//! waits for both before it goes out, so none is ever sent early.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// What a throttling answer holds back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One mailbox (HTTP 429).
    Mailbox,
    /// Every mailbox of the tenant (HTTP 503).
    Tenant,
}

/// The shared state; clone it into every client of a tenant.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    tenant: Option<Instant>,
    mailboxes: HashMap<String, Instant>,
}

impl Throttle {
    /// A state with nothing held back.
    pub fn new() -> Throttle {
        Throttle::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the map is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds back `mailbox` (or the tenant) for `wait` from now; a longer
    /// hold already in place stays.
    pub fn hold(&self, scope: Scope, mailbox: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut st = self.state();
        let slot = match scope {
            Scope::Tenant => &mut st.tenant,
            Scope::Mailbox => {
                let e = st.mailboxes.entry(mailbox.to_ascii_lowercase()).or_insert(until);
                if *e < until {
                    *e = until;
                }
                return;
            }
        };
        if slot.is_none_or(|t| t < until) {
            *slot = Some(until);
        }
    }

    /// When a request for `mailbox` may go out (None: now), and which hold that is.
    pub fn ready_at(&self, mailbox: &str) -> Option<(Instant, Scope)> {
        let now = Instant::now();
        let mut st = self.state();
        st.mailboxes.retain(|_, t| *t > now);
        if st.tenant.is_some_and(|t| t <= now) {
            st.tenant = None;
        }
        let mb = st.mailboxes.get(&mailbox.to_ascii_lowercase()).map(|t| (*t, Scope::Mailbox));
        let tenant = st.tenant.map(|t| (t, Scope::Tenant));
        match (mb, tenant) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_mailbox_hold_spares_other_mailboxes_but_a_tenant_hold_does_not() {
        let t = Throttle::new();
        t.hold(Scope::Mailbox, "Anna@example.com", Duration::from_secs(5));
        assert!(t.ready_at("anna@example.com").is_some());
        assert!(t.ready_at("bob@example.com").is_none());
        t.hold(Scope::Tenant, "bob@example.com", Duration::from_secs(2));
        let (_, scope) = t.ready_at("bob@example.com").unwrap();
        assert_eq!(scope, Scope::Tenant);
        let (at, scope) = t.ready_at("anna@example.com").unwrap();
        assert_eq!(scope, Scope::Mailbox, "the later of the two holds wins");
        assert!(at >= Instant::now() + Duration::from_secs(4));
        // A shorter hold does not shorten a longer one.
        t.hold(Scope::Mailbox, "anna@example.com", Duration::from_secs(1));
        assert!(t.ready_at("anna@example.com").unwrap().0 >= Instant::now() + Duration::from_secs(4));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(t.ready_at("anna@example.com").is_none());
        assert!(t.ready_at("bob@example.com").is_none());
    }
}
