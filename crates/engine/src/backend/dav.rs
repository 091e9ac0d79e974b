//! The CalDAV/CardDAV backend: an item store for appointments, tasks and
//! contacts. Changes are listed with sync-collection (RFC 6578) and the
//! stored token; a server without it is listed by CTag and ETags.

use std::collections::BTreeMap;
use std::time::Duration;

use crmsync_protocols::ProtocolError;
use crmsync_protocols::dav::{self, Changes, DavAuth, DavClient, SyncOutcome, WriteError};
use futures::future::BoxFuture;

use super::capability::{FoundCollection, Fut, ItemStore, Listing, StoreAnswer};
use crate::error::Result;

/// A CalDAV/CardDAV server (one URL) as an item store.
pub struct DavItemStore {
    url: String,
    login: Option<DavAuth>,
    timeout: Duration,
    client: DavClient,
}

impl DavItemStore {
    /// A store at `url`, logging in as `login` when given (HTTP Basic, or an
    /// OAuth2 bearer token). A plaintext
    /// `http://` URL is refused unless the profile allows it
    /// ([`dav::check_plaintext`], the one place of that rule). Responses are
    /// bounded by `max_response_mb`.
    pub fn new(
        url: &str,
        allow_insecure: bool,
        login: Option<DavAuth>,
        timeout: Duration,
        max_response_mb: u64,
    ) -> Result<DavItemStore> {
        dav::check_plaintext(url, allow_insecure)?;
        let auth = login.clone().unwrap_or(DavAuth::Basic { user: String::new(), password: "".into() });
        let client = DavClient::with_auth(url, auth, timeout, &[])?.with_max_response_mb(max_response_mb);
        Ok(DavItemStore { url: url.to_string(), login, timeout, client })
    }
}

fn slash(s: &str) -> String {
    if s.ends_with('/') { s.to_string() } else { format!("{s}/") }
}

impl ItemStore for DavItemStore {
    fn describe(&self) -> String {
        format!("CalDAV/CardDAV {}", self.url)
    }

    /// Asks the server for the current user principal.
    fn probe(&self) -> Fut<'_, StoreAnswer> {
        Box::pin(async move {
            let none = DavAuth::Basic { user: String::new(), password: "".into() };
            let auth = self.login.as_ref().unwrap_or(&none);
            match dav::probe::probe_with(&self.url, auth, self.timeout, &[]).await {
                Ok(()) if self.login.is_some() => Ok(StoreAnswer::LoggedIn),
                Ok(()) => Ok(StoreAnswer::Answered),
                Err(ProtocolError::AuthFailed { .. }) if self.login.is_none() => {
                    Ok(StoreAnswer::AsksForLogin)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Discovers the principal's calendar and address book homes and the
    /// collections in them; with `create`, makes a calendar, a task list and
    /// an address book where the homes have none.
    fn collections(&self, create: bool) -> Fut<'_, Vec<FoundCollection>> {
        Box::pin(async move {
            let client = &self.client;
            let mut d = client.discover().await?;
            if create
                && d.calendar_for("VEVENT").is_none()
                && let Some(home) = d.calendar_home.clone()
            {
                let url = format!("{}crmsync-calendar/", slash(&home));
                client.mkcalendar(&url, "CRM appointments", &["VEVENT", "VTODO"]).await?;
                d = client.discover().await?;
            }
            if create
                && d.calendar_for("VTODO").is_none()
                && let Some(home) = d.calendar_home.clone()
            {
                client
                    .mkcalendar(&format!("{}crmsync-tasks/", slash(&home)), "CRM tasks", &["VTODO"])
                    .await?;
                d = client.discover().await?;
            }
            if create
                && d.addressbooks.is_empty()
                && let Some(home) = d.addressbook_home.clone()
            {
                client.mkaddressbook(&format!("{}crmsync-contacts/", slash(&home)), "CRM contacts").await?;
                d = client.discover().await?;
            }
            let picks = [
                ("calendar", d.calendar_for("VEVENT").cloned()),
                ("tasks", d.calendar_for("VTODO").cloned()),
                ("contacts", d.addressbooks.first().cloned()),
            ];
            Ok(picks
                .into_iter()
                .filter_map(|(kind, c)| {
                    c.map(|c| FoundCollection { kind, url: c.url, display_name: c.display_name })
                })
                .collect())
        })
    }

    fn list<'a>(
        &'a self,
        url: &'a str,
        token: Option<&'a str>,
        ctag: Option<&'a str>,
        known: &'a BTreeMap<String, String>,
    ) -> Fut<'a, Listing> {
        Box::pin(async move {
            let client = &self.client;
            let mut outcome = client.sync_collection(url, token).await?;
            let mut how = if token.is_some() { "sync-token" } else { "initial" };
            if outcome == SyncOutcome::InvalidToken {
                outcome = client.sync_collection(url, None).await?;
                how = "initial";
            }
            match outcome {
                SyncOutcome::Changes(c) => {
                    let mut members = if how == "sync-token" { known.clone() } else { BTreeMap::new() };
                    for h in c.removed {
                        members.remove(&h);
                    }
                    for (h, e) in c.changed {
                        members.insert(h, e);
                    }
                    Ok(Listing { members, token: c.token, ctag: None, how })
                }
                _ => {
                    let (now, _) = client.collection_state(url).await?;
                    if now.is_some() && now.as_deref() == ctag {
                        return Ok(Listing {
                            members: known.clone(),
                            token: None,
                            ctag: now,
                            how: "ctag-unchanged",
                        });
                    }
                    let members = client.list_etags(url).await?.into_iter().collect();
                    Ok(Listing { members, token: None, ctag: now, how: "etags" })
                }
            }
        })
    }

    fn changes_since<'a>(&'a self, url: &'a str, token: &'a str) -> Fut<'a, Option<Changes>> {
        Box::pin(async move {
            match self.client.sync_collection(url, Some(token)).await? {
                SyncOutcome::Changes(c) => Ok(Some(c)),
                _ => Ok(None),
            }
        })
    }

    fn read_many<'a>(
        &'a self,
        url: &'a str,
        hrefs: &'a [String],
        contacts: bool,
    ) -> Fut<'a, Vec<(String, String, String)>> {
        Box::pin(async move { Ok(self.client.multiget(url, hrefs, contacts).await?) })
    }

    fn read<'a>(&'a self, href: &'a str) -> Fut<'a, Option<(String, String)>> {
        Box::pin(async move { Ok(self.client.get(href).await?) })
    }

    fn write<'a>(
        &'a self,
        href: &'a str,
        body: String,
        content_type: &'a str,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<String, WriteError>> {
        Box::pin(self.client.put(href, body, content_type, if_match))
    }

    fn delete<'a>(
        &'a self,
        href: &'a str,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, std::result::Result<(), WriteError>> {
        Box::pin(self.client.delete(href, etag))
    }

    fn path(&self, url: &str) -> String {
        self.client.path(url)
    }

    fn requests(&self) -> usize {
        self.client.requests()
    }
}
