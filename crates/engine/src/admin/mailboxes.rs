//! Mailboxes: add, update, remove, list, show, with validation.

use crmsync_core::model::{
    ChannelMethod, CredentialSource, IncomingMethod, Mailbox, MailboxData, Owner, Profile, RecordType,
    TrackFilter, TrackFolder,
};
use crmsync_core::secrets::Secret;
use crmsync_core::store::principals::{self, Kind};
use crmsync_core::store::profiles::PasswordChange;
use crmsync_core::store::{mailboxes, profiles, records};
use crmsync_core::time::parse_rfc3339;
use crmsync_core::{CoreError, Store, address};
use rusqlite::Connection;

use super::opt_text;
use crate::backend::factory;
use crate::error::Result;

/// Mailbox fields as the admin typed them; `None` = default on add, unchanged on update.
/// The CLI builds it from its options; the desktop receives it as JSON from its
/// mailbox form. Only deserialized: the password is never written back out.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct MailboxInput {
    /// Profile name (required on add).
    pub profile: Option<String>,
    /// Mailbox user name; defaults to the address.
    pub username: Option<String>,
    /// Mailbox password (an empty string means "not given").
    #[serde(default, deserialize_with = "crmsync_core::secrets::non_empty")]
    pub password: Option<Secret>,
    /// server-side, forward or none.
    pub incoming: Option<String>,
    /// server-side or none.
    pub outgoing: Option<String>,
    /// server-side or none.
    pub act: Option<String>,
    /// all, responses, crm-records, email-enabled, none.
    pub track: Option<String>,
    /// Process mail received after (RFC 3339).
    pub process_from: Option<String>,
    /// Delete mail from the server once committed.
    pub delete_after_processing: Option<bool>,
    /// This is a forward mailbox.
    pub forward_mailbox: Option<bool>,
    /// `FOLDER=TYPE:KEY` entries; when given they replace the current list.
    pub track_folders: Option<Vec<String>>,
}

fn parse_track_folder(conn: &Connection, raw: &str) -> Result<TrackFolder> {
    let field = "track-folder";
    let (folder, target) = raw
        .rsplit_once('=')
        .ok_or_else(|| CoreError::invalid(field, format!("'{raw}' is not FOLDER=TYPE:KEY")))?;
    let (t, key) = target.split_once(':').ok_or_else(|| {
        CoreError::invalid(field, format!("'{target}' is not TYPE:KEY, e.g. account:Contoso"))
    })?;
    let folder = folder.trim();
    if folder.is_empty() {
        return Err(CoreError::invalid(field, "the folder name is empty").into());
    }
    let record_type = RecordType::parse(field, t)?;
    let regarding = records::resolve_ref(conn, field, record_type, key)?;
    Ok(TrackFolder { folder: folder.to_string(), regarding })
}

fn owner_of(conn: &Connection, email: &str) -> Result<Owner> {
    if let Some(u) = principals::find(conn, Kind::User, email)? {
        return Ok(Owner::User { id: u.id, name: u.name });
    }
    if let Some(q) = principals::find(conn, Kind::Queue, email)? {
        return Ok(Owner::Queue { id: q.id, name: q.name });
    }
    Err(CoreError::invalid(
        "email",
        format!("{email} is no user or queue; add it first with `crmsync user add` or `crmsync queue add`"),
    )
    .into())
}

