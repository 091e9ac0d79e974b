//! The loopback redirect of the authorization code flow (RFC 8252 §7.3): a
//! listener on 127.0.0.1 at a port the system picks, the redirect URI
//! `http://127.0.0.1:PORT/`, and exactly one redirect served: its `state`
//! checked, the code taken, a short page telling the user to close the window.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::{EngineError, Result};

const DONE_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>crmsync</title></head>\
<body><p>crmsync is signed in. You can close this window.</p></body></html>";

fn failed_page(why: &str) -> String {
    let why = why.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>crmsync</title></head>\
         <body><p>crmsync could not sign in: {why}</p><p>You can close this window.</p></body></html>"
    )
}

fn io(what: &str, e: std::io::Error) -> EngineError {
    EngineError::OAuth { message: format!("loopback redirect: {what}: {e}"), transient: false }
}

/// Listens on 127.0.0.1 at a free port.
pub async fn bind() -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| io("cannot listen on 127.0.0.1", e))
}

/// `http://127.0.0.1:PORT/` of `listener`.
pub fn redirect_uri(listener: &TcpListener) -> Result<String> {
    let port = listener.local_addr().map_err(|e| io("no local address", e))?.port();
    Ok(format!("http://127.0.0.1:{port}/"))
}

/// Reads one HTTP request head (up to 16 KiB) and returns its request target.
async fn read_target(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Ok(target.to_string()),
        _ => Ok(String::new()),
    }
}

async fn reply(stream: &mut TcpStream, status: &str, body: &str) {
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The decoded query parameters of a request target `/?a=b&c=d`.
fn query(target: &str) -> Vec<(String, String)> {
    let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else { return Vec::new() };
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Waits (at most `wait`) for the redirect to `/`, serves it, and returns the
/// authorization code when its `state` is `expected_state`. Requests for
/// other paths (a browser's favicon) get 404 and are not the redirect.
pub async fn receive_code(listener: TcpListener, expected_state: &str, wait: Duration) -> Result<String> {
    let serve = async {
        loop {
            let (mut stream, _) = listener.accept().await.map_err(|e| io("accept", e))?;
            let target = match tokio::time::timeout(Duration::from_secs(10), read_target(&mut stream)).await {
                Ok(Ok(t)) => t,
                _ => continue,
            };
            let path = target.split('?').next().unwrap_or("");
            if path != "/" {
                reply(&mut stream, "404 Not Found", "").await;
                continue;
            }
            let params = query(&target);
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            let outcome = if get("state") != Some(expected_state) {
                Err("the answer does not belong to this sign-in (state mismatch)".to_string())
            } else if let Some(err) = get("error") {
                let desc = get("error_description").map(|d| format!(": {d}")).unwrap_or_default();
                Err(format!("the authorization server refused ({err}){desc}"))
            } else if let Some(code) = get("code") {
                Ok(code.to_string())
            } else {
                Err("the redirect carries no authorization code".to_string())
            };
            return match outcome {
                Ok(code) => {
                    reply(&mut stream, "200 OK", DONE_PAGE).await;
                    Ok(code)
                }
                Err(why) => {
                    reply(&mut stream, "400 Bad Request", &failed_page(&why)).await;
                    Err(EngineError::SignInRequired { what: String::new(), why })
                }
            };
        }
    };
    match tokio::time::timeout(wait, serve).await {
        Ok(r) => r,
        Err(_) => Err(EngineError::SignInRequired {
            what: String::new(),
            why: format!("no answer from the browser within {} s", wait.as_secs()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(uri: &str) -> (u16, String) {
        let rest = uri.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = TcpStream::connect(host).await.unwrap();
        s.write_all(format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let status = out[9..12].parse().unwrap();
        (status, out)
    }

    #[tokio::test]
    async fn one_redirect_with_the_right_state_gives_the_code_and_a_page_to_close() {
        let l = bind().await.unwrap();
        let uri = redirect_uri(&l).unwrap();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with('/'), "{uri}");
        let task = tokio::spawn(receive_code(l, "st4te", Duration::from_secs(5)));
        let (s, _) = get(&format!("{uri}favicon.ico")).await;
        assert_eq!(s, 404);
        let (s, body) = get(&format!("{uri}?code=c0de%2F1&state=st4te")).await;
        assert_eq!(s, 200);
        assert!(body.contains("You can close this window"), "{body}");
        assert_eq!(task.await.unwrap().unwrap(), "c0de/1");
    }

    #[tokio::test]
    async fn a_wrong_state_or_an_error_is_refused() {
        let l = bind().await.unwrap();
        let uri = redirect_uri(&l).unwrap();
        let task = tokio::spawn(receive_code(l, "expected", Duration::from_secs(5)));
        let (s, body) = get(&format!("{uri}?code=x&state=forged")).await;
        assert_eq!(s, 400);
        assert!(body.contains("state mismatch"), "{body}");
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.code(), "OAUTH_SIGN_IN_REQUIRED");

        let l = bind().await.unwrap();
        let uri = redirect_uri(&l).unwrap();
        let task = tokio::spawn(receive_code(l, "s", Duration::from_secs(5)));
        get(&format!("{uri}?error=access_denied&state=s")).await;
        assert!(task.await.unwrap().unwrap_err().to_string().contains("access_denied"));
    }
}
