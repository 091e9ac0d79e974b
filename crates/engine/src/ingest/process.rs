//! Turning one raw message into CRM data, inside the caller's transaction:
//! parse → process-from check → dedupe → correlate → resolve → filter → store.
//! Pure decisions come from crmsync-core; this module only wires them to the store.

use chrono::{DateTime, Duration, Utc};
use crmsync_core::correlation::{self, Clues, Method};
use crmsync_core::model::{Mailbox, Owner, Profile, RecordRef, RecordType, Severity, TrackFilter};
use crmsync_core::resolution::{self, Party, Role};
use crmsync_core::settings::{BoolSetting, IntSetting, Settings, TextSetting};
use crmsync_core::store::alerts::{self, NewAlert, Scope};
use crmsync_core::store::emails::{self, Lookups, NewAttachment, NewEmail};
use crmsync_core::store::history::{self, SeenMessage};
use crmsync_core::store::records;
use crmsync_core::store::sync_state::{self, Outcome};
use crmsync_core::time::to_db;
use crmsync_core::tracking::TokenFormat;
use crmsync_core::{Result, model::Contact};
use crmsync_protocols::mime::{self, EmailAddress, ParsedEmail};
use rusqlite::Connection;

/// Everything processing needs to know about the receiving mailbox, loaded once per cycle.
#[derive(Debug, Clone)]
pub struct MailboxContext {
    /// The mailbox.
    pub mailbox: Mailbox,
    /// Its profile.
    pub profile: Profile,
    /// The owner as a record (user or queue).
    pub owner: RecordRef,
    /// Effective settings.
    pub settings: Settings,
    /// Only mail received at or after this is processed.
    pub process_from: DateTime<Utc>,
    /// Folder-level tracking of the folder being processed, if mapped.
    pub folder_regarding: Option<RecordRef>,
    /// The run of the mailbox's history this pass belongs to, if recorded.
    pub run_id: Option<i64>,
}

impl MailboxContext {
    /// Builds the context; `process_from` is the later of profile and mailbox, or
    /// (neither set) the first enable minus the look-back setting.
    pub fn new(mailbox: Mailbox, profile: Profile, settings: Settings) -> MailboxContext {
        let owner = match &mailbox.data.owner {
            Owner::User { id, name } => {
                RecordRef { record_type: RecordType::User, id: *id, name: name.clone() }
            }
            Owner::Queue { id, name } => {
                RecordRef { record_type: RecordType::Queue, id: *id, name: name.clone() }
            }
        };
        let process_from = effective_process_from(&mailbox, &profile, &settings);
        MailboxContext {
            mailbox,
            profile,
            owner,
            settings,
            process_from,
            folder_regarding: None,
            run_id: None,
        }
    }

    /// The context for one folder (applies folder-level tracking).
    pub fn for_folder(&self, folder: &str) -> MailboxContext {
        let mut c = self.clone();
        c.folder_regarding =
            self.mailbox.data.track_folders.iter().find(|f| f.folder == folder).map(|f| f.regarding.clone());
        c
    }

    fn token(&self) -> TokenFormat {
        TokenFormat {
            prefix: self.settings.text(TextSetting::TrackingTokenPrefix).to_string(),
            digits: self.settings.int(IntSetting::TrackingTokenDigits) as usize,
        }
    }
}

/// The later of the profile's and the mailbox's "process from"; when neither is
/// set, the first enable (or now) minus `incoming.lookback_days`.
pub fn effective_process_from(mailbox: &Mailbox, profile: &Profile, settings: &Settings) -> DateTime<Utc> {
    match (profile.data.process_from, mailbox.data.process_from) {
        (Some(a), Some(b)) => a.max(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => {
            let base = mailbox.first_enabled_on.unwrap_or_else(Utc::now);
            base - Duration::days(settings.int(IntSetting::IncomingLookbackDays))
        }
    }
}

/// Where a message came from on the server (for idempotency and alerts).
#[derive(Debug, Clone)]
pub struct Source {
    /// Folder name (IMAP) or `INBOX` (POP3).
    pub folder: String,
    /// Human/server reference, e.g. `INBOX/1700000000/42` or `pop3:UIDL`.
    pub item_ref: String,
    /// Server receive time (IMAP INTERNALDATE), if known.
    pub received_at: Option<DateTime<Utc>>,
}

/// What processing did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// Tracked, not tracked, or failed.
    pub outcome: Outcome,
    /// The email activity (new or existing).
    pub activity_id: Option<i64>,
    /// Whether a new activity was created.
    pub created: bool,
}

