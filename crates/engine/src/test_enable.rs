//! Test & Enable: test each configured channel of a mailbox against its
//! servers (nothing is sent or changed there), record each channel's status,
//! enable the channels that passed, and say precisely why the others failed.

use crmsync_core::model::{
    Approval, ChannelMethod, ChannelStatus, IncomingMethod, Mailbox, Profile, Severity,
};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::mailbox_state::{self, Channel};
use crmsync_core::store::{mailboxes, profiles, settings as stored_settings};
use crmsync_core::{CoreError, Store, hints};
use serde::Serialize;

use crate::backend::factory;
use crate::connect;
use crate::error::Result;

/// The result of testing one channel.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChannelResult {
    /// incoming, outgoing or act.
    pub channel: String,
    /// success, failure, or not-run (channel not configured).
    pub status: ChannelStatus,
    /// Whether the channel is now enabled.
    pub enabled: bool,
    /// Error code on failure.
    pub code: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// What to do about a failure.
    pub hint: Option<String>,
    /// What the admin does about the failure, if anything; each front end words it.
    pub action: Option<hints::Action>,
}

/// The result of Test & Enable for one mailbox.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    /// Mailbox address.
    pub mailbox: String,
    /// Overall: success when every configured channel passed.
    pub overall: ChannelStatus,
    /// One entry per channel.
    pub channels: Vec<ChannelResult>,
}

fn not_configured(channel: &str) -> ChannelResult {
    ChannelResult {
        channel: channel.into(),
        status: ChannelStatus::NotRun,
        enabled: false,
        code: None,
        message: "not configured for server-side synchronization".into(),
        hint: None,
        action: None,
    }
}

fn outcome(channel: &str, r: Result<String>) -> ChannelResult {
    match r {
        Ok(message) => ChannelResult {
            channel: channel.into(),
            status: ChannelStatus::Success,
            enabled: true,
            code: None,
            message,
            hint: None,
            action: None,
        },
        Err(e) => {
            let code = e.code();
            ChannelResult {
                channel: channel.into(),
                status: ChannelStatus::Failure,
                enabled: false,
                hint: Some(hints::hint(&code)),
                action: hints::action(&code),
                code: Some(code),
                message: e.to_string(),
            }
        }
    }
}

/// Tests the incoming server of a mailbox with its credentials (Test & Enable
/// and the recovery re-test): log in and look at INBOX or the maildrop.
pub(crate) async fn test_incoming(store: &Store, mb: &Mailbox, profile: &Profile) -> Result<String> {
    let source = factory::mail_source(store, mb, profile)?;
    let user = connect::credentials(store, mb, profile)?.0;
    let found = source.probe(true).await?;
    Ok(format!("{} {}", source.describe(), found.login_words(&user)))
}

async fn test_outgoing(store: &Store, mb: &Mailbox, profile: &Profile) -> Result<String> {
    let sender = factory::mail_sender(store, mb, profile, &stored_settings::load(store.conn())?)?;
    sender.probe().await?;
    let who = match sender.login() {
        Some(user) => format!("login as {user}"),
        None => "without login".into(),
    };
    Ok(format!("{} {who} OK (nothing sent)", sender.describe()))
}

async fn test_act(store: &mut Store, mb: &Mailbox, profile: &Profile) -> Result<String> {
    // As the ACT sync itself says: passing here and failing at the first sync
    // would tell the admin it works (the factory refuses what cannot sync).
    let items = factory::item_store(store, mb, profile)?;
    let user = connect::credentials(store, mb, profile)?.0;
    items.probe().await?;
    // Discovery (nothing is created or changed on the server): the principal,
    // its calendar and address book homes and the collections in them.
    let found = items.collections(false).await?;
    let id = mb.id;
    store.write(|tx| -> Result<()> {
        for c in &found {
            crmsync_core::store::act::upsert_collection(tx, id, c.kind, &c.url, c.display_name.as_deref())?;
        }
        Ok(())
    })?;
    let words: Vec<String> = ["calendar", "tasks", "contacts"]
        .iter()
        .map(|k| match found.iter().find(|c| c.kind == *k) {
            Some(c) => format!("{k} {}", items.path(&c.url)),
            None => format!("{k}: none yet (created on the first sync)"),
        })
        .collect();
    let granted = items.granted().map(|g| format!("; {g}")).unwrap_or_default();
    Ok(format!("{} login as {user} OK{granted}; {}", items.describe(), words.join(", ")))
}

