//! Creating outgoing email in the CRM (`email send`), submitting drafts and
//! canceling mail not yet sent. Everything is validated before anything is
//! written: bad input is one field-naming error and an unchanged store.

use std::path::{Path, PathBuf};

use crmsync_core::correlation;
use crmsync_core::model::{ChannelMethod, Mailbox, Owner, RecordRef, RecordType};
use crmsync_core::resolution::{self, Party, Role};
use crmsync_core::settings::{BoolSetting, IntSetting, TextSetting};
use crmsync_core::store::activities::{self, ActivityView};
use crmsync_core::store::emails::{self, Lookups, NewAttachment, NewEmail};
use crmsync_core::store::{mailboxes, outbox, records, settings as stored_settings};
use crmsync_core::time::{now_db, parse_rfc3339, to_db};
use crmsync_core::tracking::TokenFormat;
use crmsync_core::{CoreError, Store, address};
use crmsync_protocols::compose::new_message_id;
use rusqlite::OptionalExtension;

use crate::error::{EngineError, Result};

/// `email send` as the admin (or the UI) typed it.
#[derive(Debug, Clone, Default)]
pub struct SendInput {
    /// The sending user's or queue's address (its mailbox sends).
    pub from: String,
    /// To recipients; each entry may hold several addresses separated by commas.
    pub to: Vec<String>,
    /// Cc recipients.
    pub cc: Vec<String>,
    /// Bcc recipients.
    pub bcc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: Option<String>,
    /// File holding the plain-text body (UTF-8).
    pub body_file: Option<PathBuf>,
    /// File holding the HTML alternative (UTF-8).
    pub html_file: Option<PathBuf>,
    /// Files to attach.
    pub attach: Vec<PathBuf>,
    /// TYPE:KEY of the record the email regards.
    pub regarding: Option<String>,
    /// Activity id of the email this one answers.
    pub in_reply_to: Option<String>,
    /// Send no earlier than this (RFC 3339).
    pub send_at: Option<String>,
    /// Keep it as a draft (not sent until `email submit`).
    pub draft: bool,
}

/// Parses `Name <addr>` or `addr` lists separated by commas.
fn parse_addresses(field: &str, raw: &[String]) -> Result<Vec<(String, Option<String>)>> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for entry in raw {
        for item in entry.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, addr) = match (item.rfind('<'), item.ends_with('>')) {
                (Some(lt), true) => {
                    let name = item[..lt].trim().trim_matches('"').trim();
                    (Some(name.to_string()).filter(|n| !n.is_empty()), &item[lt + 1..item.len() - 1])
                }
                _ => (None, item),
            };
            let addr = address::validate(field, addr)?;
            if !out.iter().any(|(a, _)| a.eq_ignore_ascii_case(&addr)) {
                out.push((addr, name));
            }
        }
    }
    Ok(out)
}

fn read_file(field: &str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| EngineError::ReadFile {
        field: field.into(),
        path: path.display().to_string(),
        source,
    })
}

fn read_text(field: &str, path: &Path) -> Result<String> {
    String::from_utf8(read_file(field, path)?)
        .map_err(|_| CoreError::invalid(field, format!("{} is not UTF-8 text", path.display())).into())
}

/// A MIME type from the file extension (the common office types; else octet-stream).
pub fn mime_type_for(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "ics" => "text/calendar",
        "vcf" => "text/vcard",
        "zip" => "application/zip",
        "json" => "application/json",
        "xml" => "application/xml",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "eml" => "message/rfc822",
        _ => "application/octet-stream",
    }
}

fn owner_ref(mb: &Mailbox) -> RecordRef {
    match &mb.data.owner {
        Owner::User { id, name } => RecordRef { record_type: RecordType::User, id: *id, name: name.clone() },
        Owner::Queue { id, name } => {
            RecordRef { record_type: RecordType::Queue, id: *id, name: name.clone() }
        }
    }
}

/// The mailbox `email` sends from, or a field-naming error when it cannot send.
fn sender_mailbox(store: &Store, field: &str, email: &str, must_be_enabled: bool) -> Result<Mailbox> {
    let email = address::validate(field, email)?;
    let mb = mailboxes::find(store.conn(), &email)?.ok_or_else(|| {
        CoreError::invalid(
            field,
            format!("{email} has no mailbox; add one with `crmsync mailbox add {email}`"),
        )
    })?;
    if mb.data.outgoing_method != ChannelMethod::ServerSide {
        return Err(CoreError::invalid(
            field,
            format!(
                "the mailbox {email} does not send email (outgoing is none); `crmsync mailbox update {email} --outgoing server-side`"
            ),
        )
        .into());
    }
    if must_be_enabled && !mb.outgoing.enabled {
        return Err(CoreError::invalid(
            field,
            format!("outgoing email is not enabled for {email}; run `crmsync mailbox test-enable {email}`"),
        )
        .into());
    }
    Ok(mb)
}

