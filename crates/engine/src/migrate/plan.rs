//! The migration plan: a pure function from the parsed router files and a
//! snapshot of the store to what a migration would create, reuse, update and
//! leave out. Nothing here reads files or the store; [`Snapshot::read`] takes
//! the snapshot, [`super::apply`] carries a plan out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use crmsync_core::model::{
    ChannelMethod, CredentialSource, IncomingMethod, Mailbox, Principal, Profile, ProfileData,
};
use crmsync_core::store::principals::Kind;
use crmsync_core::store::{mailboxes, principals, profiles};
use rusqlite::Connection;

pub use super::report::*;

use super::mapping::{self, Mapped, Pair, ProfileSpec};
use super::router::{Direction, ProviderBlock};
use super::{MigrationOptions, RouterFiles, Warning};
use crate::error::Result;

/// The store's profiles, mailboxes, users and queues at planning time.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every profile.
    pub profiles: Vec<Profile>,
    /// Every mailbox.
    pub mailboxes: Vec<Mailbox>,
    /// Every user.
    pub users: Vec<Principal>,
    /// Every queue.
    pub queues: Vec<Principal>,
}

impl Snapshot {
    /// Reads the snapshot (inside a transaction when it is used to apply).
    pub fn read(conn: &Connection) -> Result<Snapshot> {
        Ok(Snapshot {
            profiles: profiles::list(conn)?,
            mailboxes: mailboxes::list(conn)?,
            users: principals::list(conn, Kind::User)?,
            queues: principals::list(conn, Kind::Queue)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Queue(String),
    Address(String),
}

/// A user, queue or address as the router lists it, with its providers.
#[derive(Debug, Clone)]
struct RouterEntry {
    key: Key,
    incoming: Option<usize>,
    outgoing: Option<usize>,
    forward: bool,
}

/// A router entry placed on a crmsync owner.
#[derive(Debug, Clone)]
struct Placed {
    email: String,
    kind: OwnerKind,
    /// The owner must be created first (it is no crmsync user or queue yet).
    new_owner: Option<PlannedPrincipal>,
    incoming: Option<usize>,
    outgoing: Option<usize>,
    forward: bool,
}

fn norm_url(s: &str) -> String {
    s.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn profile_key(d: &ProfileData) -> String {
    let d = ProfileData { name: String::new(), ..d.clone() };
    serde_json::to_string(&d).unwrap_or_default().to_lowercase()
}

fn block_item(b: &ProviderBlock) -> String {
    format!("provider {} ({})", b.display_name(), b.path)
}

/// Collects the router's users, queues and addresses with their providers, in file order.
fn collect(blocks: &[&ProviderBlock], plan: &mut MigrationPlan, file: &str) -> Vec<RouterEntry> {
    let mut entries: Vec<RouterEntry> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for (bi, b) in blocks.iter().enumerate() {
        let keys: Vec<Key> = if b.forward_mailbox {
            b.addresses.iter().map(|a| Key::Address(a.value.to_lowercase())).collect()
        } else {
            let users = b.user_ids.iter().map(|l| Key::User(l.value.clone()));
            let queues = b.queue_ids.iter().map(|l| Key::Queue(l.value.clone()));
            let addrs = b.addresses.iter().map(|a| Key::Address(a.value.to_lowercase()));
            users.chain(queues).chain(addrs).collect()
        };
        if keys.is_empty() && b.provider_type.is_migratable() {
            plan.warn(Warning {
                file: Some(file.into()),
                path: Some(b.path.clone()),
                line: Some(b.line),
                message: "serves no users or queues; nothing to migrate from it".into(),
            });
        }
        for key in keys {
            let i = *index.entry(key.clone()).or_insert_with(|| {
                entries.push(RouterEntry { key, incoming: None, outgoing: None, forward: false });
                entries.len() - 1
            });
            let e = &mut entries[i];
            e.forward |= b.forward_mailbox;
            let slot = match b.direction {
                Direction::Inbound => &mut e.incoming,
                Direction::Outbound => &mut e.outgoing,
            };
            match slot {
                None => *slot = Some(bi),
                Some(first) => plan.warn(Warning {
                    file: Some(file.into()),
                    path: Some(b.path.clone()),
                    line: Some(b.line),
                    message: format!(
                        "{} is listed in a second {} provider; {} is used",
                        describe(&e.key),
                        if b.direction == Direction::Inbound { "incoming" } else { "outgoing" },
                        blocks[*first].display_name()
                    ),
                }),
            }
        }
    }
    entries
}

fn describe(k: &Key) -> String {
    match k {
        Key::User(id) => format!("CRM user {id}"),
        Key::Queue(id) => format!("CRM queue {id}"),
        Key::Address(a) => a.clone(),
    }
}

fn find<'a>(list: &'a [Principal], email: &str) -> Option<&'a Principal> {
    list.iter().find(|p| p.email.eq_ignore_ascii_case(email))
}

/// Places router entries on crmsync owners (existing or to create), merged by address.
fn place(
    entries: Vec<RouterEntry>,
    files: &RouterFiles,
    snap: &Snapshot,
    plan: &mut MigrationPlan,
) -> Vec<Placed> {
    let mut placed: Vec<Placed> = Vec::new();
    for e in entries {
        let existing = |email: &str| {
            find(&snap.users, email)
                .map(|_| OwnerKind::User)
                .or_else(|| find(&snap.queues, email).map(|_| OwnerKind::Queue))
        };
        let (email, kind, new_owner) = match &e.key {
            Key::User(id) | Key::Queue(id) => {
                let router_kind =
                    if matches!(e.key, Key::User(_)) { OwnerKind::User } else { OwnerKind::Queue };
                let Some(entry) = files.directory.get(id) else {
                    let why = if files.directory.entries.is_empty() {
                        "its address is unknown: EmailAgent.xml names users and queues by CRM id only; \
                         give --directory with a CSV export of the CRM's users and queues (id,email,name)"
                    } else {
                        "it is not in the directory file, so its address is unknown"
                    };
                    plan.not_migrated.push(NotMigrated { item: describe(&e.key), reason: why.into() });
                    continue;
                };
                let mut new_owner = None;
                let kind = match existing(&entry.email) {
                    Some(k) => {
                        if k != router_kind {
                            plan.warn(Warning::general(format!(
                                "{} is a {} in the router but a {} in crmsync; the crmsync {} keeps it",
                                entry.email,
                                router_kind.noun(),
                                k.noun(),
                                k.noun()
                            )));
                        }
                        k
                    }
                    None => {
                        new_owner = Some(PlannedPrincipal {
                            kind: router_kind,
                            email: entry.email.clone(),
                            name: entry.name.clone(),
                            reason: format!("CRM {} {id} in the directory", router_kind.noun()),
                        });
                        router_kind
                    }
                };
                (entry.email.clone(), kind, new_owner)
            }
            Key::Address(a) => match existing(a) {
                Some(k) => (a.clone(), k, None),
                None if e.forward => {
                    let owner = PlannedPrincipal {
                        kind: OwnerKind::Queue,
                        email: a.clone(),
                        name: format!("Forward mailbox {a}"),
                        reason: "owner of the router's forward mailbox".into(),
                    };
                    (a.clone(), OwnerKind::Queue, Some(owner))
                }
                None => {
                    plan.not_migrated.push(NotMigrated {
                        item: format!("mailbox {a}"),
                        reason: "no crmsync user or queue has this address; add one (`crmsync user add` or \
                                 `crmsync queue add`) and migrate again"
                            .into(),
                    });
                    continue;
                }
            },
        };
        match placed.iter_mut().find(|p| p.email.eq_ignore_ascii_case(&email)) {
            Some(p) => {
                p.incoming = p.incoming.or(e.incoming);
                p.outgoing = p.outgoing.or(e.outgoing);
                p.forward |= e.forward;
            }
            None => placed.push(Placed {
                email,
                kind,
                new_owner,
                incoming: e.incoming,
                outgoing: e.outgoing,
                forward: e.forward,
            }),
        }
    }
    placed
}

/// A group of equivalent proposed profiles: one crmsync profile.
struct Group {
    key: String,
    spec: ProfileSpec,
    from: Vec<String>,
    members: Vec<(Placed, IncomingMethod)>,
}

/// Where a group's mailboxes go.
struct Target {
    name: String,
    credentials: CredentialSource,
}

/// Plans the migration of `files` into a store that looks like `snap`.
pub fn plan(files: &RouterFiles, snap: &Snapshot, opts: &MigrationOptions) -> Result<MigrationPlan> {
    let cfg = &files.config;
    let file = cfg.file.as_str();
    let mut plan = MigrationPlan::default();
    for w in cfg.warnings.iter().chain(&files.state.warnings) {
        plan.warn(w.clone());
    }
    plan.deployment =
        cfg.providers.iter().filter(|b| b.provider_type.is_migratable()).find_map(|b| b.deployment.clone());
    let mut blocks: Vec<&ProviderBlock> = Vec::new();
    for b in &cfg.providers {
        if let (Some(d), Some(chosen)) = (&b.deployment, &plan.deployment)
            && norm_url(d) != norm_url(chosen)
        {
            plan.not_migrated.push(NotMigrated {
                item: block_item(b),
                reason: format!(
                    "serves another organization ({d}); this migration covers {chosen}, the first in the file"
                ),
            });
            continue;
        }
        if !b.provider_type.is_migratable() {
            plan.not_migrated.push(NotMigrated {
                item: block_item(b),
                reason: format!("{} providers are not migrated", b.provider_type.label()),
            });
        }
        blocks.push(b);
    }
    let entries = collect(&blocks, &mut plan, file);
    let placed = place(entries, files, snap, &mut plan);
    let forward_block = blocks.iter().position(|b| b.forward_mailbox);
    let first_outbound =
        blocks.iter().position(|b| b.direction == Direction::Outbound && b.provider_type.is_migratable());

    let mut groups: Vec<Group> = Vec::new();
    for mut p in placed {
        let mut method = IncomingMethod::ServerSide;
        if p.incoming.is_none() && !p.forward && forward_block.is_some() {
            p.incoming = forward_block;
            method = IncomingMethod::Forward;
        }
        let mut outgoing = p.outgoing;
        if p.forward && outgoing.is_none() && p.incoming.is_some_and(|i| !blocks[i].provider_type.is_ews()) {
            outgoing = first_outbound;
        }
        let pair = Pair { incoming: p.incoming.map(|i| blocks[i]), outgoing: outgoing.map(|i| blocks[i]) };
        let spec = match mapping::map_pair(file, pair)? {
            Mapped::NotMigrated(reason) => {
                plan.not_migrated.push(NotMigrated { item: format!("mailbox {}", p.email), reason });
                continue;
            }
            Mapped::Profile(spec) => *spec,
        };
        if let Some(what) = &spec.insecure
            && !opts.allow_insecure
        {
            plan.not_migrated.push(NotMigrated {
                item: format!("mailbox {}", p.email),
                reason: format!(
                    "{what}: crmsync refuses clear-text connections unless allowed; enable SSL on the \
                     server, or migrate again with --allow-insecure"
                ),
            });
            continue;
        }
        for w in &spec.warnings {
            plan.warn(w.clone());
        }
        let data = mapping::validate(file, &spec, &spec.name, opts.allow_insecure)?;
        let key = profile_key(&data);
        let gi = match groups.iter().position(|g| g.key == key) {
            Some(gi) => gi,
            None => {
                groups.push(Group { key, spec: spec.clone(), from: Vec::new(), members: Vec::new() });
                groups.len() - 1
            }
        };
        if let Some(owner) = &p.new_owner {
            plan.users_or_queues_to_create.push(owner.clone());
        }
        let g = &mut groups[gi];
        for f in &spec.from {
            if !g.from.contains(f) {
                g.from.push(f.clone());
            }
        }
        g.members.push((p, method));
    }

    let mut taken: Vec<String> = Vec::new();
    let mut desired: Vec<(PlannedMailbox, Option<&Mailbox>)> = Vec::new();
    for g in &groups {
        let target = target(g, snap, &mut taken, &mut plan, file, opts)?;
        for (p, method) in &g.members {
            let current = snap.mailboxes.iter().find(|m| m.data.email.eq_ignore_ascii_case(&p.email));
            let mb = mailbox(p, *method, &target, &blocks, files, current, &mut plan);
            desired.push((mb, current));
        }
    }
    desired.sort_by_key(|a| a.0.email.to_lowercase());
    for (mb, current) in desired {
        if mb.credentials_required {
            plan.credentials_required.push(CredentialNeed {
                kind: "mailbox".into(),
                name: mb.email.clone(),
                action: format!("enter its password: crmsync mailbox update {} --password-stdin", mb.email),
            });
        }
        match current {
            None => plan.mailboxes_to_create.push(mb),
            Some(cur) => {
                let changes = changes(cur, &mb);
                if changes.is_empty() {
                    plan.mailboxes_unchanged.push(mb.email);
                } else {
                    plan.mailboxes_to_update.push(MailboxUpdate { mailbox: mb, changes });
                }
            }
        }
    }
    plan.users_or_queues_to_create.sort_by_key(|a| a.email.to_lowercase());
    Ok(plan)
}

/// Decides the crmsync profile of a group: an existing one (same name, or same
/// settings) or a new one with a unique deterministic name.
fn target(
    g: &Group,
    snap: &Snapshot,
    taken: &mut Vec<String>,
    plan: &mut MigrationPlan,
    file: &str,
    opts: &MigrationOptions,
) -> Result<Target> {
    let mut name = g.spec.name.clone();
    let mut n = 1;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        n += 1;
        let suffix = format!(" ({n})");
        name = format!(
            "{}{suffix}",
            mapping::truncate(&g.spec.name).chars().take(100 - suffix.len()).collect::<String>()
        );
    }
    taken.push(name.clone());
    let by_name = snap.profiles.iter().find(|p| p.data.name.eq_ignore_ascii_case(&name));
    let by_settings = || snap.profiles.iter().find(|p| profile_key(&p.data) == g.key);
    let reuse = |p: &Profile, note: String, plan: &mut MigrationPlan| {
        plan.profiles_reused.push(ReusedProfile { name: p.data.name.clone(), from: g.from.clone(), note });
        if p.data.credentials == CredentialSource::Profile && !p.has_password {
            need_profile_password(plan, &p.data);
        }
        Target { name: p.data.name.clone(), credentials: p.data.credentials }
    };
    if let Some(p) = by_name {
        let note = if profile_key(&p.data) == g.key {
            "exists with the router's settings".to_string()
        } else {
            plan.warn(Warning::general(format!(
                "profile '{}' exists with settings that differ from the router's; it is used as it is",
                p.data.name
            )));
            "exists with different settings; used as it is".to_string()
        };
        return Ok(reuse(p, note, plan));
    }
    if let Some(p) = by_settings() {
        return Ok(reuse(p, "has the same settings as the router's profile".into(), plan));
    }
    let data = mapping::validate(file, &g.spec, &name, opts.allow_insecure)?;
    if let Some(what) = &g.spec.insecure {
        plan.warn(Warning::general(format!(
            "INSECURE: profile '{name}' is migrated with allow_insecure on: {what}; passwords and mail \
             cross the network in clear text"
        )));
    }
    if g.spec.password_pending {
        need_profile_password(plan, &data);
    }
    let target = Target { name: name.clone(), credentials: data.credentials };
    plan.profiles_to_create.push(PlannedProfile {
        settings: data,
        from: g.from.clone(),
        password_pending: g.spec.password_pending,
    });
    Ok(target)
}

fn need_profile_password(plan: &mut MigrationPlan, d: &ProfileData) {
    plan.credentials_required.push(CredentialNeed {
        kind: "profile".into(),
        name: d.name.clone(),
        action: format!(
            "the router's password cannot be read; enter the password of {}: crmsync profile update '{}' --password-stdin",
            d.username.as_deref().unwrap_or("its account"),
            d.name
        ),
    });
}

fn mailbox(
    p: &Placed,
    method: IncomingMethod,
    target: &Target,
    blocks: &[&ProviderBlock],
    files: &RouterFiles,
    current: Option<&Mailbox>,
    plan: &mut MigrationPlan,
) -> PlannedMailbox {
    let state = files.state.get(&p.email);
    if let Some(s) = state {
        if s.threshold.is_none() {
            plan.warn(Warning::general(format!(
                "{}: the router had no threshold (0001-01-01); all of its mail is processed",
                p.email
            )));
        }
        if let Some(err) = &s.last_error {
            plan.warn(Warning::general(format!("{}: the router's last error was: {err}", p.email)));
        }
    }
    let in_block = p.incoming.map(|i| blocks[i]);
    let wants_delete = in_block.is_some_and(|b| b.delete_emails) && method == IncomingMethod::ServerSide;
    let may_delete = p.forward || p.kind == OwnerKind::Queue;
    if wants_delete && !may_delete {
        plan.warn(Warning::general(format!(
            "{}: DeleteEmails is not carried over; crmsync deletes processed mail only from queue and forward mailboxes",
            p.email
        )));
    }
    let has_password = current.is_some_and(|m| m.has_password);
    PlannedMailbox {
        email: current.map_or_else(|| p.email.clone(), |m| m.data.email.clone()),
        owner: p.kind,
        profile: target.name.clone(),
        incoming: if p.incoming.is_some() { method } else { IncomingMethod::None },
        outgoing: if p.outgoing.is_some() && !p.forward {
            ChannelMethod::ServerSide
        } else {
            ChannelMethod::None
        },
        process_from: state.and_then(|s| s.threshold).or(current.and_then(|m| m.data.process_from)),
        forward_mailbox: p.forward,
        delete_after_processing: wants_delete && may_delete,
        credentials_required: target.credentials == CredentialSource::Mailbox && !has_password,
    }
}

fn opt_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".into(), crmsync_core::time::to_db)
}

fn changes(cur: &Mailbox, want: &PlannedMailbox) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |field: &str, from: String, to: String| {
        if from != to {
            out.push(Change { field: field.into(), from, to });
        }
    };
    let profile_to = if cur.profile.eq_ignore_ascii_case(&want.profile) {
        cur.profile.clone()
    } else {
        want.profile.clone()
    };
    diff("profile", cur.profile.clone(), profile_to);
    diff("incoming", cur.data.incoming_method.to_string(), want.incoming.to_string());
    diff("outgoing", cur.data.outgoing_method.to_string(), want.outgoing.to_string());
    diff("process-from", opt_time(cur.data.process_from), opt_time(want.process_from));
    diff("forward-mailbox", cur.data.is_forward_mailbox.to_string(), want.forward_mailbox.to_string());
    diff(
        "delete-after-processing",
        cur.data.delete_after_processing.to_string(),
        want.delete_after_processing.to_string(),
    );
    diff("credentials-required", cur.credentials_required.to_string(), want.credentials_required.to_string());
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