/// When a server refused the OAuth2 access token of `r`, marks it for
/// renewal and says to test once more (the next connection renews it).
fn renewed(store: &Store, mb: &Mailbox, profile: &Profile, r: &Result<String>) -> Result<bool> {
    match r {
        Err(e) if crate::oauth::bearer_refused(profile, e) => {
            crate::oauth::expire_access(store, mb, profile)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The channels of `mb` that the engine disabled after transient failures
/// (what the recovery job re-tests): configured server-side, passed their last
/// Test & Enable, and now off — none unless the mailbox's `disabled_reason`
/// is `TRANSIENT_FAILURES`.
pub(crate) fn channels_to_recover(mb: &Mailbox) -> Vec<Channel> {
    if mb.telemetry.disabled_reason.as_deref() != Some(crmsync_core::health::TRANSIENT_FAILURES) {
        return Vec::new();
    }
    let configured = |ch: Channel| match ch {
        Channel::Incoming => mb.data.incoming_method == IncomingMethod::ServerSide,
        Channel::Outgoing => mb.data.outgoing_method == ChannelMethod::ServerSide,
        Channel::Act => mb.data.act_method == ChannelMethod::ServerSide,
    };
    let state = |ch: Channel| match ch {
        Channel::Incoming => &mb.incoming,
        Channel::Outgoing => &mb.outgoing,
        Channel::Act => &mb.act,
    };
    Channel::ALL
        .into_iter()
        .filter(|&ch| configured(ch) && !state(ch).enabled && state(ch).status == ChannelStatus::Success)
        .collect()
}

/// The channel's name as Test & Enable reports it (incoming, outgoing, act).
pub(crate) fn channel_word(ch: Channel) -> &'static str {
    match ch {
        Channel::Incoming => "incoming",
        Channel::Outgoing => "outgoing",
        Channel::Act => "act",
    }
}

/// Re-tests one channel of `mb` the way Test & Enable does (nothing is sent
/// or changed on the server); an OAuth2 access token the server refused is
/// renewed and the test run once more.
pub(crate) async fn retest(
    store: &mut Store,
    mb: &Mailbox,
    profile: &Profile,
    ch: Channel,
) -> Result<String> {
    let r = test_channel(store, mb, profile, ch).await;
    if renewed(store, mb, profile, &r)? {
        return test_channel(store, mb, profile, ch).await;
    }
    r
}

async fn test_channel(store: &mut Store, mb: &Mailbox, profile: &Profile, ch: Channel) -> Result<String> {
    match ch {
        Channel::Incoming => test_incoming(store, mb, profile).await,
        Channel::Outgoing => test_outgoing(store, mb, profile).await,
        Channel::Act => test_act(store, mb, profile).await,
    }
}

/// Runs Test & Enable for one mailbox and records the results.
pub async fn test_and_enable(store: &mut Store, email: &str) -> Result<TestReport> {
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {email}")))?;
    test_and_enable_mailbox(store, mb).await
}

/// [`test_and_enable`] of mailbox `mb`, looked up by the caller.
pub async fn test_and_enable_mailbox(store: &mut Store, mb: Mailbox) -> Result<TestReport> {
    let profile = profiles::get_by_id(store.conn(), mb.data.profile_id)?;
    let settings = stored_settings::load(store.conn())?;
    let unapproved = settings.bool(crmsync_core::settings::BoolSetting::IncomingRequireApproval)
        && mb.approval != Approval::Approved;

    let mut results = Vec::new();
    let approval_failure = |channel: &str| ChannelResult {
        channel: channel.into(),
        status: ChannelStatus::Failure,
        enabled: false,
        code: Some("NOT_APPROVED".into()),
        message: format!(
            "{} is not approved, and the organization processes email only for approved mailboxes",
            mb.data.email
        ),
        hint: Some(hints::hint("NOT_APPROVED")),
        action: hints::action("NOT_APPROVED"),
    };
    let incoming = if mb.data.incoming_method != IncomingMethod::ServerSide {
        not_configured("incoming")
    } else if unapproved {
        approval_failure("incoming")
    } else {
        let mut r = test_incoming(store, &mb, &profile).await;
        if renewed(store, &mb, &profile, &r)? {
            r = test_incoming(store, &mb, &profile).await;
        }
        outcome("incoming", r)
    };
    let outgoing = if mb.data.outgoing_method != ChannelMethod::ServerSide {
        not_configured("outgoing")
    } else if unapproved {
        approval_failure("outgoing")
    } else {
        let mut r = test_outgoing(store, &mb, &profile).await;
        if renewed(store, &mb, &profile, &r)? {
            r = test_outgoing(store, &mb, &profile).await;
        }
        outcome("outgoing", r)
    };
    let act = if mb.data.act_method != ChannelMethod::ServerSide {
        not_configured("act")
    } else {
        let mut r = test_act(store, &mb, &profile).await;
        if renewed(store, &mb, &profile, &r)? {
            r = test_act(store, &mb, &profile).await;
        }
        outcome("act", r)
    };
    results.extend([incoming, outgoing, act]);

    let record_errors = settings.bool(crmsync_core::settings::BoolSetting::AlertsRecordErrors);
    let id = mb.id;
    store.write(|tx| -> Result<()> {
        let mut first_error: Option<(&str, &str)> = None;
        for (ch, r) in Channel::ALL.iter().zip(&results) {
            if r.status == ChannelStatus::NotRun {
                mailbox_state::set_enabled(tx, id, *ch, false, None)?;
                continue;
            }
            mailbox_state::record_test(tx, id, *ch, r.status)?;
            if let (ChannelStatus::Failure, Some(code)) = (r.status, &r.code) {
                first_error.get_or_insert((code, &r.message));
                if record_errors {
                    alerts::raise(
                        tx,
                        &NewAlert {
                            severity: Severity::Error,
                            scope: Scope::Mailbox(id),
                            code: code.clone(),
                            message: format!("Test & Enable, {}: {}", r.channel, r.message),
                        },
                    )?;
                }
            }
        }
        match first_error {
            Some((code, msg)) => mailbox_state::set_last_error(tx, id, Some(code), Some(msg))?,
            None => mailbox_state::set_last_error(tx, id, None, None)?,
        }
        Ok(())
    })?;
    let configured: Vec<_> = results.iter().filter(|r| r.status != ChannelStatus::NotRun).collect();
    let overall = if configured.is_empty() {
        ChannelStatus::NotRun
    } else if configured.iter().all(|r| r.status == ChannelStatus::Success) {
        ChannelStatus::Success
    } else {
        ChannelStatus::Failure
    };
    Ok(TestReport { mailbox: mb.data.email, overall, channels: results })
}

/// Approves (or with `approve` false, rejects) a mailbox's email address.
pub fn approve(store: &mut Store, email: &str, approve: bool) -> Result<()> {
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {email}")))?;
    let a = if approve { Approval::Approved } else { Approval::Rejected };
    store.write(|tx| mailbox_state::set_approval(tx, mb.id, a))?;
    Ok(())
}

/// Enables or disables a mailbox by hand: every configured channel that passed
/// Test & Enable (enable), or every channel (disable).
pub fn set_enabled(store: &mut Store, email: &str, enabled: bool) -> Result<Mailbox> {
    let mb = mailboxes::find(store.conn(), email)?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {email}")))?;
    if enabled {
        let passed: Vec<Channel> =
            [(Channel::Incoming, &mb.incoming), (Channel::Outgoing, &mb.outgoing), (Channel::Act, &mb.act)]
                .into_iter()
                .filter(|(_, st)| st.status == ChannelStatus::Success)
                .map(|(c, _)| c)
                .collect();
        if passed.is_empty() {
            return Err(CoreError::invalid(
                "email",
                format!("{email} has no channel that passed Test & Enable; run `crmsync mailbox test-enable {email}`"),
            )
            .into());
        }
        store.write(|tx| -> Result<()> {
            for c in passed {
                mailbox_state::set_enabled(tx, mb.id, c, true, None)?;
            }
            Ok(())
        })?;
    } else {
        store.write(|tx| -> Result<()> {
            for c in Channel::ALL {
                mailbox_state::set_enabled(tx, mb.id, c, false, Some("DISABLED_BY_ADMIN"))?;
            }
            Ok(())
        })?;
    }
    Ok(mailboxes::get_by_id(store.conn(), mb.id)?)
}
