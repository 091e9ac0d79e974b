//! crmsync-desktop: the thin desktop shell. It owns the admin window, the tray
//! icon and desktop notifications; its decisions live in plain, tested
//! functions ([`shell`], [`status`], [`notify`]) and every store access goes
//! through the engine crate's admin API on the store thread ([`backend`]).
//!
//! Closing the window hides it to the tray; "Quit" in the tray menu exits.

mod backend;
mod engine;
mod ipc;
mod notify;
mod shell;
mod status;
#[cfg(test)]
mod testdata;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use backend::Backend;
use crmsync_engine::admin::{mailboxes, settings};
use engine::EngineLink;
use ipc::{App, ENGINE_EVENT, EngineEventView};
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
    let path = db_path();
    let backend = match Backend::open(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("crmsync-desktop: cannot open the store {}: {e:?}", path.display());
            std::process::exit(1);
        }
    };
    let link = EngineLink::new();
    tauri::Builder::default()
        .manage(Mutex::new(ShellState::default()))
        .manage(Mutex::new(Notifier::new(Policy::default())))
        .manage(Healths::default())
        .manage(App { backend: backend.clone(), engine: link.clone(), router: Mutex::new(None) })
        .invoke_handler(ipc::handler())
        .setup(move |app| {
            create_tray(app.handle())?;
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(engine_loop(handle.clone(), backend, link));
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
    lock(app.state::<Mutex<ShellState>>().inner())
}

fn emit(app: &AppHandle, event: EngineEventView) {
    if let Err(e) = app.emit(ENGINE_EVENT, event) {
        eprintln!("crmsync-desktop: cannot send an event to the window: {e}");
    }
}

/// Runs the engine's incoming cycle on schedule or on request, then refreshes
/// healths, tray, notifications and the window. Replaced by the engine's
/// `EngineHandle` event stream when it lands.
async fn engine_loop(app: AppHandle, backend: Backend, link: EngineLink) {
    let mut last_cycle: Option<Instant> = None;
    let mut was_paused = false;
    loop {
        let paused = link.is_paused();
        if paused != was_paused {
            was_paused = paused;
            emit(&app, if paused { EngineEventView::Paused } else { EngineEventView::Resumed });
        }
        let interval = Duration::from_secs(
            backend
                .call(|s, _| {
                    Ok(settings::show(s)?
                        .into_iter()
                        .find(|e| e.key == "polling.active_interval_secs")
                        .and_then(|e| e.value.as_u64())
                        .unwrap_or(60))
                })
                .await
                .unwrap_or(60),
        );
        let requested = link.take_sync_request();
        let due = last_cycle.is_none_or(|t| t.elapsed() >= interval);
        if !paused && (requested || due) {
            if requested {
                shell_state(&app).sync_requested = true;
                report("update the tray", refresh_tray(&app));
            }
            let cycle =
                backend.call(|s, rt| rt.block_on(crmsync_engine::incoming::cycle::sync_all(s, None))).await;
            if let Err(e) = cycle {
                eprintln!("crmsync-desktop: sync cycle failed: {e:?}");
            }
            last_cycle = Some(Instant::now());
            shell_state(&app).sync_requested = false;
            refresh(&app, &backend).await;
            emit(&app, EngineEventView::CycleFinished);
        } else {
            refresh(&app, &backend).await;
        }
        let next = last_cycle.map_or(Duration::ZERO, |t| interval.saturating_sub(t.elapsed()));
        link.wait(next.max(Duration::from_millis(200))).await;
    }
}

/// Reads the mailboxes' healths and the mute setting; updates the tray, the
/// notifier and the window.
async fn refresh(app: &AppHandle, backend: &Backend) {
    let read = backend
        .call(|s, _| {
            let list = mailboxes::list(s)?;
            let muted = settings::show(s)?
                .into_iter()
                .find(|e| e.key == "notifications.muted")
                .and_then(|e| e.value.as_bool())
                .unwrap_or(false);
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
                changed.push(EngineEventView::MailboxStatusChanged {
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
    {
        let healths: Vec<Health> = list.iter().map(status::health_of).collect();
        let mut state = shell_state(app);
        state.counts = status::counts(healths.iter().copied());
        state.health = HealthState(Some(status::tray_state(healths.iter().copied(), false)));
        state.paused = app.state::<App>().engine.is_paused();
    }
    report("update the tray", refresh_tray(app));
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
        .action("default", "Open")
        .urgency(match n.urgency {
            Urgency::Critical => notify_rust::Urgency::Critical,
            Urgency::Normal => notify_rust::Urgency::Normal,
        });
    match builder.show() {
        Ok(handle) => handle.wait_for_action(|action| {
            if action == "default" {
                report("show the window", show_main_window(app));
                emit(app, EngineEventView::Navigate { route: n.open.clone() });
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
                EngineRequest::SyncNow => link.sync_now(),
                EngineRequest::Pause => link.pause(),
                EngineRequest::Resume => link.resume(),
            }
            report("update the tray", refresh_tray(app));
        }
        MenuAction::Quit => app.exit(0),
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
