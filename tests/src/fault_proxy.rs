//! A loopback TCP proxy whose behaviour tests switch at run time, for fault
//! injection (refused, reset, stalled, slow connections) and for counting how
//! many connections a client opens at once.
//!
//! The proxy runs on a thread of its own with its own tokio runtime, so it
//! keeps working whatever the test does with its own runtime (or without one).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::error::{HarnessError, Result};
use crate::ports::LOOPBACK;

const SERVER: &str = "fault-proxy";
const BUF: usize = 16 * 1024;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultMode {
    /// Forward both ways (the default).
    #[default]
    Forward,
    /// Close the listening socket: new connections get ECONNREFUSED. Open
    /// connections keep forwarding. Switching away re-opens the same port.
    Refuse,
    /// Reset (TCP RST) every connection, open or new, once it has passed
    /// `after_bytes` bytes from the server to the client (0: at once).
    Reset {
        /// Server-to-client bytes a connection may pass before it is reset.
        after_bytes: u64,
    },
    /// Accept connections but forward nothing either way until the mode
    /// changes (then forwarding resumes).
    Stall,
    /// Forward both ways until the client sends bytes containing `pattern`
    /// (e.g. `b"UID STORE"`): those bytes are not forwarded and the connection
    /// is reset, as if it broke just before the command reached the server.
    ResetOnClientSends {
        /// What the client sends that cuts the connection.
        pattern: &'static [u8],
    },
    /// Forward at most `chunk` bytes at a time in each direction, pausing
    /// `interval` after each chunk.
    Dribble {
        /// Bytes per chunk (at least 1).
        chunk: usize,
        /// Pause after each chunk.
        interval: Duration,
    },
}

#[derive(Debug, Default)]
struct Stats {
    open: AtomicUsize,
    max_open: AtomicUsize,
    total: AtomicU64,
    applied: AtomicU64,
}

/// Decrements the open-connection count when a connection ends.
struct OpenGuard(Arc<Stats>);

