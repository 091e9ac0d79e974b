//! A scripted POP3 server for the situations a real server will not produce on
//! demand: endless CAPA lines, a RETR that never ends (or a message announced
//! at 2 GB), a RETR that drips one line at a time, duplicate UIDLs. It speaks
//! just enough RFC 1939 over plain TCP for crmsync's client (CAPA, USER, PASS,
//! STAT, UIDL, LIST, RETR, DELE, RSET, NOOP, QUIT), answers anything else
//! `-ERR`, and records every command line it receives (PASS masked).
//!
//! One maildrop, any user and password. The server runs on a thread of its
//! own with its own tokio runtime, like [`crate::ScriptedImap`], and stops
//! when dropped.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::error::{HarnessError, Result};
use crate::ports::LOOPBACK;

const SERVER: &str = "scripted-pop3";

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pop3Fault {
    /// CAPA is answered with capability lines that never end.
    EndlessCapa,
    /// `LIST n` announces `announce` bytes and `RETR n` sends data lines
    /// without end (a 2 GB message, or a server lying about the size).
    EndlessRetr {
        /// The size `LIST n` announces.
        announce: u64,
    },
    /// `RETR n` sends one short line every `every`, without end.
    DripRetr {
        /// The pause between two lines.
        every: Duration,
    },
}

#[derive(Debug, Default)]
struct State {
    /// (UIDL, raw, marked deleted)
    messages: Vec<(String, Vec<u8>, bool)>,
    fault: Option<Pop3Fault>,
    commands: Vec<String>,
}

/// A running scripted POP3 server on `127.0.0.1:port()`.
#[derive(Debug)]
pub struct ScriptedPop3 {
    port: u16,
    state: Arc<Mutex<State>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedPop3 {
    /// Starts a server whose maildrop holds `messages` (UIDL, raw bytes) in
    /// this order; UIDLs may repeat (a broken server).
    pub fn start(messages: Vec<(String, Vec<u8>)>) -> Result<ScriptedPop3> {
        let listener = std::net::TcpListener::bind((LOOPBACK, 0))
            .map_err(|e| HarnessError::io(SERVER, "bind 127.0.0.1:0", e))?;
        listener.set_nonblocking(true).map_err(|e| HarnessError::io(SERVER, "set non-blocking", e))?;
        let port =
            listener.local_addr().map_err(|e| HarnessError::io(SERVER, "read local address", e))?.port();
        let messages = messages.into_iter().map(|(u, raw)| (u, raw, false)).collect();
        let state = Arc::new(Mutex::new(State { messages, ..State::default() }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HarnessError::io(SERVER, "build runtime", e))?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("scripted-pop3-{port}"))
            .spawn(move || runtime.block_on(accept_loop(listener, thread_state, shutdown_rx)))
            .map_err(|e| HarnessError::io(SERVER, "spawn thread", e))?;
        Ok(ScriptedPop3 { port, state, shutdown: Some(shutdown_tx), thread: Some(thread) })
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        LOOPBACK
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes later sessions misbehave with `fault` (`None`: normally again).
    pub fn set_fault(&self, fault: Option<Pop3Fault>) {
        self.state().fault = fault;
    }

    /// The UIDLs still in the maildrop (after QUIT removed what was deleted), in order.
    pub fn uidls(&self) -> Vec<String> {
        self.state().messages.iter().map(|(u, _, _)| u.clone()).collect()
    }

    /// Every command line received so far, in order.
    pub fn commands(&self) -> Vec<String> {
        self.state().commands.clone()
    }

    /// How many received commands start with `prefix` (case-insensitive), e.g. `RETR`.
    pub fn count_commands(&self, prefix: &str) -> usize {
        let p = prefix.to_ascii_uppercase();
        self.state().commands.iter().filter(|c| c.to_ascii_uppercase().starts_with(&p)).count()
    }
}

impl Drop for ScriptedPop3 {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let Ok(listener) = TcpListener::from_std(listener) else { return };
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(session(stream, state.clone()));
                }
            }
        }
    }
}

/// What to send for one command.
enum Answer {
    /// These bytes.
    Bytes(Vec<u8>),
    /// These bytes, then close.
    Close(Vec<u8>),
    /// These bytes, then `line` again and again (after `every`, if any) until the client goes.
    Endless { first: Vec<u8>, line: Vec<u8>, every: Option<Duration> },
}

