//! A scripted IMAP server for the situations a real server will not produce on
//! demand: a FETCH that leaves out a message, answers `BODY[] NIL`, or returns
//! no UID. It speaks just enough IMAP4rev1 over plain TCP for crmsync's client
//! (greeting with capabilities, CAPABILITY, LOGIN, SELECT/EXAMINE with
//! UIDVALIDITY and UIDNEXT, UID SEARCH, UID FETCH of the whole message or of
//! RFC822.SIZE alone, UID STORE, EXPUNGE,
//! UID EXPUNGE, NOOP, LOGOUT; with [`ScriptedImap::set_create_special_use`]
//! it also announces CREATE-SPECIAL-USE and accepts CREATE and SUBSCRIBE),
//! answers anything else `BAD`, and records every command line it receives
//! (the LOGIN password masked).
//!
//! With [`ScriptedImap::set_hostile`] it turns hostile instead: a literal of
//! 4 GB, untagged lines without end, a drip before login, plaintext injected
//! after STARTTLS.
//!
//! One folder (every name selects it), any user and password. The server runs
//! on a thread of its own with its own tokio runtime, like
//! [`crate::FaultProxy`], and stops when dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::error::{HarnessError, Result};
use crate::ports::LOOPBACK;

const SERVER: &str = "scripted-imap";

/// How a FETCH answers for one UID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFault {
    /// The message is left out of the response.
    Omit,
    /// The message is answered with `BODY[] NIL`.
    NilBody,
    /// The message is answered without its UID item.
    NoUid,
}

/// How a hostile server misbehaves (instead of answering normally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// Every UID FETCH is answered with a literal announced at 4,000,000,000
    /// bytes, followed by a little data and then silence.
    HugeLiteral,
    /// SELECT is answered with untagged `* OK` lines without end, as fast as
    /// the client reads them, and never a tagged completion.
    EndlessUntagged,
    /// The greeting carries no capabilities, and CAPABILITY is answered with
    /// one untagged line every `every`, without end.
    DripBeforeLogin {
        /// The pause between two lines.
        every: Duration,
    },
    /// The greeting announces STARTTLS; STARTTLS is answered OK with an
    /// untagged plaintext line in the same packet, before any handshake.
    StartTlsInjection,
}

/// One message of the scripted folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedMessage {
    /// Its UID.
    pub uid: u32,
    /// Flags such as `\Seen`, `\Deleted`.
    pub flags: BTreeSet<String>,
    /// The raw message.
    pub raw: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    uidvalidity: u32,
    messages: Vec<ScriptedMessage>,
    faults: BTreeMap<u32, FetchFault>,
    commands: Vec<String>,
    hostile: Option<Hostile>,
    create_special_use: bool,
}

impl State {
    /// The capabilities announced in the greeting and to CAPABILITY.
    fn capabilities(&self) -> &'static str {
        if self.create_special_use { "IMAP4rev1 UIDPLUS CREATE-SPECIAL-USE" } else { "IMAP4rev1 UIDPLUS" }
    }
}

/// A running scripted IMAP server on `127.0.0.1:port()`.
#[derive(Debug)]
pub struct ScriptedImap {
    port: u16,
    state: Arc<Mutex<State>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedImap {
    /// Starts a server whose folder has `uidvalidity` and holds `messages`
    /// (UID, raw bytes), UIDs ascending.
    pub fn start(uidvalidity: u32, messages: Vec<(u32, Vec<u8>)>) -> Result<ScriptedImap> {
        let listener = std::net::TcpListener::bind((LOOPBACK, 0))
            .map_err(|e| HarnessError::io(SERVER, "bind 127.0.0.1:0", e))?;
        listener.set_nonblocking(true).map_err(|e| HarnessError::io(SERVER, "set non-blocking", e))?;
        let port =
            listener.local_addr().map_err(|e| HarnessError::io(SERVER, "read local address", e))?.port();
        let mut messages: Vec<ScriptedMessage> = messages
            .into_iter()
            .map(|(uid, raw)| ScriptedMessage { uid, flags: BTreeSet::new(), raw })
            .collect();
        messages.sort_by_key(|m| m.uid);
        let state = Arc::new(Mutex::new(State { uidvalidity, messages, ..State::default() }));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HarnessError::io(SERVER, "build runtime", e))?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("scripted-imap-{port}"))
            .spawn(move || runtime.block_on(accept_loop(listener, thread_state, shutdown_rx)))
            .map_err(|e| HarnessError::io(SERVER, "spawn thread", e))?;
        Ok(ScriptedImap { port, state, shutdown: Some(shutdown_tx), thread: Some(thread) })
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