fn party_list(role: Role, list: &[EmailAddress], dir: &Lookups<'_>, opts: resolution::Options) -> Vec<Party> {
    list.iter().flat_map(|a| resolution::resolve(role, &a.address, a.name.as_deref(), dir, opts)).collect()
}

/// Processes one raw message for `ctx` inside the caller's transaction. A
/// message that cannot be parsed is kept whole with an item alert (outcome Failed);
/// any store error is returned so the caller can roll back this item only.
pub fn process(conn: &Connection, ctx: &MailboxContext, raw: &[u8], src: &Source) -> Result<Processed> {
    let parsed = match mime::parse(raw) {
        Ok(p) => p,
        Err(e) => {
            fail_item(
                conn,
                ctx,
                raw,
                src,
                "EMAIL_UNPARSEABLE",
                &format!("message {} cannot be read: {e}; kept whole", src.item_ref),
            )?;
            return Ok(Processed { outcome: Outcome::Failed, activity_id: None, created: false });
        }
    };
    if ctx.mailbox.data.is_forward_mailbox && !parsed.forwarded.is_empty() {
        return process_forwarded(conn, ctx, &parsed, raw, src);
    }
    process_parsed(conn, ctx, &parsed, src)
}

/// Records a failed item: the raw bytes kept and an item-level alert.
pub fn fail_item(
    conn: &Connection,
    ctx: &MailboxContext,
    raw: &[u8],
    src: &Source,
    code: &str,
    message: &str,
) -> Result<()> {
    sync_state::keep_failed(conn, ctx.mailbox.id, &src.item_ref, raw, message)?;
    let (message_id, subject, sender) = headers_of(raw);
    history::record_seen(
        conn,
        &SeenMessage {
            mailbox_id: ctx.mailbox.id,
            run_id: ctx.run_id,
            item_ref: src.item_ref.clone(),
            message_id,
            subject,
            sender,
            received_on: src.received_at.map(to_db),
            outcome: "failed".into(),
            reason: code.into(),
            detail: message.into(),
            activity_id: None,
        },
    )?;
    if ctx.settings.bool(BoolSetting::AlertsRecordWarnings) {
        alerts::raise(
            conn,
            &NewAlert {
                severity: Severity::Warning,
                scope: Scope::Item {
                    mailbox_id: ctx.mailbox.id,
                    activity_id: None,
                    item_ref: Some(src.item_ref.clone()),
                },
                code: code.into(),
                message: message.into(),
            },
        )?;
    }
    Ok(())
}

/// A forward mailbox message: each attached original is processed for the user
/// whose address forwarded it.
fn process_forwarded(
    conn: &Connection,
    ctx: &MailboxContext,
    outer: &ParsedEmail,
    raw: &[u8],
    src: &Source,
) -> Result<Processed> {
    let forwarder = outer.from.as_ref().map(|a| a.address.clone()).unwrap_or_default();
    let target = crmsync_core::store::mailboxes::find(conn, &forwarder)?;
    let Some(target) = target else {
        fail_item(
            conn,
            ctx,
            raw,
            src,
            "FORWARD_SENDER_UNKNOWN",
            &format!("forwarded by {forwarder}, who has no mailbox in the CRM; kept whole"),
        )?;
        return Ok(Processed { outcome: Outcome::Failed, activity_id: None, created: false });
    };
    let profile = crmsync_core::store::profiles::get_by_id(conn, target.data.profile_id)?;
    let mut tctx = MailboxContext::new(target, profile, ctx.settings.clone());
    tctx.run_id = ctx.run_id;
    let mut last = Processed { outcome: Outcome::NotTracked, activity_id: None, created: false };
    for (i, inner) in outer.forwarded.iter().enumerate() {
        let inner_src = Source {
            folder: format!("forward:{}", ctx.mailbox.data.email),
            item_ref: format!("{}#{}", src.item_ref, i + 1),
            received_at: src.received_at,
        };
        match mime::parse(inner) {
            Ok(p) => last = process_parsed(conn, &tctx, &p, &inner_src)?,
            Err(e) => {
                fail_item(
                    conn,
                    ctx,
                    raw,
                    src,
                    "EMAIL_UNPARSEABLE",
                    &format!("forwarded original {} cannot be read: {e}", inner_src.item_ref),
                )?;
                last = Processed { outcome: Outcome::Failed, activity_id: None, created: false };
            }
        }
    }
    Ok(last)
}

