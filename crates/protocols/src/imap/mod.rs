//! The IMAP client on async-imap: select a folder, list new UIDs, fetch
//! messages without marking them \Seen, flag, delete, append, create and
//! subscribe to a folder, search by header and wait for new mail with IDLE.
//!
//! Every network step runs under the settings' timeout (for streamed results:
//! per response, so a large batch on a slow link is not cut off while data is
//! still flowing). After a timeout or I/O error the session is dropped and
//! every later call fails with `CONNECTION_LOST`: reconnect.
//!
//! The session is this module; `connect` opens it, `exec` runs commands
//! under their clocks, [`types`] holds what the client returns and [`wire`]
//! the pure parsing and encoding, tested without a server.

mod connect;
mod exec;
mod folders;
pub mod types;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{MailboxDatum, Response};
use async_imap::types::UnsolicitedResponse;
use tracing::Instrument as _;

use crate::error::{Proto, ProtocolError, Result};
use crate::limits::{COMMAND_BUDGET, Clock, Limits, MIN_RATE};
use crate::peer::Peer;
use crate::settings::ImapSettings;
use connect::{ImapSession, map_imap_error};
use exec::{OpError, append_literal, collect, step};
use types::{
    AppendUid, Capabilities, FetchBatch, FetchedMessage, Folder, FolderStatus, IdleOutcome, SpecialUse,
    TooLarge, flag_name,
};
use wire::uid_set;

/// Longest single IDLE; RFC 2177 servers may drop an IDLE after 30 minutes.
const MAX_IDLE: Duration = Duration::from_secs(25 * 60);

/// An authenticated IMAP session.
#[derive(Debug)]
pub struct ImapClient {
    session: Option<ImapSession>,
    peer: Peer,
    timeout: Duration,
    caps: Capabilities,
    selected: Option<String>,
    exists: u32,
    span: tracing::Span,
    limits: Arc<Limits>,
    op_deadline: Duration,
    /// Total deadline of the operation under way, seconds (for its error).
    op_secs: u64,
    max_message_bytes: u64,
}

impl ImapClient {
    /// Connects (implicit TLS, STARTTLS or plain per `settings.security`) and logs
    /// in: AUTHENTICATE PLAIN when the server announces AUTH=PLAIN, else LOGIN
    /// (or AUTHENTICATE LOGIN when the LOGIN command is disabled).
    /// `Security::None` without `allow_insecure` fails with `PLAINTEXT_REFUSED`
    /// before connecting; the password is never sent over an unencrypted
    /// connection unless `allow_insecure` is set.
    pub async fn connect(settings: &ImapSettings) -> Result<ImapClient> {
        let span = tracing::info_span!(
            "imap",
            host = %settings.host,
            port = settings.port,
            mailbox = %settings.username,
        );
        let peer = Peer::new(Proto::Imap, &settings.host, settings.port);
        let (session, caps, limits) = connect::open(settings, &peer).instrument(span.clone()).await?;
        Ok(ImapClient {
            session: Some(session),
            peer,
            timeout: settings.timeout,
            caps,
            selected: None,
            exists: 0,
            span,
            limits,
            op_deadline: settings.op_deadline,
            op_secs: settings.op_deadline.as_secs(),
            max_message_bytes: settings.max_message_bytes,
        })
    }

    /// Connects (implicit TLS, STARTTLS or plain per `settings.security`), reads
    /// the greeting and the capabilities and says LOGOUT without logging in:
    /// checks that the server answers and its certificate is trusted. The user
    /// name and password in `settings` are not used.
    pub async fn probe(settings: &ImapSettings) -> Result<Capabilities> {
        let span = tracing::info_span!("imap", host = %settings.host, port = settings.port);
        let peer = Peer::new(Proto::Imap, &settings.host, settings.port);
        connect::probe(settings, &peer).instrument(span).await
    }

