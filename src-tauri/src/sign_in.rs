//! "Sign in with Microsoft / Google" from the mailbox page: the engine's
//! loopback flow (authorization code + PKCE, `http://127.0.0.1:<port>/`,
//! state checked), with the browser opened by the system's opener. The store
//! thread only reads the profile's client before and stores the tokens after;
//! the wait for the browser runs on the command's own task, so the window
//! stays responsive meanwhile (as Test Connection does).

use std::process::Command;
use std::time::Duration;

use crmsync_engine::oauth::{self, SignInStatus};

use crate::backend::Backend;
use crate::wire::IpcError;

/// How long the admin has to finish the sign-in in the browser.
pub const WAIT: Duration = Duration::from_secs(5 * 60);

/// Environment variable naming a program to open the sign-in page with
/// instead of the system's opener (it gets the URL as its only argument):
/// another browser, or the end-to-end test, which plays the browser itself.
pub const BROWSER_ENV: &str = "CRMSYNC_BROWSER";

/// The command that opens `url`: `$CRMSYNC_BROWSER URL` when set, else the
/// system's opener (`xdg-open`, `open`, or Windows' `explorer`). The URL is
/// one argument, never shell text.
pub fn opener(url: &str, browser: Option<&str>) -> Command {
    let program = match browser.filter(|b| !b.trim().is_empty()) {
        Some(b) => b.to_string(),
        None if cfg!(target_os = "macos") => "open".into(),
        None if cfg!(windows) => "explorer".into(),
        None => "xdg-open".into(),
    };
    let mut c = Command::new(program);
    c.arg(url);
    c
}

/// Opens `url` in the browser; a failure to start it is only logged (the
/// sign-in then times out and says so).
fn open_browser(url: &str) {
    let browser = std::env::var(BROWSER_ENV).ok();
    match opener(url, browser.as_deref()).spawn() {
        // Reap it without blocking this task.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("crmsync-desktop: cannot open the browser for the sign-in: {e}"),
    }
}

/// Signs `email` in: reads its profile's OAuth2 client on the store thread,
/// runs the browser sign-in here, then stores the tokens on the store thread.
pub async fn sign_in(backend: &Backend, email: String) -> Result<SignInStatus, IpcError> {
    sign_in_with(backend, email, |url| open_browser(&url), WAIT).await
}

/// [`sign_in`] with the browser `open` and the time `wait` given.
async fn sign_in_with(
    backend: &Backend,
    email: String,
    open: impl FnOnce(String),
    wait: Duration,
) -> Result<SignInStatus, IpcError> {
    let prepared = backend.call(move |s, _| oauth::prepare_sign_in(s, &email)).await?;
    let signed = prepared.run(|url| async move { open(url) }, wait).await;
    backend.call(move |s, _| oauth::store_sign_in(s, signed)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crmsync_core::store::principals::Kind;
    use crmsync_engine::admin::mailboxes::MailboxInput;
    use crmsync_engine::admin::profiles::ProfileInput;
    use crmsync_engine::admin::{mailboxes, principals, profiles};
    use crmsync_tests::OAuthServer;

    /// While the admin is in the browser the store thread keeps answering
    /// the window; the tokens are stored once the browser comes back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_window_stays_responsive_while_the_browser_signs_in() {
        let oauth = OAuthServer::start().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::open(&dir.path().join("crm.db")).unwrap();
        let form: ProfileInput = serde_json::from_value(serde_json::json!({
            "kind": "imap-smtp", "incoming_host": "127.0.0.1", "preset": "microsoft",
            "auth": "oauth2", "oauth_provider": "custom", "oauth_client_id": "crmsync-test",
            "oauth_authorize_url": oauth.authorize_url(), "oauth_token_url": oauth.token_url(),
            "oauth_scopes": "mail",
        }))
        .unwrap();
        backend
            .call(move |s, _| {
                profiles::add(s, "M365", &form)?;
                principals::add(s, Kind::User, "carol@example.test", "Carol")?;
                let mb = MailboxInput { profile: Some("M365".into()), ..Default::default() };
                mailboxes::add(s, "carol@example.test", &mb)
            })
            .await
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let signing = {
            let backend = backend.clone();
            tokio::spawn(async move {
                let open = move |url: String| tx.send(url).unwrap();
                sign_in_with(&backend, "carol@example.test".into(), open, Duration::from_secs(30)).await
            })
        };
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .await
            .unwrap();
        // The sign-in waits for the browser; the window's calls are answered meanwhile.
        let listed =
            tokio::time::timeout(Duration::from_secs(2), backend.call(|s, _| Ok(mailboxes::list(s)?.len())))
                .await
                .expect("the store thread answers during the sign-in");
        assert_eq!(listed.unwrap(), 1);
        assert!(!signing.is_finished());
        let (status, page) = oauth.browse(&url).await.unwrap();
        assert_eq!(status, 200, "{page}");
        let state = signing.await.unwrap().unwrap();
        assert!(state.signed_in && state.can_refresh && state.access_valid_until.is_some(), "{state:?}");
    }

    #[test]
    fn the_url_is_one_argument_of_the_chosen_opener() {
        let url = "https://login.example/authorize?a=1&b=$(rm -rf /)";
        let c = opener(url, Some("/usr/bin/firefox"));
        assert_eq!(c.get_program(), "/usr/bin/firefox");
        assert_eq!(c.get_args().collect::<Vec<_>>(), [url]);
        let c = opener(url, None);
        if cfg!(target_os = "linux") {
            assert_eq!(c.get_program(), "xdg-open");
        }
        assert_eq!(c.get_args().count(), 1);
        assert_eq!(opener(url, Some(" ")).get_args().count(), 1, "a blank setting is the system's opener");
    }
}