fn process_parsed(
    conn: &Connection,
    ctx: &MailboxContext,
    p: &ParsedEmail,
    src: &Source,
) -> Result<Processed> {
    let received = src.received_at.or(p.date).unwrap_or_else(Utc::now);
    if received < ctx.process_from {
        let detail = format!(
            "received {} UTC, before {} UTC from which this mailbox processes email",
            received.format("%Y-%m-%d %H:%M"),
            ctx.process_from.format("%Y-%m-%d %H:%M")
        );
        seen(conn, ctx, p, src, Outcome::NotTracked, "BEFORE_PROCESS_FROM", detail, None)?;
        return Ok(Processed { outcome: Outcome::NotTracked, activity_id: None, created: false });
    }
    let received_db = to_db(received);
    let queue_id = match ctx.owner.record_type {
        RecordType::Queue => Some(ctx.owner.id),
        _ => None,
    };

    let lookups = Lookups::new(conn);
    let token = ctx.token();
    let mut addresses = std::collections::BTreeSet::new();
    for a in p.from.iter().chain(&p.to).chain(&p.cc) {
        addresses.insert(a.address.clone());
    }
    let clues = Clues {
        in_reply_to: p.in_reply_to.clone(),
        references: p.references.clone(),
        subject: p.subject.clone(),
        addresses,
    };
    let corr = correlation::correlate(
        &clues,
        &lookups,
        &correlation::Options {
            enabled: ctx.settings.bool(BoolSetting::CorrelationEnabled),
            smart_matching: ctx.settings.bool(BoolSetting::CorrelationSmartMatching),
            token: token.clone(),
        },
    );

    let ropts = resolution::Options {
        unresolved_when_ambiguous: ctx.settings.bool(BoolSetting::ResolutionUnresolvedWhenAmbiguous),
    };
    let mut parties = Vec::new();
    if let Some(from) = &p.from {
        parties.extend(resolution::resolve(Role::From, &from.address, from.name.as_deref(), &lookups, ropts));
    }
    parties.extend(party_list(Role::To, &p.to, &lookups, ropts));
    parties.extend(party_list(Role::Cc, &p.cc, &lookups, ropts));
    parties.extend(party_list(Role::Bcc, &p.bcc, &lookups, ropts));

    let in_folder = ctx.folder_regarding.is_some();
    if !in_folder
        && !resolution::passes_filter(ctx.mailbox.data.track, corr.is_response, &parties, Some(&ctx.owner))
    {
        let (code, detail) = filter_reason(ctx.mailbox.data.track);
        seen(conn, ctx, p, src, Outcome::NotTracked, code, detail.into(), None)?;
        return Ok(Processed { outcome: Outcome::NotTracked, activity_id: None, created: false });
    }

    // One activity per message across the organisation: a mailbox whose filter
    // takes the message joins the existing activity as another receiver.
    // Mail without a Message-ID tracked before the key changed form carries the old form.
    let mut existing = match (emails::find_by_dedupe_key(conn, &p.dedupe_key)?, &p.legacy_dedupe_key) {
        (Some(id), _) => Some(id),
        (None, Some(legacy)) => emails::adopt_legacy_key(conn, legacy, &p.dedupe_key)?,
        (None, None) => None,
    };
    // A Message-ID is the sender's word: a message reusing a known one with
    // another sender, date or body is not merged into the first, it becomes an
    // activity of its own under a key of its own (found again on a re-fetch).
    let mut dedupe_key = p.dedupe_key.clone();
    let mut collides_with = None;
    if let Some(id) = existing
        && p.message_id.is_some()
        && emails::content_hash(conn, id)?.is_some_and(|h| h != p.content_hash)
    {
        dedupe_key = format!("{}#{}", p.dedupe_key, p.content_hash);
        existing = emails::find_by_dedupe_key(conn, &dedupe_key)?;
        if existing.is_none() {
            collides_with = Some(id);
        }
    }
    if let Some(existing) = existing {
        emails::add_receipt(conn, existing, ctx.mailbox.id, &src.folder, &received_db)?;
        if let Some(q) = queue_id {
            emails::add_queue_item(conn, q, existing)?;
        }
        let detail = format!(
            "the same message was already email activity {existing} (seen before, or received by another mailbox); \
             this mailbox was added to it as a receiver"
        );
        seen(conn, ctx, p, src, Outcome::Tracked, "DUPLICATE", detail, Some(existing))?;
        return Ok(Processed { outcome: Outcome::Tracked, activity_id: Some(existing), created: false });
    }

    // Optionally create a contact for an unresolved sender of tracked mail.
    if ctx.settings.bool(BoolSetting::ResolutionAutoCreateContact)
        && let Some(sender) = parties.iter_mut().find(|x| x.role == Role::From && x.record.is_none())
    {
        let (first, last) = split_name(sender.name.as_deref());
        let c = Contact {
            first_name: first,
            last_name: last,
            email: Some(sender.address.clone()),
            ..Default::default()
        };
        let id = records::insert_contact(conn, &c, None)?;
        let name = crmsync_core::model::person_name(
            c.first_name.as_deref(),
            c.last_name.as_deref(),
            c.email.as_deref(),
        );
        sender.record = Some(RecordRef { record_type: RecordType::Contact, id, name });
    }

    let limit = ctx.settings.int(IntSetting::AttachmentsMaxSizeKb) * 1024;
    let mut flags = Vec::new();
    let attachments = p
        .attachments
        .iter()
        .map(|a| {
            let size = a.content.len() as i64;
            let keep = size <= limit;
            if !keep && !flags.iter().any(|f| f == "attachments_skipped") {
                flags.push("attachments_skipped".to_string());
            }
            NewAttachment {
                file_name: a.name.clone(),
                mime_type: a.mime_type.clone(),
                size,
                content: keep.then(|| a.content.clone()),
            }
        })
        .collect();

    let (method, regarding) = match (&ctx.folder_regarding, &corr.conversation) {
        (Some(r), _) => (Method::Folder, Some(r.clone())),
        (None, Some(c)) => (corr.method, c.regarding.clone()),
        (None, None) => (Method::None, None),
    };
    let (owner_user_id, owner_queue_id) = match ctx.owner.record_type {
        RecordType::User => (Some(ctx.owner.id), None),
        _ => (None, Some(ctx.owner.id)),
    };
    let norm = correlation::normalize_subject(&p.subject, &token);
    let new = NewEmail {
        direction: "incoming",
        status: "received",
        subject: p.subject.clone(),
        body_text: p.text_body.clone(),
        body_html: p.html_body.clone(),
        message_id: p.message_id.clone(),
        dedupe_key,
        in_reply_to: p.in_reply_to.first().cloned(),
        references: (!p.references.is_empty()).then(|| p.references.join(" ")),
        tracking_token: token.find(&p.subject),
        correlation_method: method.as_str(),
        subject_hash: correlation::subject_hash(&norm),
        regarding,
        owner_user_id,
        owner_queue_id,
        sender_mailbox_id: None,
        received_on: Some(received_db.clone()),
        send_at: None,
        flags,
        parties: parties.clone(),
        attachments,
    };
    let id = emails::insert(conn, &new)?;
    emails::set_content_hash(conn, id, &p.content_hash)?;
    if let Some(first) = collides_with {
        collision_alert(conn, ctx, p, src, first, id)?;
    }
    emails::add_receipt(conn, id, ctx.mailbox.id, &src.folder, &received_db)?;
    if let Some(q) = queue_id {
        emails::add_queue_item(conn, q, id)?;
    }
    for q in parties.iter().filter_map(|x| x.record.as_ref()).filter(|r| r.record_type == RecordType::Queue) {
        emails::add_queue_item(conn, q.id, id)?;
    }
    seen(
        conn,
        ctx,
        p,
        src,
        Outcome::Tracked,
        "TRACKED",
        format!("tracked as email activity {id}"),
        Some(id),
    )?;
    Ok(Processed { outcome: Outcome::Tracked, activity_id: Some(id), created: true })
}

