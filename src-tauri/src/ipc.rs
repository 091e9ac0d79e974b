//! The typed IPC boundary: every command the UI can call. Commands take and
//! return the engine's and core's own types; the desktop's own (the error,
//! uploads, page views, shell events) are in [`crate::wire`]. Each command is
//! a few lines that delegate to the engine's admin API on the store thread.
//!
//! The TypeScript side (`ui/src/bindings.ts`) is generated from these Rust
//! types by [`typescript`]; a test fails when the committed file has drifted
//! (refresh it with `UPDATE_BINDINGS=1 cargo test -p crmsync-desktop bindings`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crmsync_core::health::Health;
use crmsync_core::model::{Account, Contact, Lead, Mailbox, Principal, Profile, ProfileTest};
use crmsync_core::settings::Entry;
use crmsync_core::store::activities::ActivityView;
use crmsync_core::store::alerts::Alert;
use crmsync_core::store::principals::Kind;
use crmsync_engine::admin::activities::{AlertInput, ListInput};
use crmsync_engine::admin::connection_test::{self, ConnectionTest};
use crmsync_engine::admin::history::{self, ExplainQuery, Explanation, HistoryEntry};
use crmsync_engine::admin::imports::{ImportReport, RecordKind};
use crmsync_engine::admin::mailboxes::MailboxInput;
use crmsync_engine::admin::profiles::ProfileInput;
use crmsync_engine::admin::{activities, imports, mailboxes, principals, profiles, settings};
use crmsync_engine::handle::{QueueDepths, status_from_store};
use crmsync_engine::migrate::{self, MigrationOptions, MigrationPlan, RouterFiles};
use crmsync_engine::oauth::{self, SignInStatus};
use crmsync_engine::test_enable::{self, TestReport};
#[cfg(test)]
use ts_rs::TS;

use crate::backend::Backend;
use crate::engine::EngineLink;
use crate::profile_test::ConnectionTestForm;
use crate::shell::{self, EngineRequest, ShellState};
use crate::status::{health_of, severity};

pub use crate::wire::*;

/// Shared state of the commands.
pub struct App {
    pub backend: Backend,
    pub engine: EngineLink,
    /// The engine's last reported queue depths.
    pub depths: Mutex<QueueDepths>,
    /// Email Router files loaded by the migration wizard, kept for "apply".
    pub router: Mutex<Option<RouterFiles>>,
    /// What the tray shows; the window's engine buttons change it as the tray menu does.
    pub shell: Mutex<ShellState>,
}

