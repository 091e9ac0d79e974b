//! crmsync-desktop: the thin desktop shell. It owns the admin window, the tray
//! icon and desktop notifications; its decisions live in plain, tested
//! functions ([`shell`], [`status`], [`notify`]) and every store access goes
//! through the engine crate's admin API on the store thread ([`backend`]).
//!
//! At launch it starts the engine's [`EngineHandle`] on the same store (holder
//! "crmsync desktop"); when `crmsync run` holds the store's lease, the window
//! and the tray say so and the admin pages keep working (they use the admin
//! API, not the engine), and the shell retries now and then. The engine's
//! events drive the tray, the notifications and the window's live pages.
//!
//! Closing the window hides it to the tray; "Quit" in the tray menu shuts the
//! engine down (running jobs finish their commits, the lease is released) and
//! exits.

mod backend;
mod engine;
mod ipc;
mod notify;
mod profile_test;
mod shell;
mod sign_in;
mod status;
#[cfg(test)]
mod testdata;
mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use backend::Backend;
use crmsync_core::settings::BoolSetting;
use crmsync_engine::admin::{mailboxes, settings};
use crmsync_engine::handle::{EngineEvent, EngineHandle, EngineOptions};
use engine::{EngineLink, EngineState};
use ipc::{App, ENGINE_EVENT, ShellEvent, UiEvent};
use notify::{Notifier, Policy, Urgency};
use shell::{EngineRequest, HealthState, MenuAction, ShellState, TrayState, menu_id};
use status::Health;
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, WindowEvent, Wry};

/// Label of the admin window in tauri.conf.json.
const MAIN_WINDOW: &str = "main";
const TRAY_ID: &str = "main";

/// Tray menu entries whose text or enabled flag follows the [`ShellState`].
struct TrayMenu {
    /// Disabled entry showing the health summary: Linux trays
    /// (AppIndicator) show no tooltip, so the summary is repeated here.
    summary: MenuItem<Wry>,
    sync_now: MenuItem<Wry>,
    pause: MenuItem<Wry>,
    resume: MenuItem<Wry>,
}

/// The last health seen of each mailbox (to emit changes only).
type Healths = Mutex<BTreeMap<String, Health>>;

fn db_path() -> PathBuf {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--db" {
            if let Some(p) = args.next() {
                return PathBuf::from(p);
            }
        } else if let Some(p) = a.strip_prefix("--db=") {
            return PathBuf::from(p);
        }
    }
    crmsync_core::store::default_path()
}

fn main() {
    // The engine's subscriber (shared with the CLI): CRMSYNC_LOG filter, secrets redacted.
    crmsync_engine::logging::init("warn", false);
    let path = db_path();
    let store_path = path.clone();
    let backend = match Backend::open(&store_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("crmsync-desktop: cannot open the store {}: {e:?}", store_path.display());
            std::process::exit(1);
        }
    };
    let link = EngineLink::new();
    tauri::Builder::default()
        .manage(Mutex::new(Notifier::new(Policy::default())))
        .manage(Healths::default())
        .manage(App {
            backend: backend.clone(),
            engine: link.clone(),
            depths: Mutex::new(crmsync_engine::handle::QueueDepths::default()),
            router: Mutex::new(None),
            shell: Mutex::new(ShellState::default()),
        })
        .invoke_handler(ipc::handler())
        .setup(move |app| {
            create_tray(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(engine_loop(handle.clone(), path, link.clone()));
            tauri::async_runtime::spawn(refresh_loop(handle.clone(), backend, link));
            tauri::async_runtime::spawn(notification_loop(handle));
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.label() == MAIN_WINDOW
            {
                api.prevent_close();
                report("hide the window", window.hide());
            }
        })
        .run(tauri::generate_context!("../tauri.conf.json"))
        .expect("crmsync-desktop failed to start");
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn shell_state(app: &AppHandle) -> MutexGuard<'_, ShellState> {
    app.state::<App>().inner().shell()
}

fn emit(app: &AppHandle, event: impl Into<UiEvent>) {
    if let Err(e) = app.emit(ENGINE_EVENT, event.into()) {
        eprintln!("crmsync-desktop: cannot send an event to the window: {e}");
    }
}

/// How often the shell retries taking the lease from another holder.
const LEASE_RETRY: Duration = Duration::from_secs(15);