/// The reason code and words for a message the mailbox's tracking filter left out.
fn filter_reason(filter: TrackFilter) -> (&'static str, &'static str) {
    match filter {
        TrackFilter::Responses => (
            "NOT_A_REPLY",
            "not a reply to CRM email (no In-Reply-To, References or tracking token of a tracked email), \
             and the mailbox tracks only responses to CRM email",
        ),
        TrackFilter::CrmRecords => (
            "NO_CRM_RECORD",
            "no sender or recipient is a CRM contact, account or lead, and the mailbox tracks only email \
             from or to CRM records",
        ),
        TrackFilter::EmailEnabled => (
            "NO_EMAIL_ENABLED_RECORD",
            "no sender or recipient is an email-enabled CRM record, and the mailbox tracks only email from \
             or to such records",
        ),
        TrackFilter::None | TrackFilter::All => {
            ("TRACKING_OFF", "the mailbox tracks no email (its tracking filter is \"none\")")
        }
    }
}

/// Records what processing decided for a parsed message.
#[allow(clippy::too_many_arguments)]
fn seen(
    conn: &Connection,
    ctx: &MailboxContext,
    p: &ParsedEmail,
    src: &Source,
    outcome: Outcome,
    reason: &str,
    detail: String,
    activity_id: Option<i64>,
) -> Result<()> {
    history::record_seen(
        conn,
        &SeenMessage {
            mailbox_id: ctx.mailbox.id,
            run_id: ctx.run_id,
            item_ref: src.item_ref.clone(),
            message_id: p.message_id.clone(),
            subject: Some(p.subject.clone()),
            sender: p.from.as_ref().map(|a| a.address.clone()),
            received_on: Some(to_db(src.received_at.or(p.date).unwrap_or_else(Utc::now))),
            outcome: outcome_str(outcome).into(),
            reason: reason.into(),
            detail,
            activity_id,
        },
    )
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Tracked => "tracked",
        Outcome::NotTracked => "not_tracked",
        Outcome::Failed => "failed",
    }
}