    /// Announces CREATE-SPECIAL-USE (RFC 6154) to later sessions and accepts
    /// CREATE (with or without `USE`) and SUBSCRIBE; see [`Self::commands`]
    /// for what the client sent.
    pub fn set_create_special_use(&self, on: bool) {
        self.state().create_special_use = on;
    }

    /// Makes every later FETCH answer `uid` with `fault` (`None`: normally again).
    pub fn set_fault(&self, uid: u32, fault: Option<FetchFault>) {
        let mut st = self.state();
        match fault {
            Some(f) => st.faults.insert(uid, f),
            None => st.faults.remove(&uid),
        };
    }

    /// Makes later sessions hostile in the way given (`None`: normal again).
    pub fn set_hostile(&self, hostile: Option<Hostile>) {
        self.state().hostile = hostile;
    }

    /// The messages now in the folder (after STORE and EXPUNGE).
    pub fn messages(&self) -> Vec<ScriptedMessage> {
        self.state().messages.clone()
    }

    /// Every command line received so far, without tags, in order.
    pub fn commands(&self) -> Vec<String> {
        self.state().commands.clone()
    }

    /// How many received commands start with `prefix` (case-insensitive), e.g. `UID FETCH`.
    pub fn count_commands(&self, prefix: &str) -> usize {
        let p = prefix.to_ascii_uppercase();
        self.state().commands.iter().filter(|c| c.to_ascii_uppercase().starts_with(&p)).count()
    }
}

impl Drop for ScriptedImap {
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

/// Parses an IMAP sequence set (`1:3,7,9:*`) against the highest UID.
fn parse_set(set: &str, highest: u32) -> Vec<(u32, u32)> {
    let num = |s: &str| if s == "*" { Some(highest) } else { s.parse().ok() };
    set.split(',')
        .filter_map(|part| match part.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                Some((a.min(b), a.max(b)))
            }
            None => num(part).map(|n| (n, n)),
        })
        .collect()
}

fn in_set(ranges: &[(u32, u32)], uid: u32) -> bool {
    ranges.iter().any(|&(a, b)| a <= uid && uid <= b)
}

