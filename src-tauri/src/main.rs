//! crmsync-desktop: the thin desktop shell. It owns the admin window and the
//! tray icon; every decision lives in [`shell`] as plain, tested functions.
//!
//! Closing the window hides it to the tray; "Quit" in the tray menu exits.

mod shell;

use std::sync::{Mutex, MutexGuard, PoisonError};

use shell::{MenuAction, ShellState, TrayState, menu_id};
use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, WindowEvent, Wry};

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

fn main() {
    tauri::Builder::default()
        .manage(Mutex::new(ShellState::default()))
        .setup(|app| Ok(create_tray(app.handle())?))
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

fn shell_state(app: &AppHandle) -> MutexGuard<'_, ShellState> {
    app.state::<Mutex<ShellState>>().inner().lock().unwrap_or_else(PoisonError::into_inner)
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
        MenuAction::RefreshTray => report("update the tray", refresh_tray(app)),
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
