//! A stored outgoing email → the message to compose and its SMTP envelope.

use chrono::{DateTime, Utc};
use crmsync_core::settings::{IntSetting, Settings};
use crmsync_core::store::outbox::{Addressee, Outgoing};
use crmsync_core::tracking::subject_with_token;
use crmsync_protocols::compose::{OutgoingAttachment, OutgoingMessage};
use crmsync_protocols::mime::EmailAddress;

fn addr(a: &Addressee) -> EmailAddress {
    EmailAddress { address: a.address.clone(), name: a.name.clone() }
}

/// The subject as sent: the tracking token appended (when the email has one)
/// and the whole cut to `email.max_subject_length` characters.
pub fn sent_subject(o: &Outgoing, settings: &Settings) -> String {
    let max = settings.int(IntSetting::EmailMaxSubjectLength).max(1) as usize;
    match &o.tracking_token {
        Some(token) => subject_with_token(&o.subject, token, max),
        None => o.subject.chars().take(max).collect(),
    }
}

/// The message to compose for `o`, dated `date`.
pub fn outgoing_message(o: &Outgoing, settings: &Settings, date: DateTime<Utc>) -> OutgoingMessage {
    OutgoingMessage {
        from: addr(&o.from),
        to: o.to.iter().map(addr).collect(),
        cc: o.cc.iter().map(addr).collect(),
        bcc: o.bcc.iter().map(addr).collect(),
        subject: sent_subject(o, settings),
        text: o.body_text.clone(),
        html: o.body_html.clone(),
        attachments: o
            .attachments
            .iter()
            .map(|a| OutgoingAttachment {
                name: a.file_name.clone(),
                mime_type: a.mime_type.clone(),
                content: a.content.clone(),
            })
            .collect(),
        message_id: o.message_id.clone(),
        in_reply_to: o.in_reply_to.clone(),
        references: o.references.clone(),
        date,
    }
}

/// Envelope recipients: To, Cc and Bcc, each address once.
pub fn envelope_recipients(o: &Outgoing) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in o.to.iter().chain(&o.cc).chain(&o.bcc) {
        if !out.iter().any(|x| x.eq_ignore_ascii_case(&a.address)) {
            out.push(a.address.clone());
        }
    }
    out
}