impl OpenGuard {
    fn new(stats: &Arc<Stats>) -> OpenGuard {
        let now = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_open.fetch_max(now, Ordering::SeqCst);
        stats.total.fetch_add(1, Ordering::SeqCst);
        OpenGuard(stats.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running proxy from `127.0.0.1:port()` to a target; stopped on drop
/// (every proxied connection is closed).
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    target: SocketAddr,
    mode: watch::Sender<(FaultMode, u64)>,
    generation: AtomicU64,
    stats: Arc<Stats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a fresh loopback port forwarding to
    /// `target_host:target_port`.
    pub fn start(target_host: &str, target_port: u16) -> Result<FaultProxy> {
        let target = (target_host, target_port)
            .to_socket_addrs()
            .map_err(|e| HarnessError::io(SERVER, format!("resolve {target_host}:{target_port}"), e))?
            .next()
            .ok_or_else(|| HarnessError::Invalid {
                server: SERVER,
                detail: format!("{target_host} has no address"),
            })?;
        let listener = std::net::TcpListener::bind((LOOPBACK, 0))
            .map_err(|e| HarnessError::io(SERVER, "bind 127.0.0.1:0", e))?;
        listener.set_nonblocking(true).map_err(|e| HarnessError::io(SERVER, "set non-blocking", e))?;
        let local = listener.local_addr().map_err(|e| HarnessError::io(SERVER, "read local address", e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| HarnessError::io(SERVER, "build runtime", e))?;
        let (mode_tx, mode_rx) = watch::channel((FaultMode::Forward, 0));
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let stats = Arc::new(Stats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", local.port()))
            .spawn(move || {
                runtime.block_on(accept_loop(listener, local, target, mode_rx, thread_stats, shutdown_rx));
            })
            .map_err(|e| HarnessError::io(SERVER, "spawn thread", e))?;
        Ok(FaultProxy {
            port: local.port(),
            target,
            mode: mode_tx,
            generation: AtomicU64::new(0),
            stats,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        LOOPBACK
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// The current mode.
    pub fn mode(&self) -> FaultMode {
        self.mode.borrow().0
    }

    /// Switches the mode. Returns once the listener has applied it (so a
    /// connection attempted right after `set_mode(Refuse)` is refused); open
    /// connections pick the change up immediately but asynchronously.
    pub fn set_mode(&self, mode: FaultMode) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.mode.send_replace((mode, generation));
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.stats.applied.load(Ordering::SeqCst) < generation && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::SeqCst)
    }

    /// The largest number of connections that were open at the same time.
    pub fn max_concurrent_connections(&self) -> usize {
        self.stats.max_open.load(Ordering::SeqCst)
    }

    /// Connections accepted since start (or the last [`FaultProxy::reset_counters`]).
    pub fn total_connections(&self) -> u64 {
        self.stats.total.load(Ordering::SeqCst)
    }

    /// Sets the total to 0 and the maximum to the number open now.
    pub fn reset_counters(&self) {
        self.stats.total.store(0, Ordering::SeqCst);
        self.stats.max_open.store(self.stats.open.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
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
    local: SocketAddr,
    target: SocketAddr,
    mut mode_rx: watch::Receiver<(FaultMode, u64)>,
    stats: Arc<Stats>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut listener = TcpListener::from_std(listener).ok();
    loop {
        let (mode, generation) = *mode_rx.borrow_and_update();
        if mode == FaultMode::Refuse {
            listener = None;
        } else if listener.is_none() {
            // Re-open the same port; retry briefly if the kernel still holds it.
            for _ in 0..100 {
                if let Ok(l) = TcpListener::bind(local).await {
                    listener = Some(l);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        stats.applied.fetch_max(generation, Ordering::SeqCst);
        tokio::select! {
            _ = &mut shutdown => return,
            changed = mode_rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            accepted = accept(listener.as_ref()) => {
                if let Ok((stream, _)) = accepted {
                    let guard = OpenGuard::new(&stats);
                    tokio::spawn(relay(stream, target, mode_rx.clone(), guard));
                }
            }
        }
    }
}

async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

enum End {
    Closed,
    Reset,
}

/// Relays one connection according to the current mode.
async fn relay(
    mut client: TcpStream,
    target: SocketAddr,
    mut mode_rx: watch::Receiver<(FaultMode, u64)>,
    _guard: OpenGuard,
) {
    let initial = mode_rx.borrow_and_update().0;
    if initial == (FaultMode::Reset { after_bytes: 0 }) {
        let _ = client.set_zero_linger();
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client.set_zero_linger();
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let end = pump(&mut client, &mut upstream, &mut mode_rx).await;
    if let End::Reset = end {
        let _ = client.set_zero_linger();
    }
}

async fn pump(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    mode_rx: &mut watch::Receiver<(FaultMode, u64)>,
) -> End {
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    let mut up_buf = vec![0u8; BUF];
    let mut down_buf = vec![0u8; BUF];
    let mut down_bytes = 0u64;
    let (mut client_eof, mut upstream_eof) = (false, false);
    loop {
        let mode = mode_rx.borrow_and_update().0;
        let (active, chunk, down_chunk, pause) = match mode {
            FaultMode::Stall => (false, BUF, BUF, None),
            FaultMode::Dribble { chunk, interval } => {
                let c = chunk.clamp(1, BUF);
                (true, c, c, Some(interval))
            }
            FaultMode::Reset { after_bytes } => {
                let left = after_bytes.saturating_sub(down_bytes);
                if left == 0 {
                    return End::Reset;
                }
                (true, BUF, (left.min(BUF as u64)) as usize, None)
            }
            FaultMode::Forward | FaultMode::Refuse | FaultMode::ResetOnClientSends { .. } => {
                (true, BUF, BUF, None)
            }
        };
        let cut_on = match mode {
            FaultMode::ResetOnClientSends { pattern } if !pattern.is_empty() => Some(pattern),
            _ => None,
        };
        if client_eof && upstream_eof {
            return End::Closed;
        }
        tokio::select! {
            changed = mode_rx.changed() => {
                if changed.is_err() {
                    return End::Closed;
                }
            }
            read = cr.read(&mut up_buf[..chunk]), if active && !client_eof => {
                match read {
                    Ok(0) => {
                        client_eof = true;
                        let _ = uw.shutdown().await;
                    }
                    Ok(n) => {
                        if cut_on.is_some_and(|p| up_buf[..n].windows(p.len()).any(|w| w == p)) {
                            return End::Reset;
                        }
                        if uw.write_all(&up_buf[..n]).await.is_err() {
                            return End::Closed;
                        }
                        if let Some(p) = pause {
                            tokio::time::sleep(p).await;
                        }
                    }
                    Err(_) => return End::Closed,
                }
            }
            read = ur.read(&mut down_buf[..down_chunk]), if active && !upstream_eof => {
                match read {
                    Ok(0) => {
                        upstream_eof = true;
                        let _ = cw.shutdown().await;
                    }
                    Ok(n) => {
                        if cw.write_all(&down_buf[..n]).await.is_err() {
                            return End::Closed;
                        }
                        down_bytes += n as u64;
                        if let Some(p) = pause {
                            tokio::time::sleep(p).await;
                        }
                    }
                    Err(_) => return End::Closed,
                }
            }
        }
    }
}
