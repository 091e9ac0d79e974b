//! The shell's decisions as plain functions: tray state, tray icon, tooltip,
//! and what each tray menu entry does. Nothing here touches Tauri, so it is
//! tested without a display.

/// Ids of the tray menu entries.
pub mod menu_id {
    pub const OPEN: &str = "open";
    pub const SYNC_NOW: &str = "sync-now";
    pub const PAUSE: &str = "pause";
    pub const RESUME: &str = "resume";
    pub const QUIT: &str = "quit";
}

/// Mailbox health counts, as the engine reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxCounts {
    /// Enabled mailboxes whose last cycle succeeded.
    pub ok: u32,
    /// Mailboxes with an open failure alert.
    pub failing: u32,
}

/// What the tray shows. Each state has its own icon shape and glyph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayState {
    Ok,
    Syncing,
    Warning,
    Error,
    Paused,
}

/// The desktop shell's own view of the sync engine, kept current from the
/// engine's mailbox healths (see `status::tray_state` and `status::counts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellState {
    /// Scheduling is paused by the admin.
    pub paused: bool,
    /// "Sync now" was chosen and the cycle it started has not finished yet.
    pub sync_requested: bool,
    /// The worst mailbox health as a tray state (never `Paused`).
    pub health: HealthState,
    pub counts: MailboxCounts,
    /// Another process (`crmsync run`) holds the store's lease: its sentence.
    /// The tray cannot sync, pause or resume that engine.
    pub elsewhere: Option<String>,
}

/// The worst mailbox health, as the tray shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthState(pub Option<TrayState>);

impl ShellState {
    /// Paused first; then the worst mailbox health; a requested sync shows as
    /// syncing while everything is OK.
    pub fn tray_state(&self) -> TrayState {
        let worst = self.health.0.unwrap_or(TrayState::Ok);
        if self.paused {
            TrayState::Paused
        } else if self.sync_requested && worst == TrayState::Ok {
            TrayState::Syncing
        } else {
            worst
        }
    }

    /// The tray tooltip, e.g. "crmsync — 12 mailboxes OK · 1 failing".
    pub fn tooltip(&self) -> String {
        let summary = tooltip_summary(self.counts, self.paused);
        match &self.elsewhere {
            Some(lease) => format!("crmsync — {summary} · {lease}"),
            None => format!("crmsync — {summary}"),
        }
    }

    /// Which tray menu entries can be chosen now.
    pub fn menu_enabled(&self) -> MenuEnabled {
        let ours = self.elsewhere.is_none();
        MenuEnabled {
            sync_now: ours && !self.paused && !self.sync_requested,
            pause: ours && !self.paused,
            resume: ours && self.paused,
        }
    }
}

/// Enabled flags of the tray menu entries that depend on the state
/// (Open and Quit are always enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MenuEnabled {
    pub sync_now: bool,
    pub pause: bool,
    pub resume: bool,
}

/// A request for the sync engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineRequest {
    /// Run a cycle of every enabled mailbox now.
    SyncNow,
    /// Stop scheduling cycles.
    Pause,
    /// Schedule cycles again.
    Resume,
}

/// What the Tauri side must do after a menu entry was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuAction {
    /// Show, unminimize and focus the main window.
    ShowWindow,
    /// Hand this request to the engine, then refresh the tray icon, tooltip and menu.
    Engine(EngineRequest),
    /// Exit the application.
    Quit,
    /// Nothing to do (unknown id, or an entry that does not apply now).
    None,
}

/// Records an engine request, from the tray menu or the window's buttons, in
/// the state the tray shows; false when it does not apply now (the engine is
/// another process's, or it is already paused, resumed or syncing).
pub fn request(req: EngineRequest, state: &mut ShellState) -> bool {
    let ours = state.elsewhere.is_none();
    match req {
        EngineRequest::SyncNow if ours && !state.paused && !state.sync_requested => {
            state.sync_requested = true;
            true
        }
        EngineRequest::Pause if ours && !state.paused => {
            state.paused = true;
            true
        }
        EngineRequest::Resume if ours && state.paused => {
            state.paused = false;
            true
        }
        _ => false,
    }
}