fn build(
    conn: &Connection,
    email: &str,
    input: &MailboxInput,
    base: Option<&Mailbox>,
) -> Result<MailboxData> {
    let email = address::validate("email", email)?;
    let owner = owner_of(conn, &email)?;
    let profile = match (&input.profile, base) {
        (Some(p), _) => profiles::find(conn, p)?
            .ok_or_else(|| CoreError::invalid("profile", format!("no profile named '{p}'")))?,
        (None, Some(b)) => profiles::get_by_id(conn, b.data.profile_id)?,
        (None, None) => {
            return Err(CoreError::invalid("profile", "required: the email server profile to use").into());
        }
    };
    let incoming_method = match (&input.incoming, base) {
        (Some(v), _) => IncomingMethod::parse("incoming", v)?,
        (None, Some(b)) => b.data.incoming_method,
        (None, None) => IncomingMethod::ServerSide,
    };
    let outgoing_method = match (&input.outgoing, base) {
        (Some(v), _) => ChannelMethod::parse("outgoing", v)?,
        (None, Some(b)) => b.data.outgoing_method,
        (None, None) => ChannelMethod::ServerSide,
    };
    let act_method = match (&input.act, base) {
        (Some(v), _) => ChannelMethod::parse("act", v)?,
        (None, Some(b)) => b.data.act_method,
        (None, None) => ChannelMethod::None,
    };
    let track = match (&input.track, base) {
        (Some(v), _) => TrackFilter::parse("track", v)?,
        (None, Some(b)) => b.data.track,
        (None, None) => TrackFilter::Responses,
    };
    let process_from = match (&input.process_from, base) {
        (Some(p), _) if p.trim().is_empty() => None,
        (Some(p), _) => Some(parse_rfc3339("process-from", p)?),
        (None, Some(b)) => b.data.process_from,
        (None, None) => None,
    };
    let is_forward_mailbox =
        input.forward_mailbox.or(base.map(|b| b.data.is_forward_mailbox)).unwrap_or(false);
    let delete_after_processing =
        input.delete_after_processing.or(base.map(|b| b.data.delete_after_processing)).unwrap_or(false);
    let username = match (&input.username, base) {
        (Some(u), _) => opt_text(Some(u)),
        (None, Some(b)) => b.data.username.clone(),
        (None, None) => None,
    };
    let track_folders = match (&input.track_folders, base) {
        (Some(list), _) => list.iter().map(|r| parse_track_folder(conn, r)).collect::<Result<Vec<_>>>()?,
        (None, Some(b)) => b.data.track_folders.clone(),
        (None, None) => Vec::new(),
    };
    for (i, f) in track_folders.iter().enumerate() {
        if track_folders[..i].iter().any(|g| g.folder == f.folder) {
            return Err(
                CoreError::invalid("track-folder", format!("folder '{}' is mapped twice", f.folder)).into()
            );
        }
    }

    // Cross-field rules, in the words of the admin's options.
    let is_queue = matches!(owner, Owner::Queue { .. });
    if delete_after_processing && !(is_queue || is_forward_mailbox) {
        return Err(CoreError::invalid(
            "delete-after-processing",
            "only queue mailboxes and forward mailboxes may delete processed mail from the server",
        )
        .into());
    }
    if incoming_method == IncomingMethod::ServerSide
        && factory::facts(profile.data.kind).incoming_proto.is_some()
        && profile.data.incoming.is_none()
    {
        return Err(CoreError::invalid(
            "incoming",
            format!("profile '{}' has no incoming server", profile.data.name),
        )
        .into());
    }
    if is_forward_mailbox && incoming_method != IncomingMethod::ServerSide {
        return Err(
            CoreError::invalid("incoming", "a forward mailbox must fetch its mail server-side").into()
        );
    }
    if outgoing_method == ChannelMethod::ServerSide
        && factory::facts(profile.data.kind).outgoing_endpoint
        && profile.data.outgoing.is_none()
    {
        return Err(CoreError::invalid(
            "outgoing",
            format!("profile '{}' has no outgoing server", profile.data.name),
        )
        .into());
    }
    if act_method == ChannelMethod::ServerSide
        && profile.data.dav_url.is_none()
        && !factory::facts(profile.data.kind).items_on_mail_server
    {
        return Err(CoreError::invalid(
            "act",
            format!("profile '{}' has neither --dav-url nor an Exchange server for appointments, contacts and tasks", profile.data.name),
        )
        .into());
    }
    if input.password.is_some() && profile.data.credentials == CredentialSource::Profile {
        return Err(CoreError::invalid(
            "password",
            format!(
                "profile '{}' uses its own credentials for every mailbox (--credentials profile)",
                profile.data.name
            ),
        )
        .into());
    }
    Ok(MailboxData {
        email,
        owner,
        profile_id: profile.id,
        username,
        incoming_method,
        outgoing_method,
        act_method,
        track,
        process_from,
        delete_after_processing,
        is_forward_mailbox,
        track_folders,
    })
}