fn stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn answer(state: &Mutex<State>, line: &str) -> Answer {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let upper = line.to_ascii_uppercase();
    st.commands.push(if upper.starts_with("PASS ") { "PASS ***".to_string() } else { line.to_string() });
    let mut words = line.split_whitespace();
    let word = words.next().unwrap_or("").to_ascii_uppercase();
    let arg: Option<usize> = words.next().and_then(|a| a.parse().ok());
    // Message `n` (1-based) when it exists and is not marked deleted.
    let live = |st: &State, n: usize| n >= 1 && n <= st.messages.len() && !st.messages[n - 1].2;
    let ok = |s: &str| Answer::Bytes(format!("{s}\r\n").into_bytes());
    match (word.as_str(), st.fault) {
        ("CAPA", Some(Pop3Fault::EndlessCapa)) => Answer::Endless {
            first: b"+OK Capability list follows\r\nUSER\r\nUIDL\r\n".to_vec(),
            line: b"X-ENDLESS-CAPABILITY and another one\r\n".to_vec(),
            every: None,
        },
        ("CAPA", _) => ok("+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\n."),
        ("USER", _) | ("PASS", _) => ok("+OK"),
        ("NOOP", _) | ("RSET", _) => {
            if word == "RSET" {
                st.messages.iter_mut().for_each(|m| m.2 = false);
            }
            ok("+OK")
        }
        ("STAT", _) => {
            let live: Vec<_> = st.messages.iter().filter(|m| !m.2).collect();
            ok(&format!("+OK {} {}", live.len(), live.iter().map(|m| m.1.len()).sum::<usize>()))
        }
        ("UIDL", _) | ("LIST", _) if arg.is_none() => {
            let mut s = String::from("+OK\r\n");
            for (i, m) in st.messages.iter().enumerate().filter(|(_, m)| !m.2) {
                let value = if word == "UIDL" { m.0.clone() } else { m.1.len().to_string() };
                s.push_str(&format!("{} {value}\r\n", i + 1));
            }
            s.push('.');
            ok(&s)
        }
        ("UIDL", _) | ("LIST", _) | ("RETR", _) | ("DELE", _) if !live(&st, arg.unwrap_or(0)) => {
            ok("-ERR no such message")
        }
        ("UIDL", _) => {
            let n = arg.unwrap_or(0);
            ok(&format!("+OK {n} {}", st.messages[n - 1].0))
        }
        ("LIST", Some(Pop3Fault::EndlessRetr { announce })) => {
            ok(&format!("+OK {} {announce}", arg.unwrap_or(0)))
        }
        ("LIST", _) => {
            let n = arg.unwrap_or(0);
            ok(&format!("+OK {n} {}", st.messages[n - 1].1.len()))
        }
        ("RETR", Some(Pop3Fault::EndlessRetr { .. })) => Answer::Endless {
            first: b"+OK message follows\r\n".to_vec(),
            line: [b'x'; 998].iter().copied().chain(*b"\r\n").collect(),
            every: None,
        },
        ("RETR", Some(Pop3Fault::DripRetr { every })) => Answer::Endless {
            first: b"+OK message follows\r\n".to_vec(),
            line: b"\r\n".to_vec(),
            every: Some(every),
        },
        ("RETR", _) => {
            let n = arg.unwrap_or(0);
            let mut out = format!("+OK {} octets\r\n", st.messages[n - 1].1.len()).into_bytes();
            out.extend_from_slice(&stuffed(&st.messages[n - 1].1));
            Answer::Bytes(out)
        }
        ("DELE", _) => {
            let n = arg.unwrap_or(0);
            st.messages[n - 1].2 = true;
            ok("+OK marked")
        }
        ("QUIT", _) => {
            st.messages.retain(|m| !m.2);
            Answer::Close(b"+OK bye\r\n".to_vec())
        }
        _ => ok("-ERR the scripted server does not know this"),
    }
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"+OK scripted POP3 server ready\r\n").await.is_err() {
        return;
    }
    let mut buf = String::new();
    loop {
        buf.clear();
        match lines.read_line(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        match answer(&state, buf.trim_end_matches(['\r', '\n'])) {
            Answer::Bytes(out) => {
                if write.write_all(&out).await.is_err() {
                    return;
                }
            }
            Answer::Close(out) => {
                let _ = write.write_all(&out).await;
                return;
            }
            Answer::Endless { first, line, every } => {
                if write.write_all(&first).await.is_err() {
                    return;
                }
                // Until the client gives up and closes (a write fails).
                let chunk: Vec<u8> = if every.is_some() { line.clone() } else { line.repeat(64) };
                loop {
                    if let Some(every) = every {
                        tokio::time::sleep(every).await;
                    }
                    if write.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