/// Handles a tray menu entry: updates the state and says what to do.
pub fn on_menu(id: &str, state: &mut ShellState) -> MenuAction {
    let engine = |req: EngineRequest, state: &mut ShellState| {
        if request(req, state) { MenuAction::Engine(req) } else { MenuAction::None }
    };
    match id {
        menu_id::OPEN => MenuAction::ShowWindow,
        menu_id::SYNC_NOW => engine(EngineRequest::SyncNow, state),
        menu_id::PAUSE => engine(EngineRequest::Pause, state),
        menu_id::RESUME => engine(EngineRequest::Resume, state),
        menu_id::QUIT => MenuAction::Quit,
        _ => MenuAction::None,
    }
}

/// The icon file (in `icons/`) for a tray state.
pub fn tray_state_icon(state: TrayState) -> &'static str {
    match state {
        TrayState::Ok => "tray-ok.png",
        TrayState::Syncing => "tray-syncing.png",
        TrayState::Warning => "tray-warning.png",
        TrayState::Error => "tray-error.png",
        TrayState::Paused => "tray-paused.png",
    }
}

/// The tray state's word, as the UI shows it next to the icon.
pub fn tray_state_name(state: TrayState) -> &'static str {
    match state {
        TrayState::Ok => "ok",
        TrayState::Syncing => "syncing",
        TrayState::Warning => "warning",
        TrayState::Error => "error",
        TrayState::Paused => "paused",
    }
}

/// Embeds `icons/NAME` as `(NAME, bytes)`.
macro_rules! embedded_icon {
    ($name:literal) => {
        ($name, include_bytes!(concat!("../../icons/", $name)))
    };
}

/// Every tray icon, embedded in the binary.
const TRAY_ICONS: [(&str, &[u8]); 5] = [
    embedded_icon!("tray-ok.png"),
    embedded_icon!("tray-syncing.png"),
    embedded_icon!("tray-warning.png"),
    embedded_icon!("tray-error.png"),
    embedded_icon!("tray-paused.png"),
];

/// The PNG bytes of [`tray_state_icon`].
pub fn tray_state_png(state: TrayState) -> &'static [u8] {
    let name = tray_state_icon(state);
    TRAY_ICONS
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, png)| *png)
        .expect("every tray state icon is in TRAY_ICONS")
}

fn mailboxes(n: u32) -> String {
    if n == 1 { "1 mailbox".to_owned() } else { format!("{n} mailboxes") }
}