/// Message-ID, subject and sender read straight from the header lines of a
/// message that could not be parsed (so it can still be looked up); nothing
/// for a message never downloaded.
fn headers_of(raw: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let end =
        raw.windows(4).position(|w| w == b"\r\n\r\n").or_else(|| raw.windows(2).position(|w| w == b"\n\n"));
    let head = String::from_utf8_lossy(&raw[..end.unwrap_or(raw.len()).min(64 * 1024)]);
    let field = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string()).filter(|v| !v.is_empty())
        })
    };
    let message_id = field("message-id").map(|v| v.trim_start_matches('<').trim_end_matches('>').to_string());
    (message_id, field("subject"), field("from"))
}

/// Warns that `src` reused the Message-ID of activity `first` with other content.
fn collision_alert(
    conn: &Connection,
    ctx: &MailboxContext,
    p: &ParsedEmail,
    src: &Source,
    first: i64,
    second: i64,
) -> Result<()> {
    if !ctx.settings.bool(BoolSetting::AlertsRecordWarnings) {
        return Ok(());
    }
    let message = format!(
        "message {} (from {}, subject {:?}) has Message-ID <{}> like email activity {first}, but another sender, \
         date or body; kept as a separate email activity {second} instead of merging it into {first}",
        src.item_ref,
        p.from.as_ref().map_or("nobody", |a| a.address.as_str()),
        p.subject,
        p.message_id.as_deref().unwrap_or_default(),
    );
    alerts::raise(
        conn,
        &NewAlert {
            severity: Severity::Warning,
            scope: Scope::Item {
                mailbox_id: ctx.mailbox.id,
                activity_id: Some(second),
                item_ref: Some(src.item_ref.clone()),
            },
            code: "MESSAGE_ID_COLLISION".into(),
            message,
        },
    )?;
    Ok(())
}

fn split_name(name: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(n) = name.map(str::trim).filter(|n| !n.is_empty()) else { return (None, None) };
    match n.rsplit_once(' ') {
        Some((first, last)) => (Some(first.trim().to_string()), Some(last.trim().to_string())),
        None => (None, Some(n.to_string())),
    }
}