/// Validates and inserts a mailbox inside a transaction; `password_enc` is sealed already.
pub(crate) fn add_in(
    tx: &Connection,
    email: &str,
    input: &MailboxInput,
    password_enc: Option<&[u8]>,
) -> Result<i64> {
    let data = build(tx, email, input, None)?;
    if mailboxes::find(tx, &data.email)?.is_some() {
        return Err(
            CoreError::invalid("email", format!("a mailbox for {} already exists", data.email)).into()
        );
    }
    Ok(mailboxes::insert(tx, &data, password_enc)?)
}

/// Validates and applies a mailbox update inside a transaction.
pub(crate) fn update_in(
    tx: &Connection,
    current: &Mailbox,
    input: &MailboxInput,
    password: &PasswordChange,
) -> Result<()> {
    let data = build(tx, &current.data.email, input, Some(current))?;
    Ok(mailboxes::update(tx, current.id, &data, password)?)
}

/// Adds a mailbox for an existing user or queue.
pub fn add(store: &mut Store, email: &str, input: &MailboxInput) -> Result<Mailbox> {
    // Validate before the credential key is created or loaded.
    build(store.conn(), email, input, None)?;
    let enc = match &input.password {
        Some(p) => Some(store.cipher()?.seal(p)),
        None => None,
    };
    let id = store.write(|tx| add_in(tx, email, input, enc.as_deref()))?;
    Ok(mailboxes::get_by_id(store.conn(), id)?)
}

/// Updates a mailbox; only the given fields change.
pub fn update(store: &mut Store, email: &str, input: &MailboxInput) -> Result<Mailbox> {
    let current = show(store, email)?;
    build(store.conn(), &current.data.email, input, Some(&current))?;
    let change = match &input.password {
        Some(p) => PasswordChange::Set(store.cipher()?.seal(p)),
        None => PasswordChange::Keep,
    };
    store.write(|tx| update_in(tx, &current, input, &change))?;
    Ok(mailboxes::get_by_id(store.conn(), current.id)?)
}

/// Why a mailbox cannot work yet for want of credentials, if it cannot: Test &
/// Enable reports this before it tries to connect (e.g. after a migration from
/// the Email Router, whose passwords cannot be read).
pub fn credentials_missing(profile: &Profile, mailbox: &Mailbox) -> Option<String> {
    match profile.data.credentials {
        CredentialSource::Profile if !profile.has_password => Some(format!(
            "credentials required: profile '{}' has no password for {}; set it with `crmsync profile update '{}' --password-stdin`",
            profile.data.name,
            profile.data.username.as_deref().unwrap_or("its account"),
            profile.data.name
        )),
        CredentialSource::Mailbox if mailbox.credentials_required || !mailbox.has_password => Some(format!(
            "credentials required: mailbox {} has no password; set it with `crmsync mailbox update {} --password-stdin`",
            mailbox.data.email, mailbox.data.email
        )),
        _ => None,
    }
}

/// Removes a mailbox and its sync state (tracked email stays in the CRM).
pub fn remove(store: &mut Store, email: &str) -> Result<()> {
    let mb = show(store, email)?;
    store.write(|tx| mailboxes::delete(tx, mb.id))?;
    Ok(())
}

/// All mailboxes.
pub fn list(store: &Store) -> Result<Vec<Mailbox>> {
    Ok(mailboxes::list(store.conn())?)
}

/// One mailbox by address.
pub fn show(store: &Store, email: &str) -> Result<Mailbox> {
    mailboxes::find(store.conn(), email)?
        .ok_or_else(|| CoreError::invalid("email", format!("no mailbox for {email}")).into())
}