/// One-line health summary, e.g. "12 mailboxes OK · 1 failing".
///
/// Mirrors `statusSummary` in ui/src/status.ts; both are tested against
/// ui/src/status-cases.json.
pub fn tooltip_summary(counts: MailboxCounts, paused: bool) -> String {
    let MailboxCounts { ok, failing } = counts;
    let summary = match (ok, failing) {
        (0, 0) => "No mailboxes".to_owned(),
        (ok, 0) => format!("{} OK", mailboxes(ok)),
        (0, failing) => format!("{} failing", mailboxes(failing)),
        (ok, failing) => format!("{} OK · {failing} failing", mailboxes(ok)),
    };
    if paused { format!("Paused · {summary}") } else { summary }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::Path;

    const ALL_STATES: [TrayState; 5] =
        [TrayState::Ok, TrayState::Syncing, TrayState::Warning, TrayState::Error, TrayState::Paused];

    #[derive(serde::Deserialize)]
    struct Case {
        ok: u32,
        failing: u32,
        paused: bool,
        expected: String,
    }

    #[test]
    fn tooltip_summary_matches_the_ui_cases() {
        let cases: Vec<Case> = serde_json::from_str(include_str!("../../ui/src/status-cases.json")).unwrap();
        assert!(cases.len() >= 5);
        for case in cases {
            let counts = MailboxCounts { ok: case.ok, failing: case.failing };
            assert_eq!(
                tooltip_summary(counts, case.paused),
                case.expected,
                "ok={} failing={} paused={}",
                case.ok,
                case.failing,
                case.paused
            );
        }
    }

    #[test]
    fn tooltip_carries_the_app_name() {
        let state = ShellState { counts: MailboxCounts { ok: 12, failing: 1 }, ..ShellState::default() };
        assert_eq!(state.tooltip(), "crmsync — 12 mailboxes OK · 1 failing");
    }

    #[test]
    fn each_tray_state_has_its_own_existing_icon() {
        let icons = Path::new(env!("CARGO_MANIFEST_DIR")).join("../icons");
        let names: HashSet<_> = ALL_STATES.iter().map(|&s| tray_state_icon(s)).collect();
        assert_eq!(names.len(), ALL_STATES.len());
        for state in ALL_STATES {
            let on_disk = std::fs::read(icons.join(tray_state_icon(state))).unwrap();
            assert_eq!(on_disk, tray_state_png(state), "{state:?}");
            assert!(on_disk.starts_with(b"\x89PNG\r\n\x1a\n"));
        }
    }

    #[test]
    fn tray_state_precedence() {
        let mut state = ShellState::default();
        assert_eq!(state.tray_state(), TrayState::Ok);
        state.sync_requested = true;
        assert_eq!(state.tray_state(), TrayState::Syncing);
        state.health = HealthState(Some(TrayState::Warning));
        assert_eq!(state.tray_state(), TrayState::Warning);
        state.health = HealthState(Some(TrayState::Error));
        assert_eq!(state.tray_state(), TrayState::Error);
        state.paused = true;
        assert_eq!(state.tray_state(), TrayState::Paused);
    }

    #[test]
    fn open_and_quit() {
        let mut state = ShellState::default();
        assert_eq!(on_menu(menu_id::OPEN, &mut state), MenuAction::ShowWindow);
        assert_eq!(on_menu(menu_id::QUIT, &mut state), MenuAction::Quit);
        assert_eq!(state, ShellState::default());
    }

    #[test]
    fn sync_now_records_one_request() {
        let mut state = ShellState::default();
        assert_eq!(on_menu(menu_id::SYNC_NOW, &mut state), MenuAction::Engine(EngineRequest::SyncNow));
        assert!(state.sync_requested);
        assert_eq!(state.tray_state(), TrayState::Syncing);
        assert!(!state.menu_enabled().sync_now);
        assert_eq!(on_menu(menu_id::SYNC_NOW, &mut state), MenuAction::None);
    }

    #[test]
    fn a_window_request_changes_the_state_as_the_menu_entry_does() {
        for (id, req, paused) in [
            (menu_id::SYNC_NOW, EngineRequest::SyncNow, false),
            (menu_id::PAUSE, EngineRequest::Pause, false),
            (menu_id::RESUME, EngineRequest::Resume, true),
        ] {
            let start = ShellState { paused, ..ShellState::default() };
            let (mut by_menu, mut by_window) = (start.clone(), start);
            assert_eq!(on_menu(id, &mut by_menu), MenuAction::Engine(req));
            assert!(request(req, &mut by_window));
            assert_eq!(by_window, by_menu, "{id}");
            assert!(!request(req, &mut by_window), "{id} applies once");
        }
    }

    #[test]
    fn pause_and_resume() {
        let mut state = ShellState::default();
        assert_eq!(on_menu(menu_id::RESUME, &mut state), MenuAction::None);
        assert_eq!(on_menu(menu_id::PAUSE, &mut state), MenuAction::Engine(EngineRequest::Pause));
        assert!(state.paused);
        assert_eq!(state.tray_state(), TrayState::Paused);
        assert_eq!(state.menu_enabled(), MenuEnabled { sync_now: false, pause: false, resume: true });
        assert_eq!(on_menu(menu_id::PAUSE, &mut state), MenuAction::None);
        assert_eq!(on_menu(menu_id::SYNC_NOW, &mut state), MenuAction::None);
        assert!(!state.sync_requested);
        assert_eq!(on_menu(menu_id::RESUME, &mut state), MenuAction::Engine(EngineRequest::Resume));
        assert!(!state.paused);
        assert_eq!(state.menu_enabled(), MenuEnabled { sync_now: true, pause: true, resume: false });
    }

    #[test]
    fn lease_held_elsewhere_shows_in_the_tooltip_and_disables_engine_entries() {
        let lease = "The sync service is running in another process: crmsync run (pid 42 on box)";
        let mut state = ShellState { elsewhere: Some(lease.into()), ..ShellState::default() };
        assert!(state.tooltip().ends_with(lease), "{}", state.tooltip());
        assert_eq!(state.menu_enabled(), MenuEnabled { sync_now: false, pause: false, resume: false });
        assert_eq!(on_menu(menu_id::SYNC_NOW, &mut state), MenuAction::None);
        assert_eq!(on_menu(menu_id::PAUSE, &mut state), MenuAction::None);
        assert_eq!(on_menu(menu_id::OPEN, &mut state), MenuAction::ShowWindow);
        assert_eq!(on_menu(menu_id::QUIT, &mut state), MenuAction::Quit);
    }

    #[test]
    fn unknown_menu_id_does_nothing() {
        let mut state = ShellState::default();
        assert_eq!(on_menu("", &mut state), MenuAction::None);
        assert_eq!(on_menu("Quit", &mut state), MenuAction::None);
        assert_eq!(state, ShellState::default());
    }
}