/// Starts the engine on the store (retrying while another process holds the
/// lease), then feeds its events to the tray, the notifier and the window.
async fn engine_loop(app: AppHandle, path: PathBuf, link: EngineLink) {
    let opts = EngineOptions { holder: "crmsync desktop".into(), ..EngineOptions::default() };
    let handle = loop {
        match EngineHandle::start(path.clone(), opts.clone()).await {
            Ok(h) => break h,
            Err(e) => {
                let message = engine::lease_message(&e);
                let held = message.is_some();
                let message = message.unwrap_or_else(|| format!("The sync engine did not start: {e}"));
                eprintln!("crmsync-desktop: {message}");
                link.set(if held {
                    EngineState::LeaseHeld(message.clone())
                } else {
                    EngineState::Failed(message.clone())
                });
                set_elsewhere(&app, Some(message.clone()));
                emit(&app, ShellEvent::EngineUnavailable { message });
                if !held {
                    return;
                }
                tokio::time::sleep(LEASE_RETRY).await;
            }
        }
    };
    let mut events = handle.subscribe();
    link.set(EngineState::Running(handle));
    set_elsewhere(&app, None);
    emit(&app, ShellEvent::EngineStarted);
    loop {
        match events.recv().await {
            Ok(event) => on_engine_event(&app, &event).await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                eprintln!("crmsync-desktop: missed {n} engine events; re-reading the store");
                link.refresh();
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// Records whether another process holds the lease, for the tray.
fn set_elsewhere(app: &AppHandle, message: Option<String>) {
    shell_state(app).elsewhere = message;
    report("update the tray", refresh_tray(app));
}

/// One engine event: tray state, notifier, then the window.
async fn on_engine_event(app: &AppHandle, event: &EngineEvent) {
    match event {
        EngineEvent::MailboxStatusChanged { mailbox, health, code, message } => {
            let health = *health;
            let profile = profile_of(app, mailbox).await;
            {
                let mut notifier = lock(app.state::<Mutex<Notifier>>().inner());
                notifier.observe(
                    mailbox,
                    &profile,
                    health,
                    code.as_deref(),
                    message.as_deref(),
                    Instant::now(),
                );
            }
            lock(app.state::<Healths>().inner()).insert(mailbox.clone(), health);
            update_counts(app);
        }
        EngineEvent::Paused | EngineEvent::Resumed => {
            shell_state(app).paused = matches!(event, EngineEvent::Paused);
            report("update the tray", refresh_tray(app));
        }
        EngineEvent::QueueDepths { mailboxes, outgoing, async_ops } => {
            let depths = crmsync_engine::handle::QueueDepths {
                mailboxes: *mailboxes,
                outgoing: *outgoing,
                async_ops: *async_ops,
            };
            *lock(&app.state::<App>().depths) = depths;
            if *mailboxes == 0 && shell_state(app).sync_requested {
                shell_state(app).sync_requested = false;
                report("update the tray", refresh_tray(app));
            }
        }
        EngineEvent::SyncProgress { .. } | EngineEvent::AlertRaised { .. } => {}
    }
    emit(app, event.clone());
}

/// The profile of a mailbox (notifications fold per profile).
async fn profile_of(app: &AppHandle, email: &str) -> String {
    let email = email.to_owned();
    app.state::<App>()
        .backend
        .call(move |s, _| Ok(mailboxes::show(s, &email)?.profile))
        .await
        .unwrap_or_default()
}

/// Tray counts and state from the healths seen.
fn update_counts(app: &AppHandle) {
    let healths: Vec<Health> = lock(app.state::<Healths>().inner()).values().copied().collect();
    {
        let mut state = shell_state(app);
        state.counts = status::counts(healths.iter().copied());
        state.health = HealthState(Some(status::tray_state(healths.iter().copied(), false)));
        // `paused` follows the menu and the engine's Paused / Resumed events.
    }
    report("update the tray", refresh_tray(app));
}

/// Re-reads the mailboxes from the store every few seconds, or when a command
/// changed something: mailboxes added or removed, the mute setting, and the
/// healths a `crmsync run` holding the lease writes.
async fn refresh_loop(app: AppHandle, backend: Backend, link: EngineLink) {
    loop {
        refresh(&app, &backend).await;
        link.wait(Duration::from_secs(3)).await;
    }
}

/// Reads the mailboxes' healths and the mute setting; updates the tray, the
/// notifier and the window.
async fn refresh(app: &AppHandle, backend: &Backend) {
    let read = backend
        .call(|s, _| {
            let list = mailboxes::list(s)?;
            let muted = settings::load(s)?.bool(BoolSetting::NotificationsMuted);
            Ok((list, muted))
        })
        .await;
    let (list, muted) = match read {
        Ok(v) => v,
        Err(e) => {
            eprintln!("crmsync-desktop: cannot read mailbox health: {e:?}");
            return;
        }
    };
    let now = Instant::now();
    let mut changed = Vec::new();
    {
        let mut notifier = lock(app.state::<Mutex<Notifier>>().inner());
        notifier.set_muted(muted);
        let mut seen = lock(app.state::<Healths>().inner());
        let before: Vec<String> = seen.keys().cloned().collect();
        for mb in &list {
            let health = status::health_of(mb);
            let err = mb.telemetry.last_error.as_ref();
            let code = err.map(|e| e.code.clone());
            let message = err.map(|e| e.message.clone());
            notifier.observe(&mb.data.email, &mb.profile, health, code.as_deref(), message.as_deref(), now);
            if seen.insert(mb.data.email.clone(), health) != Some(health) {
                changed.push(EngineEvent::MailboxStatusChanged {
                    mailbox: mb.data.email.clone(),
                    health,
                    code,
                    message,
                });
            }
        }
        for gone in before.iter().filter(|e| !list.iter().any(|m| &m.data.email == *e)) {
            seen.remove(gone);
            notifier.forget(gone);
        }
    }
    update_counts(app);
    for e in changed {
        emit(app, e);
    }
}

/// Shows the notifications the notifier folds together, at most one a second.
async fn notification_loop(app: AppHandle) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let due = lock(app.state::<Mutex<Notifier>>().inner()).poll(Instant::now());
        if let Some(n) = due {
            let app = app.clone();
            std::thread::spawn(move || show_notification(&app, n));
        }
    }
}

/// Shows one notification; a click ("default" action) opens its route.
fn show_notification(app: &AppHandle, n: notify::Notification) {
    let mut builder = notify_rust::Notification::new();
    builder
        .appname("crmsync")
        .summary(&n.summary)
        .body(&n.body)
        .icon("crmsync-desktop")
        .action("default", n.action)
        .urgency(match n.urgency {
            Urgency::Critical => notify_rust::Urgency::Critical,
            Urgency::Normal => notify_rust::Urgency::Normal,
        });
    match builder.show() {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" {
                report("show the window", show_main_window(app));
                emit(app, ShellEvent::Navigate { route: n.open.clone() });
            }
        }),
        Err(e) => eprintln!("crmsync-desktop: cannot show a notification: {e}"),
    }
}