fn parse_id(raw: &str) -> Result<i64> {
    raw.trim().parse().map_err(|_| CoreError::invalid("id", format!("'{raw}' is not an activity id")).into())
}

/// The parent of a reply: (Message-ID, References of the reply, regarding).
fn parent_of(store: &Store, raw: &str) -> Result<(String, Vec<String>, Option<RecordRef>)> {
    let field = "in-reply-to";
    let id: i64 = raw
        .trim()
        .parse()
        .map_err(|_| CoreError::invalid(field, format!("'{raw}' is not an activity id")))?;
    let row: Option<(Option<String>, Option<String>)> = store
        .conn()
        .query_row("SELECT message_id, references_ids FROM emails WHERE activity_id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(CoreError::from)?;
    let (mid, refs) = row.ok_or_else(|| CoreError::invalid(field, format!("no email activity {id}")))?;
    let mid = mid.ok_or_else(|| {
        CoreError::invalid(field, format!("email {id} has no Message-ID, so a reply cannot refer to it"))
    })?;
    let mut references: Vec<String> =
        refs.map(|r| r.split_whitespace().map(str::to_string).collect()).unwrap_or_default();
    references.retain(|r| r != &mid);
    references.push(mid.clone());
    let regarding = activities::show(store.conn(), id)?.regarding;
    Ok((mid, references, regarding))
}

/// Creates an outgoing email activity (Pending Send, or Draft) and returns it.
pub fn send(store: &mut Store, input: &SendInput) -> Result<ActivityView> {
    let settings = stored_settings::load(store.conn())?;
    let mb = sender_mailbox(store, "from", &input.from, !input.draft)?;
    let to = parse_addresses("to", &input.to)?;
    let cc = parse_addresses("cc", &input.cc)?;
    let bcc = parse_addresses("bcc", &input.bcc)?;
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(CoreError::invalid("to", "at least one recipient is needed (--to, --cc or --bcc)").into());
    }
    let subject = input.subject.trim().to_string();
    if subject.chars().any(char::is_control) {
        return Err(CoreError::invalid("subject", "must be one line").into());
    }
    let body_text = match (&input.body, &input.body_file) {
        (Some(_), Some(_)) => {
            return Err(CoreError::invalid("body-file", "give --body or --body-file, not both").into());
        }
        (Some(b), None) => Some(b.clone()),
        (None, Some(f)) => Some(read_text("body-file", f)?),
        (None, None) => None,
    };
    let body_html = input.html_file.as_deref().map(|f| read_text("html-file", f)).transpose()?;
    if body_text.is_none() && body_html.is_none() {
        return Err(CoreError::invalid("body", "give --body, --body-file or --html-file").into());
    }
    let limit_kb = settings.int(IntSetting::AttachmentsMaxSizeKb);
    let mut attachments = Vec::new();
    for path in &input.attach {
        let content = read_file("attach", path)?;
        if content.len() as i64 > limit_kb * 1024 {
            return Err(CoreError::invalid(
                "attach",
                format!(
                    "{} is {} KB, over the attachment limit of {limit_kb} KB (setting attachments.max_size_kb)",
                    path.display(),
                    content.len().div_ceil(1024)
                ),
            )
            .into());
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| CoreError::invalid("attach", format!("{} is not a file", path.display())))?;
        attachments.push(NewAttachment {
            mime_type: mime_type_for(&file_name).to_string(),
            size: content.len() as i64,
            file_name,
            content: Some(content),
        });
    }
    let mut regarding = match &input.regarding {
        Some(r) => {
            let (t, k) = r
                .split_once(':')
                .ok_or_else(|| CoreError::invalid("regarding", format!("'{r}' is not TYPE:KEY")))?;
            let rt = RecordType::parse("regarding", t)?;
            Some(records::resolve_ref(store.conn(), "regarding", rt, k)?)
        }
        None => None,
    };
    let (in_reply_to, references) = match &input.in_reply_to {
        Some(raw) => {
            let (mid, refs, parent_regarding) = parent_of(store, raw)?;
            if regarding.is_none() {
                regarding = parent_regarding;
            }
            (Some(mid), refs)
        }
        None => (None, Vec::new()),
    };
    let send_at = input.send_at.as_deref().map(|s| parse_rfc3339("send-at", s)).transpose()?.map(to_db);

    let token_format = TokenFormat {
        prefix: settings.text(TextSetting::TrackingTokenPrefix).to_string(),
        digits: settings.int(IntSetting::TrackingTokenDigits) as usize,
    };
    let owner = owner_ref(&mb);
    let domain = mb.data.email.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
    let message_id = new_message_id(&domain);
    let ropts = resolution::Options {
        unresolved_when_ambiguous: settings.bool(BoolSetting::ResolutionUnresolvedWhenAmbiguous),
    };
    let status = if input.draft { "draft" } else { "pending_send" };
    let id = store.write(|tx| -> Result<i64> {
        let lookups = Lookups::new(tx);
        let mut parties: Vec<Party> = vec![Party {
            role: Role::From,
            address: address::normalize(&mb.data.email),
            name: Some(owner.name.clone()),
            record: Some(owner.clone()),
        }];
        for (role, list) in [(Role::To, &to), (Role::Cc, &cc), (Role::Bcc, &bcc)] {
            for (addr, name) in list {
                parties.extend(resolution::resolve(role, addr, name.as_deref(), &lookups, ropts));
            }
        }
        let tracking_token = if settings.bool(BoolSetting::TrackingTokenEnabled) {
            Some(token_format.format(emails::next_token_number(tx)?))
        } else {
            None
        };
        let norm = correlation::normalize_subject(&subject, &token_format);
        let (owner_user_id, owner_queue_id) = match owner.record_type {
            RecordType::Queue => (None, Some(owner.id)),
            _ => (Some(owner.id), None),
        };
        let new = NewEmail {
            direction: "outgoing",
            status,
            subject: subject.clone(),
            body_text: body_text.clone(),
            body_html: body_html.clone(),
            message_id: Some(message_id.clone()),
            dedupe_key: message_id.clone(),
            in_reply_to: in_reply_to.clone(),
            references: (!references.is_empty()).then(|| references.join(" ")),
            tracking_token,
            correlation_method: if in_reply_to.is_some() { "in_reply_to" } else { "none" },
            subject_hash: correlation::subject_hash(&norm),
            regarding: regarding.clone(),
            owner_user_id,
            owner_queue_id,
            sender_mailbox_id: Some(mb.id),
            received_on: None,
            send_at: send_at.clone(),
            flags: Vec::new(),
            parties,
            attachments: attachments.clone(),
        };
        let id = emails::insert(tx, &new)?;
        outbox::mark_open(tx, id)?;
        Ok(id)
    })?;
    Ok(activities::show(store.conn(), id)?)
}

