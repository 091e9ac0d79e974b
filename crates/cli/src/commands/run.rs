//! `crmsync run` (the sync service) and `crmsync status`.

use std::time::Duration;

use crmsync_core::Store;
use crmsync_engine::{EngineEvent, EngineHandle, EngineOptions, Health, status_from_store};
use tracing::{info, warn};

use super::Ctx;
use crate::CliError;
use crate::output;

/// The lease timeout `status` uses to tell a live service from a crashed one.
const STATUS_LEASE_TIMEOUT: Duration = Duration::from_secs(30);

fn lease_timeout(raw: Option<String>) -> Result<Duration, CliError> {
    match raw {
        None => Ok(EngineOptions::default().lease_timeout),
        Some(s) => match s.trim().parse::<u64>() {
            Ok(n) if (5..=86_400).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(CliError::Invalid(format!(
                "--lease-timeout: '{s}' is not a whole number of seconds in 5..=86400"
            ))),
        },
    }
}

/// Runs the service until SIGINT or SIGTERM, then shuts down cleanly.
pub fn service(store: Store, lease_timeout_arg: Option<String>) -> Result<(), CliError> {
    let lease_timeout = lease_timeout(lease_timeout_arg)?;
    let db = store.path().to_path_buf();
    drop(store);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let opts = EngineOptions { holder: "crmsync run".into(), lease_timeout, ..EngineOptions::default() };
        let engine = EngineHandle::start(db, opts).await?;
        let mut events = engine.subscribe();
        let log_events = async move {
            loop {
                match events.recv().await {
                    Ok(e) => log_event(&e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        warn!(skipped = n, "event log fell behind");
                    }
                    Err(_) => break,
                }
            }
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| CliError::Runtime(format!("cannot watch SIGTERM: {e}")))?;
        let stopped_by_itself = tokio::select! {
            _ = tokio::signal::ctrl_c() => { info!("SIGINT: shutting down"); false }
            _ = term.recv() => { info!("SIGTERM: shutting down"); false }
            _ = engine.stopped() => true,
            _ = log_events => false,
        };
        engine.shutdown().await;
        if stopped_by_itself {
            return Err(CliError::Runtime(
                "the engine stopped by itself (its lease was taken over by another engine); see the log"
                    .into(),
            ));
        }
        Ok(())
    })
}

fn log_event(e: &EngineEvent) {
    match e {
        EngineEvent::MailboxStatusChanged { mailbox, health, code, message } => match health {
            Health::Error | Health::Warning => warn!(
                mailbox = %mailbox, health = %health, code = code.as_deref().unwrap_or(""),
                "mailbox is {health}: {}", message.as_deref().unwrap_or("")
            ),
            Health::Syncing => {}
            _ => info!(mailbox = %mailbox, health = %health, "mailbox is {health}"),
        },
        EngineEvent::AlertRaised { id, severity, mailbox, profile, code, message } => {
            let about = mailbox.as_deref().or(profile.as_deref()).unwrap_or("-");
            info!(alert = id, severity = %severity, about, code = %code, "alert: {message}")
        }
        EngineEvent::SyncProgress { .. } | EngineEvent::QueueDepths { .. } => {}
        EngineEvent::Paused => info!("paused"),
        EngineEvent::Resumed => info!("resumed"),
    }
}

/// `crmsync status`.
pub fn status(ctx: &Ctx, store: &Store) -> Result<(), CliError> {
    let snap = status_from_store(store, STATUS_LEASE_TIMEOUT)?;
    if ctx.json {
        return output::json(&snap);
    }
    match (&snap.lease_holder, &snap.stale_lease) {
        (Some(l), _) => println!(
            "service: running — {} (pid {} on {}) since {}{}",
            l.holder,
            l.pid,
            l.host,
            l.since.to_rfc3339(),
            if snap.paused { ", paused" } else { "" }
        ),
        (None, Some(l)) => println!(
            "service: not running (a lease of {} pid {} on {} was left without heartbeat since {}; the next `crmsync run` takes it over)",
            l.holder,
            l.pid,
            l.host,
            l.heartbeat.to_rfc3339()
        ),
        (None, None) => println!("service: not running"),
    }
    let counts: Vec<String> =
        snap.mailboxes_by_health.iter().filter(|(_, n)| **n > 0).map(|(h, n)| format!("{n} {h}")).collect();
    println!("mailboxes: {}", if counts.is_empty() { "none".to_string() } else { counts.join(", ") });
    let q = snap.queue_depths;
    println!("queues: mailboxes {}, outgoing {}, async {}", q.mailboxes, q.outgoing, q.async_ops);
    let rows: Vec<Vec<String>> = snap
        .mailboxes
        .iter()
        .map(|m| {
            vec![
                m.email.clone(),
                m.health.to_string(),
                m.next_poll.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into()),
                match (&m.last_error_code, &m.last_error_message) {
                    (Some(c), Some(msg)) => format!("{c}: {msg}"),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    output::table(&["MAILBOX", "HEALTH", "NEXT POLL", "LAST ERROR"], &rows);
    Ok(())
}