/// The answer to one command: lines to send (each without CRLF unless it
/// carries a literal) and whether to close afterwards.
fn answer(state: &Mutex<State>, tag: &str, command: &str) -> (Vec<u8>, bool) {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let upper = command.to_ascii_uppercase();
    let logged = if upper.starts_with("LOGIN ") { "LOGIN ***".to_string() } else { command.to_string() };
    st.commands.push(logged);
    let highest = st.messages.last().map_or(0, |m| m.uid);
    let mut out = Vec::new();
    let mut line = |s: &str| {
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    let word = upper.split_whitespace().next().unwrap_or("").to_string();
    let args: Vec<&str> = command.split_whitespace().collect();
    match (word.as_str(), args.get(1).map(|a| a.to_ascii_uppercase())) {
        ("CAPABILITY", _) => {
            line(&format!("* CAPABILITY {}", st.capabilities()));
            line(&format!("{tag} OK CAPABILITY completed"));
        }
        ("CREATE" | "SUBSCRIBE", _) if st.create_special_use => {
            line(&format!("{tag} OK {word} completed"));
        }
        ("LOGIN", _) => line(&format!("{tag} OK LOGIN completed")),
        ("NOOP", _) => line(&format!("{tag} OK NOOP completed")),
        ("LOGOUT", _) => {
            line("* BYE scripted server logging out");
            line(&format!("{tag} OK LOGOUT completed"));
            return (out, true);
        }
        ("SELECT" | "EXAMINE", _) => {
            line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
            line(&format!("* {} EXISTS", st.messages.len()));
            line("* 0 RECENT");
            line(&format!("* OK [UIDVALIDITY {}] UIDs valid", st.uidvalidity));
            line(&format!("* OK [UIDNEXT {}] Predicted next UID", highest + 1));
            line(&format!("{tag} OK [READ-WRITE] {word} completed"));
        }
        ("UID", Some(sub)) if sub == "SEARCH" => {
            // UID SEARCH UID <set>; anything else lists every message.
            let ranges = match (args.get(2), args.get(3)) {
                (Some(k), Some(set)) if k.eq_ignore_ascii_case("UID") => parse_set(set, highest),
                _ => vec![(1, u32::MAX)],
            };
            let uids: Vec<String> =
                st.messages.iter().filter(|m| in_set(&ranges, m.uid)).map(|m| m.uid.to_string()).collect();
            line(format!("* SEARCH {}", uids.join(" ")).trim_end());
            line(&format!("{tag} OK SEARCH completed"));
        }
        ("UID", Some(sub)) if sub == "FETCH" && upper.contains("RFC822.SIZE") && !upper.contains("BODY") => {
            // Sizes only (what crmsync asks before downloading).
            let ranges = parse_set(args.get(2).unwrap_or(&""), highest);
            for (i, m) in st.messages.iter().enumerate() {
                if in_set(&ranges, m.uid) && st.faults.get(&m.uid) != Some(&FetchFault::Omit) {
                    line(&format!("* {} FETCH (UID {} RFC822.SIZE {})", i + 1, m.uid, m.raw.len()));
                }
            }
            line(&format!("{tag} OK FETCH completed"));
        }
        ("UID", Some(sub)) if sub == "FETCH" => {
            let ranges = parse_set(args.get(2).unwrap_or(&""), highest);
            let mut body = Vec::new();
            for (i, m) in st.messages.iter().enumerate() {
                if !in_set(&ranges, m.uid) {
                    continue;
                }
                let flags = m.flags.iter().cloned().collect::<Vec<_>>().join(" ");
                let seq = i + 1;
                match st.faults.get(&m.uid) {
                    Some(FetchFault::Omit) => {}
                    Some(FetchFault::NilBody) => body.extend_from_slice(
                        format!("* {seq} FETCH (UID {} FLAGS ({flags}) BODY[] NIL)\r\n", m.uid).as_bytes(),
                    ),
                    Some(FetchFault::NoUid) => {
                        body.extend_from_slice(
                            format!("* {seq} FETCH (FLAGS ({flags}) BODY[] {{{}}}\r\n", m.raw.len())
                                .as_bytes(),
                        );
                        body.extend_from_slice(&m.raw);
                        body.extend_from_slice(b")\r\n");
                    }
                    None => {
                        body.extend_from_slice(
                            format!(
                                "* {seq} FETCH (UID {} FLAGS ({flags}) BODY[] {{{}}}\r\n",
                                m.uid,
                                m.raw.len()
                            )
                            .as_bytes(),
                        );
                        body.extend_from_slice(&m.raw);
                        body.extend_from_slice(b")\r\n");
                    }
                }
            }
            out.extend_from_slice(&body);
            out.extend_from_slice(format!("{tag} OK FETCH completed\r\n").as_bytes());
        }
        ("UID", Some(sub)) if sub == "STORE" => {
            let ranges = parse_set(args.get(2).unwrap_or(&""), highest);
            let mode = args.get(3).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
            let flags: Vec<String> = args[4.min(args.len())..]
                .iter()
                .map(|f| f.trim_matches(|c| c == '(' || c == ')').to_string())
                .filter(|f| !f.is_empty())
                .collect();
            for m in st.messages.iter_mut().filter(|m| in_set(&ranges, m.uid)) {
                for f in &flags {
                    if mode.starts_with('-') {
                        m.flags.remove(f);
                    } else {
                        m.flags.insert(f.clone());
                    }
                }
            }
            out.extend_from_slice(format!("{tag} OK STORE completed\r\n").as_bytes());
        }
        ("UID", Some(sub)) if sub == "EXPUNGE" => {
            let ranges = parse_set(args.get(2).unwrap_or(&""), highest);
            st.messages.retain(|m| !(m.flags.contains("\\Deleted") && in_set(&ranges, m.uid)));
            out.extend_from_slice(format!("{tag} OK EXPUNGE completed\r\n").as_bytes());
        }
        ("EXPUNGE", _) => {
            st.messages.retain(|m| !m.flags.contains("\\Deleted"));
            out.extend_from_slice(format!("{tag} OK EXPUNGE completed\r\n").as_bytes());
        }
        _ => {
            out.extend_from_slice(format!("{tag} BAD the scripted server does not know this\r\n").as_bytes())
        }
    }
    (out, false)
}

/// What a hostile server sends for one command instead of the normal answer.
enum Misbehave {
    /// These bytes, then `line` again and again (after `every`, if any) until the client goes.
    Endless { first: Vec<u8>, line: Vec<u8>, every: Option<Duration> },
    /// These bytes, then silence until the client goes.
    ThenSilence(Vec<u8>),
}

fn misbehave(state: &Mutex<State>, tag: &str, command: &str) -> Option<Misbehave> {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let hostile = st.hostile?;
    let upper = command.to_ascii_uppercase();
    let hit = match hostile {
        Hostile::HugeLiteral => upper.starts_with("UID FETCH"),
        Hostile::EndlessUntagged => upper.starts_with("SELECT") || upper.starts_with("EXAMINE"),
        Hostile::DripBeforeLogin { .. } => upper.starts_with("CAPABILITY"),
        Hostile::StartTlsInjection => upper.starts_with("STARTTLS"),
    };
    if !hit {
        return None;
    }
    st.commands.push(command.to_string());
    Some(match hostile {
        Hostile::HugeLiteral => {
            let mut first = b"* 1 FETCH (UID 1 RFC822.SIZE 100 BODY[] {4000000000}\r\n".to_vec();
            first.extend_from_slice(&[b'x'; 65536]);
            Misbehave::ThenSilence(first)
        }
        Hostile::EndlessUntagged => Misbehave::Endless {
            first: Vec::new(),
            line: b"* OK still selecting, please wait\r\n".to_vec(),
            every: None,
        },
        Hostile::DripBeforeLogin { every } => Misbehave::Endless {
            first: Vec::new(),
            line: b"* OK still thinking\r\n".to_vec(),
            every: Some(every),
        },
        Hostile::StartTlsInjection => Misbehave::ThenSilence(
            format!(
                "{tag} OK Begin TLS negotiation now\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
            )
            .into_bytes(),
        ),
    })
}

async fn session(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let greeting = {
        let st = state.lock().unwrap_or_else(|p| p.into_inner());
        match st.hostile {
            Some(Hostile::DripBeforeLogin { .. }) => "* OK scripted server ready\r\n".to_string(),
            Some(Hostile::StartTlsInjection) => {
                "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] scripted server ready\r\n".to_string()
            }
            _ => format!("* OK [CAPABILITY {}] scripted server ready\r\n", st.capabilities()),
        }
    };
    if write.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut buf = String::new();
    loop {
        buf.clear();
        match lines.read_line(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = buf.trim_end_matches(['\r', '\n']);
        let Some((tag, command)) = text.split_once(' ') else {
            let _ = write.write_all(b"* BAD no tag\r\n").await;
            continue;
        };
        match misbehave(&state, tag, command) {
            None => {}
            Some(Misbehave::ThenSilence(bytes)) => {
                if write.write_all(&bytes).await.is_err() {
                    return;
                }
                // Silence until the client goes.
                let mut rest = String::new();
                while matches!(lines.read_line(&mut rest).await, Ok(n) if n > 0) {
                    rest.clear();
                }
                return;
            }
            Some(Misbehave::Endless { first, line, every }) => {
                if write.write_all(&first).await.is_err() {
                    return;
                }
                let chunk = if every.is_some() { line } else { line.repeat(256) };
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
        let (out, close) = answer(&state, tag, command);
        if write.write_all(&out).await.is_err() || close {
            return;
        }
    }
}