/// Moves a draft (or a failed email) to Pending Send.
pub fn submit(store: &mut Store, id: &str) -> Result<ActivityView> {
    let id = parse_id(id)?;
    let view = activities::show(store.conn(), id)?;
    if view.direction.as_deref() == Some("outgoing") {
        let sender = view.sender_mailbox.clone().ok_or_else(|| {
            CoreError::invalid("id", format!("email {id} has no sender mailbox any more; create it again"))
        })?;
        sender_mailbox(store, "id", &sender, true)?;
    }
    store.write(|tx| outbox::submit(tx, id, &now_db()))?;
    Ok(activities::show(store.conn(), id)?)
}

/// Cancels an email that is not sent yet (draft, pending or failed).
pub fn cancel(store: &mut Store, id: &str) -> Result<ActivityView> {
    let id = parse_id(id)?;
    store.write(|tx| outbox::cancel(tx, id, &now_db()))?;
    Ok(activities::show(store.conn(), id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_accept_names_commas_and_repeats() {
        let got = parse_addresses(
            "to",
            &["Zoë Ö <zoe@example.test>, bob@example.test".into(), "BOB@example.test".into()],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![("zoe@example.test".into(), Some("Zoë Ö".into())), ("bob@example.test".into(), None)]
        );
        let e = parse_addresses("cc", &["not-an-address".into()]).unwrap_err().to_string();
        assert!(e.starts_with("cc: "), "{e}");
    }

    #[test]
    fn mime_types_follow_the_extension() {
        assert_eq!(mime_type_for("Quote.PDF"), "application/pdf");
        assert_eq!(mime_type_for("noext"), "application/octet-stream");
    }
}