    /// The capabilities announced after login.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The folder selected last, if any.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    fn op_span(&self, name: &'static str, uid: Option<u32>) -> tracing::Span {
        let folder = self.selected.as_deref().unwrap_or("");
        match uid {
            Some(uid) => tracing::debug_span!(parent: &self.span, "imap_op", op = name, folder, uid),
            None => tracing::debug_span!(parent: &self.span, "imap_op", op = name, folder),
        }
    }

    fn session(&mut self) -> Result<&mut ImapSession> {
        match self.session.as_mut() {
            Some(s) => Ok(s),
            None => Err(self.peer.lost("the session ended after an earlier failure; reconnect")),
        }
    }

    /// Starts an operation that may read `budget` bytes and gets `extra` time
    /// beyond the operation deadline.
    fn begin(&mut self, budget: u64, extra: Duration) -> Clock {
        self.limits.arm(budget);
        let total = self.op_deadline.saturating_add(extra);
        self.op_secs = total.as_secs();
        Clock::start(self.timeout, total)
    }

    /// [`Self::begin`] for an ordinary command.
    fn begin_command(&mut self) -> Clock {
        self.begin(COMMAND_BUDGET, Duration::ZERO)
    }

    fn require_selected(&self, command: &str) -> Result<()> {
        if self.selected.is_none() {
            return Err(self
                .peer
                .protocol(format!("{command} needs a selected folder; call select() first")));
        }
        Ok(())
    }

    /// Maps a step failure, dropping the session when its state is unknown.
    fn settle<T>(&mut self, command: &str, r: std::result::Result<T, OpError>) -> Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(OpError::Timeout) => {
                self.session = None;
                Err(self.peer.timeout(command, self.timeout.as_secs()))
            }
            Err(OpError::Deadline) => {
                self.session = None;
                Err(self.peer.deadline(command, self.op_secs))
            }
            Err(OpError::Imap(e)) => {
                let (err, broken) = map_imap_error(&self.peer, command, e);
                if broken {
                    self.session = None;
                }
                Err(err)
            }
        }
    }

    /// Selects `folder` (UTF-8 name) read-write and reports its UIDVALIDITY, UIDNEXT,
    /// message count and, with CONDSTORE, HIGHESTMODSEQ. A missing folder is
    /// `MAILBOX_NOT_FOUND`.
    pub async fn select(&mut self, folder: &str) -> Result<FolderStatus> {
        let span = tracing::debug_span!(parent: &self.span, "imap_select", folder);
        async {
            let (t, condstore) = (self.begin_command(), self.caps.condstore);
            let wire = wire::encode_folder(folder);
            let session = self.session()?;
            let r = if condstore {
                step(t, session.select_condstore(&wire)).await
            } else {
                step(t, session.select(&wire)).await
            };
            self.selected = None;
            let mailbox = match self.settle("SELECT", r) {
                Err(ProtocolError::CommandFailed { detail, .. }) if wire::says_nonexistent(&detail) => {
                    return Err(ProtocolError::MailboxNotFound {
                        proto: Proto::Imap,
                        host: self.peer.host.clone(),
                        port: self.peer.port,
                        folder: folder.to_string(),
                    });
                }
                other => other?,
            };
            let uidvalidity = mailbox
                .uid_validity
                .ok_or_else(|| self.peer.protocol(format!("SELECT {folder:?} reported no UIDVALIDITY")))?;
            self.selected = Some(folder.to_string());
            self.exists = mailbox.exists;
            let status = FolderStatus {
                uidvalidity,
                uidnext: mailbox.uid_next,
                exists: mailbox.exists,
                highest_modseq: mailbox.highest_modseq,
            };
            tracing::debug!(?status, "selected");
            Ok(status)
        }
        .instrument(span)
        .await
    }

    /// Every folder of the account, names decoded to UTF-8, with special-use attributes.
    pub async fn list_folders(&mut self) -> Result<Vec<Folder>> {
        let span = self.op_span("list", None);
        async {
            let t = self.begin_command();
            let session = self.session()?;
            let r = match step(t, session.list(Some(""), Some("*"))).await {
                Ok(stream) => collect(t, stream).await,
                Err(e) => Err(e),
            };
            let names = self.settle("LIST", r)?;
            Ok(names
                .iter()
                .map(|n| Folder {
                    name: wire::decode_folder(n.name()),
                    delimiter: n.delimiter().map(str::to_string),
                    special_use: n.attributes().iter().find_map(SpecialUse::from_attribute),
                    selectable: !n
                        .attributes()
                        .iter()
                        .any(|a| matches!(a, async_imap::imap_proto::NameAttribute::NoSelect)),
                })
                .collect())
        }
        .instrument(span)
        .await
    }

    /// The folder with special use `which` (RFC 6154); without one, a selectable
    /// folder with a conventional name (`Sent`, `Sent Items`, ...), else `None`.
    pub async fn find_special_use(&mut self, which: SpecialUse) -> Result<Option<String>> {
        let folders = self.list_folders().await?;
        if let Some(f) = folders.iter().find(|f| f.special_use == Some(which) && f.selectable) {
            return Ok(Some(f.name.clone()));
        }
        for wanted in which.fallback_names() {
            let leaf = |f: &Folder| {
                let name = f.name.as_str();
                let last = f.delimiter.as_deref().and_then(|d| name.rsplit(d).next()).unwrap_or(name);
                name.eq_ignore_ascii_case(wanted) || last.eq_ignore_ascii_case(wanted)
            };
            if let Some(f) = folders.iter().find(|f| f.selectable && leaf(f)) {
                return Ok(Some(f.name.clone()));
            }
        }
        Ok(None)
    }

    /// UIDs greater than `after_uid` in the selected folder, ascending.
    /// (`UID SEARCH UID n:*` also matches the last message when n is above the
    /// highest UID; those are filtered out.)
    pub async fn uids_since(&mut self, after_uid: u32) -> Result<Vec<u32>> {
        self.require_selected("UID SEARCH")?;
        let span = self.op_span("uids_since", Some(after_uid));
        async {
            let Some(first) = after_uid.checked_add(1) else { return Ok(Vec::new()) };
            let t = self.begin_command();
            let session = self.session()?;
            let r = step(t, session.uid_search(format!("UID {first}:*"))).await;
            let found = self.settle("UID SEARCH", r)?;
            let mut uids: Vec<u32> = found.into_iter().filter(|&u| u > after_uid).collect();
            uids.sort_unstable();
            Ok(uids)
        }
        .instrument(span)
        .await
    }

    /// The next batch of messages after `after_uid` in the selected folder: at most
    /// `batch_size` messages, ascending by UID, fetched with one
    /// `UID FETCH set (UID FLAGS INTERNALDATE BODY.PEEK[])` (PEEK: nothing is
    /// marked \Seen). Call again with the last UID returned until the result is
    /// empty; commit each batch before marking or deleting anything.
    pub async fn fetch_since(&mut self, after_uid: u32, batch_size: usize) -> Result<Vec<FetchedMessage>> {
        let uids = self.uids_since(after_uid).await?;
        let batch: Vec<u32> = uids.into_iter().take(batch_size.max(1)).collect();
        self.fetch_uids(&batch).await
    }

    /// Fetches the given UIDs of the selected folder (those that still exist),
    /// ascending, without marking them \Seen. Messages over the size limit are
    /// left out (see [`Self::fetch_batch`]).
    pub async fn fetch_uids(&mut self, uids: &[u32]) -> Result<Vec<FetchedMessage>> {
        let mut out = Vec::new();
        let mut rest = uids.to_vec();
        loop {
            let batch = self.fetch_batch(&rest).await?;
            out.extend(batch.messages);
            if batch.deferred.is_empty() {
                return Ok(out);
            }
            rest = batch.deferred;
        }
    }

    /// Fetches the given UIDs of the selected folder without marking them
    /// \Seen: first their sizes (`UID FETCH set (UID RFC822.SIZE)`), then the
    /// whole messages up to the size limit (`BODY.PEEK[]`). Larger messages are
    /// not downloaded and come back in [`FetchBatch::too_large`]. The messages
    /// downloaded together add up to at most the size limit (or are one
    /// message): the UIDs after that come back in [`FetchBatch::deferred`].
    pub async fn fetch_batch(&mut self, uids: &[u32]) -> Result<FetchBatch> {
        self.require_selected("UID FETCH")?;
        if uids.is_empty() {
            return Ok(FetchBatch::default());
        }
        let span = self.op_span("fetch", uids.first().copied());
        async {
            let wanted: std::collections::HashSet<u32> = uids.iter().copied().collect();
            let t = self.begin_command();
            let set = uid_set(uids);
            let session = self.session()?;
            let r = match step(t, session.uid_fetch(&set, "(UID RFC822.SIZE)")).await {
                Ok(stream) => collect(t, stream).await,
                Err(e) => Err(e),
            };
            let sized = self.settle("UID FETCH (RFC822.SIZE)", r)?;
            let mut sizes = std::collections::BTreeMap::new();
            for f in &sized {
                if let (Some(uid), Some(size)) = (f.uid, f.size)
                    && wanted.contains(&uid)
                {
                    sizes.insert(uid, u64::from(size));
                }
            }
            let limit = self.max_message_bytes;
            let max_literal = self.limits.max_literal();
            let mut batch = FetchBatch::default();
            let mut small = Vec::new();
            let mut budget = 1u64 << 20;
            // Bytes of the messages taken so far: a batch holds at most about
            // one size limit in memory (always at least one message).
            let mut taken = 0u64;
            for (i, &uid) in uids.iter().enumerate() {
                let size = sizes.get(&uid).copied().unwrap_or(0);
                if i > 0 && size <= limit && taken.saturating_add(size) > limit {
                    batch.deferred = uids[i..].to_vec();
                    break;
                }
                match sizes.get(&uid) {
                    Some(&size) if size > limit => batch.too_large.push(TooLarge { uid, size }),
                    other => {
                        taken = taken.saturating_add(size);
                        small.push(uid);
                        let expect = other.map_or(max_literal, |&s| (s + s / 2 + (64 << 10)).min(max_literal));
                        budget = budget.saturating_add(expect + (64 << 10));
                    }
                }
            }
            if !batch.too_large.is_empty() {
                tracing::warn!(too_large = ?batch.too_large, limit, "messages over the size limit are not downloaded");
            }
            if small.is_empty() {
                return Ok(batch);
            }
            let asked: std::collections::HashSet<u32> = small.iter().copied().collect();
            let bytes: u64 = small.iter().map(|u| sizes.get(u).copied().unwrap_or(0)).sum();
            let t = self.begin(budget, Duration::from_secs(bytes / MIN_RATE));
            let set = uid_set(&small);
            let session = self.session()?;
            let r = match step(t, session.uid_fetch(&set, "(UID FLAGS INTERNALDATE BODY.PEEK[])")).await {
                Ok(stream) => collect(t, stream).await,
                Err(e) => Err(e),
            };
            let fetches = self.settle("UID FETCH", r)?;
            let mut out: Vec<FetchedMessage> = fetches
                .iter()
                .filter_map(|f| {
                    let uid = f.uid?;
                    // Unsolicited FETCH responses (flag changes) carry no body.
                    let raw = f.body()?.to_vec();
                    Some(FetchedMessage {
                        uid,
                        internal_date: f.internal_date().map(|d| d.to_utc()),
                        flags: f.flags().map(|fl| flag_name(&fl)).collect(),
                        raw,
                    })
                })
                .filter(|m| asked.contains(&m.uid))
                .collect();
            drop(fetches);
            out.sort_by_key(|m| m.uid);
            out.dedup_by_key(|m| m.uid);
            tracing::debug!(requested = uids.len(), fetched = out.len(), "fetched");
            batch.messages = out;
            Ok(batch)
        }
        .instrument(span)
        .await
    }

    async fn store(&mut self, uids: &[u32], query: &str, command: &str) -> Result<()> {
        let t = self.begin_command();
        let set = uid_set(uids);
        let session = self.session()?;
        let r = match step(t, session.uid_store(&set, query)).await {
            Ok(stream) => collect(t, stream).await.map(drop),
            Err(e) => Err(e),
        };
        self.settle(command, r)
    }

    /// Adds \Seen to the given UIDs of the selected folder.
    pub async fn mark_seen(&mut self, uids: &[u32]) -> Result<()> {
        self.require_selected("UID STORE")?;
        if uids.is_empty() {
            return Ok(());
        }
        let span = self.op_span("mark_seen", uids.first().copied());
        self.store(uids, "+FLAGS.SILENT (\\Seen)", "UID STORE").instrument(span).await
    }

    /// Deletes the given UIDs of the selected folder: flags them \Deleted, then
    /// UID EXPUNGE (only these UIDs) with UIDPLUS, else EXPUNGE (which also removes
    /// messages other clients flagged \Deleted).
    pub async fn delete(&mut self, uids: &[u32]) -> Result<()> {
        self.require_selected("UID STORE")?;
        if uids.is_empty() {
            return Ok(());
        }
        let span = self.op_span("delete", uids.first().copied());
        async {
            self.store(uids, "+FLAGS.SILENT (\\Deleted)", "UID STORE").await?;
            let (t, uidplus) = (self.begin_command(), self.caps.uidplus);
            let set = uid_set(uids);
            let session = self.session()?;
            let r = if uidplus {
                match step(t, session.uid_expunge(&set)).await {
                    Ok(stream) => collect(t, stream).await.map(drop),
                    Err(e) => Err(e),
                }
            } else {
                match step(t, session.expunge()).await {
                    Ok(stream) => collect(t, stream).await.map(drop),
                    Err(e) => Err(e),
                }
            };
            self.settle("EXPUNGE", r)
        }
        .instrument(span)
        .await
    }

    /// Appends `raw` to `folder` with `flags` (e.g. `["\\Seen"]`). Returns the new
    /// message's UIDVALIDITY and UID when the server supports UIDPLUS. A missing
    /// folder is `MAILBOX_NOT_FOUND`.
    pub async fn append(&mut self, folder: &str, flags: &[&str], raw: &[u8]) -> Result<Option<AppendUid>> {
        if let Some(bad) = flags.iter().find(|f| !wire::is_flag_atom(f)) {
            return Err(self.peer.invalid(format!("{bad:?} is not a valid IMAP flag")));
        }
        let span = tracing::debug_span!(parent: &self.span, "imap_append", folder, size = raw.len());
        async {
            let t = self.begin(COMMAND_BUDGET, Duration::from_secs(raw.len() as u64 / MIN_RATE));
            let wire = wire::quote(&wire::encode_folder(folder))
                .ok_or_else(|| self.peer.invalid(format!("folder name {folder:?} contains a line break")))?;
            let command = format!("APPEND {wire} ({}) {{{}}}", flags.join(" "), raw.len());
            let session = self.session()?;
            let r = append_literal(t, session, &command, raw).await;
            match self.settle("APPEND", r) {
                Err(ProtocolError::CommandFailed { detail, .. }) if wire::says_nonexistent(&detail) => {
                    Err(ProtocolError::MailboxNotFound {
                        proto: Proto::Imap,
                        host: self.peer.host.clone(),
                        port: self.peer.port,
                        folder: folder.to_string(),
                    })
                }
                other => other,
            }
        }
        .instrument(span)
        .await
    }

    /// UIDs in the selected folder whose header `name` contains `value`
    /// (`UID SEARCH HEADER`), ascending. Used to find a sent message by Message-ID.
    pub async fn search_header(&mut self, name: &str, value: &str) -> Result<Vec<u32>> {
        self.require_selected("UID SEARCH")?;
        let span = self.op_span("search_header", None);
        async {
            let (Some(n), Some(v)) = (wire::quote(name), wire::quote(value)) else {
                return Err(self
                    .peer
                    .invalid("header searches take ASCII names and values without line breaks"));
            };
            let t = self.begin_command();
            let session = self.session()?;
            let r = step(t, session.uid_search(format!("HEADER {n} {v}"))).await;
            let mut uids: Vec<u32> = self.settle("UID SEARCH", r)?.into_iter().collect();
            uids.sort_unstable();
            Ok(uids)
        }
        .instrument(span)
        .await
    }

    /// Keeps the session alive and collects pending notifications (`NOOP`).
    pub async fn noop(&mut self) -> Result<()> {
        let t = self.begin_command();
        let session = self.session()?;
        let r = step(t, session.noop()).await;
        self.settle("NOOP", r)
    }

    /// True when notifications received since the last look announce more messages.
    fn drain_news(&mut self) -> bool {
        let Some(session) = self.session.as_mut() else { return false };
        let mut news = false;
        while let Ok(u) = session.unsolicited_responses.try_recv() {
            match u {
                UnsolicitedResponse::Exists(n) => {
                    news |= n > self.exists;
                    self.exists = n;
                }
                UnsolicitedResponse::Recent(n) if n > 0 => news = true,
                UnsolicitedResponse::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                _ => {}
            }
        }
        news
    }

    /// Waits until the server reports new mail in the selected folder or `wait`
    /// passes (IMAP IDLE; capped at 25 minutes per call). Without IDLE support it
    /// sleeps for `wait` and then polls with NOOP.
    pub async fn idle_wait(&mut self, wait: Duration) -> Result<IdleOutcome> {
        self.require_selected("IDLE")?;
        let span = self.op_span("idle", None);
        async {
            if self.drain_news() {
                return Ok(IdleOutcome::NewMail);
            }
            if !self.caps.idle {
                tokio::time::sleep(wait).await;
                self.noop().await?;
                return Ok(if self.drain_news() { IdleOutcome::NewMail } else { IdleOutcome::TimedOut });
            }
            let t = self.begin(COMMAND_BUDGET, wait.min(MAX_IDLE));
            let session = match self.session.take() {
                Some(s) => s,
                None => return Err(self.peer.lost("the session ended after an earlier failure; reconnect")),
            };
            let mut handle = session.idle();
            if let Err(e) = step(t, handle.init()).await {
                return self.settle("IDLE", Err(e));
            }
            let deadline = tokio::time::Instant::now() + wait.min(MAX_IDLE);
            let outcome = loop {
                let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                if remaining.is_zero() {
                    break Ok(IdleOutcome::TimedOut);
                }
                let (fut, stop) = handle.wait_with_timeout(remaining);
                let r = tokio::time::timeout(remaining, fut).await;
                drop(stop);
                match r {
                    Err(_) | Ok(Ok(IdleResponse::Timeout)) | Ok(Ok(IdleResponse::ManualInterrupt)) => {
                        break Ok(IdleOutcome::TimedOut);
                    }
                    Ok(Ok(IdleResponse::NewData(data))) => match data.parsed() {
                        Response::MailboxData(MailboxDatum::Exists(n)) => {
                            self.exists = *n;
                            break Ok(IdleOutcome::NewMail);
                        }
                        Response::MailboxData(MailboxDatum::Recent(n)) if *n > 0 => {
                            break Ok(IdleOutcome::NewMail);
                        }
                        Response::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                        _ => {}
                    },
                    Ok(Err(e)) => break Err(OpError::Imap(e)),
                }
            };
            let outcome = match outcome {
                Ok(o) => o,
                Err(e) => return self.settle("IDLE", Err(e)),
            };
            let r = step(t, handle.done()).await;
            let session = self.settle("DONE", r)?;
            self.session = Some(session);
            tracing::debug!(?outcome, "idle ended");
            Ok(outcome)
        }
        .instrument(span)
        .await
    }

    /// Ends the session politely (`LOGOUT`).
    pub async fn logout(mut self) -> Result<()> {
        let t = self.begin_command();
        let session = self.session()?;
        let r = step(t, session.logout()).await;
        self.settle("LOGOUT", r)
    }
}