impl App {
    /// The tray's state.
    pub fn shell(&self) -> std::sync::MutexGuard<'_, ShellState> {
        self.shell.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The Dashboard's Sync now: the same as the tray menu's, so the tray shows
/// syncing until the cycle ends; then the refresh loop redraws the tray.
pub fn sync_now_from_window(app: &App) -> Result<(), IpcError> {
    engine_here(app)?;
    shell::request(EngineRequest::SyncNow, &mut app.shell());
    app.engine.sync_now();
    app.engine.refresh();
    Ok(())
}

fn rows(list: Vec<Mailbox>) -> Vec<MailboxRow> {
    list.into_iter().map(|mailbox| MailboxRow { health: health_of(&mailbox), mailbox }).collect()
}

/// Fails with the lease-holder sentence when the engine is not this window's.
fn engine_here(app: &App) -> Result<(), IpcError> {
    match (app.engine.handle(), app.engine.problem()) {
        (Some(_), _) => Ok(()),
        (None, Some(message)) => Err(IpcError::LeaseHeld { message }),
        (None, None) => Err(IpcError::Internal { message: "the sync engine is starting; try again".into() }),
    }
}

fn opt(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn write_upload(dir: &std::path::Path, f: &UploadedFile) -> Result<PathBuf, IpcError> {
    let name = std::path::Path::new(&f.name).file_name().map(|n| n.to_owned()).ok_or_else(|| {
        IpcError::Invalid { field: "files".into(), message: format!("'{}' is no file name", f.name) }
    })?;
    let path = dir.join(name);
    std::fs::write(&path, &f.content)
        .map_err(|e| IpcError::Internal { message: format!("cannot stage {}: {e}", f.name) })?;
    Ok(path)
}

fn temp_dir() -> Result<tempfile::TempDir, IpcError> {
    tempfile::tempdir().map_err(|e| IpcError::Internal { message: format!("cannot create a temp dir: {e}") })
}

/// Builds a status view from the mailbox list (pure, shared with the tray).
pub fn status_view(
    list: Vec<Mailbox>,
    alerts: Vec<Alert>,
    profiles: u32,
    paused: bool,
    queues: QueueDepths,
    store_path: String,
    engine_problem: Option<String>,
) -> StatusView {
    let mut mailboxes = rows(list);
    mailboxes.sort_by(|a, b| {
        severity(b.health)
            .cmp(&severity(a.health))
            .then_with(|| a.mailbox.data.email.cmp(&b.mailbox.data.email))
    });
    let mut counts: BTreeMap<Health, u32> = Health::ALL.iter().map(|h| (*h, 0)).collect();
    for r in &mailboxes {
        *counts.entry(r.health).or_default() += 1;
    }
    let healths = mailboxes.iter().map(|r| r.health);
    let summary = crate::shell::tooltip_summary(crate::status::counts(healths.clone()), paused);
    let tray = crate::status::tray_state(healths, paused);
    StatusView {
        summary,
        tray: crate::shell::tray_state_name(tray).to_owned(),
        paused,
        counts,
        mailboxes,
        recent_alerts: alerts.into_iter().take(10).collect(),
        queues,
        profiles,
        store_path,
        engine_problem,
    }
}

macro_rules! commands {
    ($app:ident; $( $(#[$doc:meta])* fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty $body:block )*) => {
        $(
            $(#[$doc])*
            #[tauri::command(rename_all = "snake_case")]
            pub async fn $name($app: tauri::State<'_, App>, $($arg: $ty),*) -> Result<$ret, IpcError> {
                let $app: &App = &$app;
                $body
            }
        )*

        /// Every command's name, in declaration order.
        #[cfg(test)]
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// The Tauri invoke handler of every command.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// The TypeScript signature of every command, and the declarations they need.
        #[cfg(test)]
        pub fn signatures(collect: &mut bindings::Collector) -> Vec<bindings::Signature> {
            let cfg = bindings::config();
            vec![$({
                $(collect.add::<$ty>();)*
                collect.add::<$ret>();
                bindings::Signature {
                    name: stringify!($name),
                    args: vec![$((stringify!($arg), <$ty as TS>::name(&cfg))),*],
                    ret: <$ret as TS>::name(&cfg),
                }
            }),*]
        }
    };
}

commands! { app;
    /// Everything the Dashboard shows.
    fn status() -> StatusView {
        // Our engine's live state, or what the lease holder published in the store.
        let ours = app.engine.handle().map(|h| (h.is_paused(), *app.depths.lock().unwrap_or_else(|e| e.into_inner())));
        let problem = app.engine.problem();
        let path = app.backend.path().display().to_string();
        app.backend
            .call(move |s, _| {
                let list = mailboxes::list(s)?;
                let alerts = activities::alerts(s, &activities::AlertInput::default())?;
                let profiles = profiles::list(s)?.len() as u32;
                let (paused, queues) = match ours {
                    Some(live) => live,
                    None => {
                        let snap = status_from_store(s, std::time::Duration::from_secs(30))?;
                        (snap.paused, snap.queue_depths)
                    }
                };
                Ok(status_view(list, alerts, profiles, paused, queues, path, problem))
            })
            .await
    }

    fn profiles_list() -> Vec<Profile> {
        app.backend.call(|s, _| profiles::list(s)).await
    }

    fn profile_add(name: String, form: ProfileInput) -> Profile {
        let r = app.backend.call(move |s, _| profiles::add(s, &name, &form)).await;
        app.engine.refresh();
        r
    }

    fn profile_update(name: String, form: ProfileInput) -> Profile {
        let r = app.backend.call(move |s, _| profiles::update(s, &name, &form)).await;
        app.engine.refresh();
        r
    }

    fn profile_remove(name: String) -> () {
        let r = app.backend.call(move |s, _| profiles::remove(s, &name)).await;
        app.engine.refresh();
        r
    }

    /// Test Connection: checks each server of the profile, logging in when the
    /// form has credentials; nothing is sent, and the result is kept on the
    /// profile (as `crmsync profile test` keeps it). The network part runs
    /// here, not on the store thread, so the window stays responsive.
    fn profile_test(name: String, form: ConnectionTestForm) -> ConnectionTest {
        let credentials = form.credentials()?;
        let prepared = app.backend.call(move |s, _| connection_test::prepare(s, &name, credentials)).await?;
        let report = prepared.run().await;
        let kept = report.clone();
        app.backend.call(move |s, _| connection_test::record(s, &kept)).await?;
        Ok(report)
    }

    /// The result of the profile's last Test Connection, kept by the engine
    /// (none until a test ran).
    fn profile_last_test(name: String) -> Option<ProfileTest> {
        app.backend.call(move |s, _| profiles::last_test(s, &name)).await
    }

    fn mailboxes_list() -> Vec<MailboxRow> {
        app.backend.call(|s, _| Ok(rows(mailboxes::list(s)?))).await
    }

    fn mailbox_show(email: String) -> MailboxDetail {
        app.backend
            .call(move |s, _| {
                let mailbox = mailboxes::show(s, &email)?;
                let filter = activities::AlertInput { mailbox: Some(email), all: true, ..Default::default() };
                let alerts = activities::alerts(s, &filter)?;
                let sign_in = oauth::status(s, &mailbox)?;
                Ok(MailboxDetail { health: health_of(&mailbox), mailbox, alerts, sign_in })
            })
            .await
    }

    /// The mailbox's sync runs, newest first (at most `limit`, default 50).
    fn mailbox_history(email: String, limit: Option<String>) -> Vec<HistoryEntry> {
        app.backend.call(move |s, _| history::mailbox_history(s, &email, limit.as_deref())).await
    }

    /// Why an email was (not) tracked: by Message-ID, else by words of the subject.
    fn mailbox_explain(email: String, message_id: Option<String>, subject: Option<String>) -> Explanation {
        app.backend
            .call(move |s, _| {
                let q = match (opt(message_id), opt(subject)) {
                    (Some(id), _) => return history::explain(s, &email, ExplainQuery::MessageId(&id)),
                    (None, Some(text)) => text,
                    (None, None) => String::new(),
                };
                history::explain(s, &email, ExplainQuery::Subject(&q))
            })
            .await
    }

    fn mailbox_add(email: String, form: MailboxInput) -> Mailbox {
        let r = app.backend.call(move |s, _| mailboxes::add(s, &email, &form)).await;
        app.engine.refresh();
        r
    }

    fn mailbox_update(email: String, form: MailboxInput) -> Mailbox {
        let r = app.backend.call(move |s, _| mailboxes::update(s, &email, &form)).await;
        app.engine.refresh();
        r
    }

    fn mailbox_remove(email: String) -> () {
        let r = app.backend.call(move |s, _| mailboxes::remove(s, &email)).await;
        app.engine.refresh();
        r
    }

    /// Test & Enable: tests each configured channel, enables those that pass.
    fn mailbox_test_enable(email: String) -> TestReport {
        // On the engine's async-operations queue when it runs here.
        let r = match app.engine.handle() {
            Some(h) => h.test_enable(&email).await.map_err(IpcError::from),
            None => app.backend.call(move |s, rt| rt.block_on(test_enable::test_and_enable(s, &email))).await,
        };
        app.engine.refresh();
        r
    }

    /// "Sign in with Microsoft / Google": the browser sign-in of an OAuth2
    /// mailbox; the store thread is free while the admin is in the browser.
    fn mailbox_sign_in(email: String) -> SignInStatus {
        let r = crate::sign_in::sign_in(&app.backend, email).await;
        app.engine.refresh();
        r
    }

    /// Forgets the mailbox's OAuth2 tokens; true when it was signed in.
    fn mailbox_sign_out(email: String) -> bool {
        let r = app.backend.call(move |s, _| oauth::sign_out(s, &email)).await;
        app.engine.refresh();
        r
    }

    fn mailbox_approve(email: String, approve: bool) -> () {
        let r = app.backend.call(move |s, _| test_enable::approve(s, &email, approve)).await;
        app.engine.refresh();
        r
    }

    fn mailbox_set_enabled(email: String, enabled: bool) -> Mailbox {
        let r = app.backend.call(move |s, _| test_enable::set_enabled(s, &email, enabled)).await;
        app.engine.refresh();
        r
    }

    fn users_list() -> Vec<Principal> {
        app.backend.call(|s, _| principals::list(s, Kind::User)).await
    }

    fn user_add(email: String, name: String) -> Principal {
        app.backend.call(move |s, _| principals::add(s, Kind::User, &email, &name)).await
    }

    fn queues_list() -> Vec<Principal> {
        app.backend.call(|s, _| principals::list(s, Kind::Queue)).await
    }

    fn queue_add(email: String, name: String) -> Principal {
        app.backend.call(move |s, _| principals::add(s, Kind::Queue, &email, &name)).await
    }

    fn queue_items(email: String) -> Vec<ActivityView> {
        app.backend.call(move |s, _| activities::queue_items(s, &email)).await
    }

    fn contacts_list() -> Vec<Contact> {
        app.backend.call(|s, _| imports::list_contacts(s)).await
    }

    fn accounts_list() -> Vec<Account> {
        app.backend.call(|s, _| imports::list_accounts(s)).await
    }

    fn leads_list() -> Vec<Lead> {
        app.backend.call(|s, _| imports::list_leads(s)).await
    }

    /// CSV import of contacts, accounts or leads: every row or none.
    fn records_import(kind: RecordKind, file: UploadedFile) -> ImportReport {
        let dir = temp_dir()?;
        let path = write_upload(dir.path(), &file)?;
        app.backend.call(move |s, _| imports::import_csv(s, kind, &path)).await
    }

    /// The Alerts page; an empty filter field is "any".
    fn alerts_list(filter: AlertInput) -> Vec<Alert> {
        let input = AlertInput {
            mailbox: opt(filter.mailbox),
            profile: opt(filter.profile),
            severity: opt(filter.severity),
            all: filter.all,
        };
        app.backend.call(move |s, _| activities::alerts(s, &input)).await
    }

    /// Acknowledges one alert, or every alert when `id` is null.
    fn alert_ack(id: Option<i64>) -> usize {
        let r = app.backend.call(move |s, _| activities::ack(s, id.map(|i| i.to_string()).as_deref())).await;
        app.engine.refresh();
        r
    }

    /// The Activities page; an empty filter field is "any", the limit 200 unless given.
    fn activities_list(filter: ListInput) -> Vec<ActivityView> {
        let input = ListInput {
            activity_type: opt(filter.activity_type),
            mailbox: opt(filter.mailbox),
            regarding: opt(filter.regarding),
            limit: opt(filter.limit).or(Some("200".into())),
        };
        app.backend.call(move |s, _| activities::list(s, &input)).await
    }

    fn activity_show(id: i64) -> ActivityView {
        app.backend.call(move |s, _| activities::show(s, &id.to_string())).await
    }

    fn settings_list() -> Vec<Entry> {
        app.backend.call(|s, _| settings::show(s)).await
    }

    fn setting_set(key: String, value: String) -> Entry {
        let r = app.backend.call(move |s, _| settings::set(s, &key, &value)).await;
        app.engine.refresh();
        r
    }

    /// Migration wizard, step 1-2: load the router's files and preview the plan.
    fn migrate_preview(files: RouterUpload) -> MigrationPlan {
        let dir = temp_dir()?;
        let config = write_upload(dir.path(), &files.config)?;
        let state = files.state.as_ref().map(|f| write_upload(dir.path(), f)).transpose()?;
        let directory = files.directory.as_ref().map(|f| write_upload(dir.path(), f)).transpose()?;
        let loaded = migrate::load(&config, state.as_deref(), directory.as_deref()).map_err(IpcError::from)?;
        let options = MigrationOptions { allow_insecure: files.allow_insecure };
        let keep = loaded.clone();
        let plan = app.backend.call(move |s, _| migrate::preview(s, &loaded, &options)).await?;
        *app.router.lock().unwrap_or_else(|e| e.into_inner()) = Some(keep);
        Ok(plan)
    }

    /// Migration wizard, step 3: apply the previewed files, all or nothing.
    fn migrate_apply(allow_insecure: bool) -> MigrationPlan {
        let files = app.router.lock().unwrap_or_else(|e| e.into_inner()).clone().ok_or_else(|| IpcError::Invalid {
            field: "files".into(),
            message: "load the Email Router files first".into(),
        })?;
        let options = MigrationOptions { allow_insecure };
        let r = app.backend.call(move |s, _| migrate::apply(s, &files, &options)).await;
        app.engine.refresh();
        r
    }

    fn sync_now() -> () {
        sync_now_from_window(app)
    }

    fn pause() -> () {
        engine_here(app)?;
        app.engine.pause();
        Ok(())
    }

    fn resume() -> () {
        engine_here(app)?;
        app.engine.resume();
        Ok(())
    }
}

/// Generating `ui/src/bindings.ts`.
#[cfg(test)]
pub mod bindings {
    use std::collections::BTreeSet;

    use super::*;

    /// ts-rs settings: ids are JSON numbers.
    pub fn config() -> ts_rs::Config {
        ts_rs::Config::new().with_large_int("number")
    }

    /// One command's TypeScript signature.
    pub struct Signature {
        pub name: &'static str,
        pub args: Vec<(&'static str, String)>,
        pub ret: String,
    }

    /// Collects the declarations of every type a command uses, recursively.
    pub struct Collector {
        cfg: ts_rs::Config,
        seen: BTreeSet<String>,
        visited: std::collections::HashSet<std::any::TypeId>,
        decls: Vec<(String, String)>,
    }

    impl Collector {
        pub fn new() -> Collector {
            Collector { cfg: config(), seen: BTreeSet::new(), visited: Default::default(), decls: Vec::new() }
        }

        pub fn add<T: TS + 'static + ?Sized>(&mut self) {
            ts_rs::TypeVisitor::visit::<T>(self);
        }
    }

    impl ts_rs::TypeVisitor for Collector {
        fn visit<T: TS + 'static + ?Sized>(&mut self) {
            // Every type once (serde_json's Value is recursive).
            if !self.visited.insert(std::any::TypeId::of::<T>()) {
                return;
            }
            if T::output_path().is_some() {
                let name = T::ident(&self.cfg);
                if !self.seen.insert(name.clone()) {
                    return;
                }
                let decl = T::decl(&self.cfg);
                let docs = T::docs().map(|d| format!("{d}\n")).unwrap_or_default();
                self.decls.push((name, format!("{docs}export {}", decl.trim_end_matches(';'))));
            }
            T::visit_dependencies(self);
            T::visit_generics(self);
        }
    }

    /// The whole generated file.
    pub fn typescript() -> String {
        let mut c = Collector::new();
        c.add::<UiEvent>();
        c.add::<IpcError>();
        let sigs = signatures(&mut c);
        let mut decls = c.decls;
        decls.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::from(
            "// Generated from the Rust types by src-tauri (ipc.rs). Do not edit: run\n\
             // `UPDATE_BINDINGS=1 cargo test -p crmsync-desktop bindings` after changing them.\n\n",
        );
        for (_, d) in decls {
            out.push_str(&d);
            out.push_str(";\n\n");
        }
        out.push_str("/** Every IPC command: its arguments (snake_case) and its result. */\nexport interface Commands {\n");
        for s in sigs {
            let args = s.args.iter().map(|(n, t)| format!("{n}: {t}")).collect::<Vec<_>>().join("; ");
            let args =
                if args.is_empty() { "Record<string, never>".to_owned() } else { format!("{{ {args} }}") };
            out.push_str(&format!("  {}: {{ args: {args}; ret: {} }};\n", s.name, s.ret));
        }
        out.push_str("}\n\n");
        out.push_str(&format!("/** Name of the Tauri event carrying UiEvent. */\nexport const ENGINE_EVENT = \"{ENGINE_EVENT}\";\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_engine::EngineError;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
    }

    #[test]
    fn bindings_have_not_drifted() {
        let generated = bindings::typescript();
        let path = root().join("ui/src/bindings.ts");
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "ui/src/bindings.ts is out of date: run `UPDATE_BINDINGS=1 cargo test -p crmsync-desktop bindings`"
        );
    }

    #[test]
    fn every_command_is_allowed_by_the_capability_and_the_manifest() {
        let listed: Vec<String> = std::fs::read_to_string(root().join("src-tauri/commands.txt"))
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        assert_eq!(listed, COMMANDS, "src-tauri/commands.txt (read by build.rs) lists the commands");
        let cap: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root().join("src-tauri/capabilities/default.json")).unwrap(),
        )
        .unwrap();
        let perms: BTreeSet<String> =
            cap["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
        let wanted: BTreeSet<String> =
            COMMANDS.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
        let app_perms: BTreeSet<String> = perms.iter().filter(|p| !p.starts_with("core:")).cloned().collect();
        assert_eq!(app_perms, wanted, "exactly the app's commands");
        let core: Vec<&String> = perms.iter().filter(|p| p.starts_with("core:")).collect();
        assert_eq!(
            core,
            ["core:event:allow-listen", "core:event:allow-unlisten"],
            "only event listening from core"
        );
    }

    /// The Dashboard's Sync now turns the tray to syncing, as the tray menu's does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sync_now_from_the_dashboard_shows_syncing_in_the_tray() {
        use crate::engine::EngineState;
        use crate::shell::TrayState;
        use crmsync_engine::handle::{EngineHandle, EngineOptions};

        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crm.db");
        let app = App {
            backend: Backend::open(&db).unwrap(),
            engine: EngineLink::new(),
            depths: Mutex::new(QueueDepths::default()),
            router: Mutex::new(None),
            shell: Mutex::new(ShellState::default()),
        };
        // Without an engine of ours nothing changes.
        assert!(sync_now_from_window(&app).is_err());
        assert_eq!(app.shell().tray_state(), TrayState::Ok);

        let opts = EngineOptions { holder: "crmsync desktop".into(), ..EngineOptions::default() };
        app.engine.set(EngineState::Running(EngineHandle::start(db, opts).await.unwrap()));
        sync_now_from_window(&app).unwrap();
        assert!(app.shell().sync_requested);
        assert_eq!(app.shell().tray_state(), TrayState::Syncing);
        assert!(!app.shell().menu_enabled().sync_now, "the tray menu's Sync now waits for this cycle");
        app.engine.take().unwrap().shutdown().await;
    }

    #[test]
    fn validation_errors_keep_the_field() {
        let e = IpcError::from(EngineError::invalid("incoming-host", "must not be empty"));
        assert_eq!(
            e,
            IpcError::Invalid { field: "incoming-host".into(), message: "must not be empty".into() }
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "invalid");
        assert_eq!(json["field"], "incoming-host");
        let e = IpcError::from(EngineError::CredentialsRequired {
            what: "mailbox a@example.com".into(),
            fix: "crmsync mailbox update a@example.com --password-stdin".into(),
        });
        match e {
            IpcError::Server { code, hint, .. } => {
                assert_eq!(code, "CREDENTIALS_REQUIRED");
                assert!(!hint.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    /// The forms are the engine's input types: a password typed in the window
    /// arrives as a secret (never shown by `Debug`; an input type has no
    /// `Serialize`, so it is never sent back), an empty box as "not given".
    #[test]
    fn passwords_never_show_in_debug() {
        let f: ProfileInput = serde_json::from_str(r#"{"kind":"imap-smtp","password":"hunter2"}"#).unwrap();
        assert!(!format!("{f:?}").contains("hunter2"));
        assert_eq!(f.kind.as_deref(), Some("imap-smtp"));
        assert_eq!(f.password.unwrap().expose(), "hunter2");
        let f: ProfileInput = serde_json::from_str(r#"{"password":""}"#).unwrap();
        assert!(f.password.is_none(), "an empty password box is not a password");
        let f: MailboxInput = serde_json::from_str(r#"{"password":"hunter2","track_folders":null}"#).unwrap();
        assert!(!format!("{f:?}").contains("hunter2"));
        assert_eq!(f.password.unwrap().expose(), "hunter2");
        let f: MailboxInput = serde_json::from_str(r#"{"profile":"P","password":null}"#).unwrap();
        assert!(f.password.is_none());
    }

    /// The window hears the engine's events in the engine's own JSON, and the
    /// shell's beside them, both tagged by `type`.
    #[test]
    fn events_keep_the_engine_shape() {
        use crmsync_engine::handle::EngineEvent;
        let e = UiEvent::from(EngineEvent::MailboxStatusChanged {
            mailbox: "a@example.com".into(),
            health: Health::NotConfigured,
            code: None,
            message: None,
        });
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "mailbox_status_changed", "mailbox": "a@example.com",
                "health": "not_configured", "code": null, "message": null})
        );
        let e = UiEvent::from(EngineEvent::QueueDepths { mailboxes: 1, outgoing: 2, async_ops: 3 });
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "queue_depths", "mailboxes": 1, "outgoing": 2, "async_ops": 3})
        );
        let e = UiEvent::from(ShellEvent::Navigate { route: "#/alerts".into() });
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "navigate", "route": "#/alerts"})
        );
        let e = UiEvent::from(ShellEvent::EngineStarted);
        assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!({"type": "engine_started"}));
    }

    /// The filters and the import kind are the engine's inputs, in the JSON the UI sends.
    #[test]
    fn filters_are_the_engine_inputs() {
        let f: AlertInput =
            serde_json::from_str(r#"{"mailbox":null,"profile":"P","severity":null,"all":true}"#).unwrap();
        assert_eq!((f.profile.as_deref(), f.all), (Some("P"), true));
        let f: ListInput =
            serde_json::from_str(r#"{"activity_type":"email","mailbox":null,"regarding":null,"limit":null}"#)
                .unwrap();
        assert_eq!(f.activity_type.as_deref(), Some("email"));
        let k: RecordKind = serde_json::from_str(r#""lead""#).unwrap();
        assert_eq!(k, RecordKind::Lead);
    }

    #[test]
    fn status_view_lists_failing_first() {
        use crate::testdata::mailbox;
        let mut bad = mailbox("b@example.com");
        // Stopped by the engine after an authentication failure.
        bad.incoming.enabled = false;
        bad.incoming.status = crmsync_core::model::ChannelStatus::Success;
        bad.telemetry.disabled_reason = Some("IMAP_AUTH_FAILED".into());
        bad.telemetry.last_error = Some(crmsync_core::model::LastError {
            code: "IMAP_AUTH_FAILED".into(),
            message: "no".into(),
            at: chrono::Utc::now(),
        });
        let mut good = mailbox("a@example.com");
        good.incoming.enabled = true;
        good.incoming.status = crmsync_core::model::ChannelStatus::Success;
        let queues = QueueDepths { mailboxes: 2, outgoing: 0, async_ops: 1 };
        let v = status_view(vec![good, bad], vec![], 1, false, queues, "x".into(), None);
        assert_eq!(v.mailboxes[0].mailbox.data.email, "b@example.com");
        assert_eq!(v.summary, "1 mailbox OK · 1 failing");
        assert_eq!(v.tray, "error");
        assert_eq!(v.counts[&Health::Error], 1);
        assert_eq!(v.counts[&Health::Ok], 1);
        assert_eq!(v.counts.len(), Health::ALL.len(), "every health present");
        assert_eq!(v.queues, queues);
        assert!(v.engine_problem.is_none());
    }
}