fn tray_image(state: TrayState) -> tauri::Result<Image<'static>> {
    Image::from_bytes(shell::tray_state_png(state))
}

fn create_tray(app: &AppHandle) -> tauri::Result<()> {
    let state = shell_state(app).clone();
    let enabled = state.menu_enabled();
    let item = |id: &str, text: &str, enabled: bool| MenuItem::with_id(app, id, text, enabled, None::<&str>);
    let entries = TrayMenu {
        summary: item("summary", &shell::tooltip_summary(state.counts, state.paused), false)?,
        sync_now: item(menu_id::SYNC_NOW, "Sync now", enabled.sync_now)?,
        pause: item(menu_id::PAUSE, "Pause", enabled.pause)?,
        resume: item(menu_id::RESUME, "Resume", enabled.resume)?,
    };
    let menu = Menu::with_items(
        app,
        &[
            &entries.summary,
            &PredefinedMenuItem::separator(app)?,
            &item(menu_id::OPEN, "Open", true)?,
            &entries.sync_now,
            &entries.pause,
            &entries.resume,
            &PredefinedMenuItem::separator(app)?,
            &item(menu_id::QUIT, "Quit", true)?,
        ],
    )?;
    app.manage(entries);
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(tray_image(state.tray_state())?)
        .tooltip(state.tooltip())
        .menu(&menu)
        .on_menu_event(|app, event| on_menu_event(app, event.id().as_ref()))
        .build(app)?;
    Ok(())
}

fn on_menu_event(app: &AppHandle, id: &str) {
    let action = shell::on_menu(id, &mut shell_state(app));
    match action {
        MenuAction::ShowWindow => report("show the window", show_main_window(app)),
        MenuAction::Engine(request) => {
            let link = &app.state::<App>().engine;
            match request {
                EngineRequest::SyncNow => {
                    link.sync_now();
                }
                EngineRequest::Pause => link.pause(),
                EngineRequest::Resume => link.resume(),
            }
            report("update the tray", refresh_tray(app));
        }
        MenuAction::Quit => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Some(handle) = app.state::<App>().engine.take() {
                    handle.shutdown().await;
                }
                app.exit(0);
            });
        }
        MenuAction::None => {}
    }
}

fn show_main_window(app: &AppHandle) -> tauri::Result<()> {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        window.show()?;
        window.unminimize()?;
        window.set_focus()?;
    }
    Ok(())
}

fn refresh_tray(app: &AppHandle) -> tauri::Result<()> {
    let state = shell_state(app).clone();
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        tray.set_icon(Some(tray_image(state.tray_state())?))?;
        tray.set_tooltip(Some(state.tooltip()))?;
    }
    // The tray state for tests and diagnostics (tray hosts cannot be queried).
    if let Some(path) = std::env::var_os("CRMSYNC_DESKTOP_TRAY_STATE_FILE") {
        let line = format!("{} {}\n", shell::tray_state_name(state.tray_state()), state.tooltip());
        let _ = std::fs::write(path, line);
    }
    let entries = app.state::<TrayMenu>();
    let enabled = state.menu_enabled();
    entries.summary.set_text(shell::tooltip_summary(state.counts, state.paused))?;
    entries.sync_now.set_enabled(enabled.sync_now)?;
    entries.pause.set_enabled(enabled.pause)?;
    entries.resume.set_enabled(enabled.resume)?;
    Ok(())
}

/// Failures of window and tray calls are not fatal: report them and go on.
fn report(what: &str, result: tauri::Result<()>) {
    if let Err(error) = result {
        eprintln!("crmsync-desktop: cannot {what}: {error}");
    }
}
