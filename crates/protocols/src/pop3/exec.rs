//! One POP3 exchange under the operation's clock: send a line, read the
//! status line, read a multi-line answer up to a limit, and map `-ERR`
//! replies to errors. Used by the login (`connect`) and by the
//! session's commands.

use std::time::Duration;

use super::wire::{self, Pop3Capabilities, Reply, RespCode, Unstuffed};
use crate::error::{ProtocolError, Result};
use crate::limits::{Clock, Expired, LimitExceeded};
use crate::peer::Peer;
use crate::transport::LineStream;

/// CAPA answers longer than this are refused (a real one is a few hundred bytes).
pub(super) const MAX_CAPA: u64 = 64 << 10;

/// The per-read timeout and total deadline of one operation, with the
/// deadline's length for its error message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Op {
    clock: Clock,
    total_secs: u64,
}

impl Op {
    pub(super) fn start(timeout: Duration, total: Duration) -> Op {
        Op { clock: Clock::start(timeout, total), total_secs: total.as_secs() }
    }

    fn expired(&self, peer: &Peer, label: &str, which: Expired) -> ProtocolError {
        match which {
            Expired::Read => peer.timeout(label, self.clock.per_read.as_secs()),
            Expired::Total => peer.deadline(label, self.total_secs),
        }
    }
}

/// Sends one line and reads the status line, under the operation's clock.
pub(super) async fn exchange(
    lines: &mut LineStream,
    peer: &Peer,
    op: Op,
    line: Option<&[u8]>,
    label: &str,
) -> Result<Reply> {
    let work = async {
        if let Some(line) = line {
            lines.send(line).await?;
        }
        lines.read_line().await
    };
    let got = match op.clock.run(work).await {
        Err(which) => return Err(op.expired(peer, label, which)),
        Ok(Err(e)) => return Err(peer.lost(e)),
        Ok(Ok(None)) => return Err(peer.lost(format!("server closed the connection after {label}"))),
        Ok(Ok(Some(got))) => got,
    };
    wire::parse_reply(&got).ok_or_else(|| {
        peer.protocol(format!(
            "{label}: unexpected reply {:?}",
            String::from_utf8_lossy(wire::trim_eol(&got))
        ))
    })
}

/// Reads the rest of a multi-line response, unstuffed, with the per-read
/// timeout per line, under the total deadline, and at most `max` bytes
/// (else `RESPONSE_TOO_LARGE`, the rest unread).
pub(super) async fn read_multiline(
    lines: &mut LineStream,
    peer: &Peer,
    op: Op,
    label: &str,
    max: u64,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut line = Vec::with_capacity(256);
    let mut read = 0u64;
    loop {
        line.clear();
        match op.clock.run(lines.read_line_into(&mut line)).await {
            Err(which) => return Err(op.expired(peer, label, which)),
            Ok(Err(e)) => return Err(peer.lost(e)),
            Ok(Ok(false)) => return Err(peer.lost(format!("server closed the connection during {label}"))),
            Ok(Ok(true)) => {}
        }
        read += line.len() as u64;
        if read > max {
            let what = format!("an answer of more than {max} bytes");
            return Err(LimitExceeded { what, limit: max }.error(peer, label));
        }
        match wire::unstuff(&line) {
            Unstuffed::End => return Ok(out),
            Unstuffed::Data(d) => out.extend_from_slice(d),
        }
    }
}

/// Maps an `-ERR` to an error, using the extended response code when there is one.
pub(super) fn err_reply(peer: &Peer, command: &str, code: Option<RespCode>, text: String) -> ProtocolError {
    match code {
        Some(RespCode::SysTemp) | Some(RespCode::LoginDelay) => peer.busy(text),
        _ => peer.command_failed(command, text),
    }
}

/// The text of an `+OK`; an `-ERR` or a continuation is an error.
pub(super) fn expect_ok(peer: &Peer, command: &str, reply: Reply) -> Result<String> {
    match reply {
        Reply::Ok(text) => Ok(text),
        Reply::Err { code, text } => Err(err_reply(peer, command, code, text)),
        Reply::Continue(_) => Err(peer.protocol(format!("{command}: unexpected continuation"))),
    }
}

/// Asks for CAPA; a server without CAPA (plain RFC 1939) gives empty capabilities.
pub(super) async fn fetch_capa(lines: &mut LineStream, peer: &Peer, op: Op) -> Result<Pop3Capabilities> {
    match exchange(lines, peer, op, Some(b"CAPA\r\n"), "CAPA").await? {
        Reply::Ok(_) => {
            let body = read_multiline(lines, peer, op, "CAPA", MAX_CAPA).await?;
            Ok(wire::parse_capa(body.split_inclusive(|&b| b == b'\n')))
        }
        _ => Ok(Pop3Capabilities::default()),
    }
}
