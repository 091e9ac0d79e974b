//! Running async-imap commands under the per-read timeout and the total
//! deadline of the operation, and APPEND by hand (async-imap's `append`
//! discards the APPENDUID response code).

use std::future::Future;

use async_imap::imap_proto::{Response, ResponseCode, Status};
use futures::{Stream as FuturesStream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::connect::ImapSession;
use super::types::AppendUid;
use crate::limits::{Clock, Expired};

/// Why one step of a command failed, before mapping to [`ProtocolError`].
pub(crate) enum OpError {
    Imap(async_imap::error::Error),
    /// One read waited longer than the per-read timeout.
    Timeout,
    /// The operation ran past its total deadline.
    Deadline,
}

impl From<Expired> for OpError {
    fn from(e: Expired) -> Self {
        match e {
            Expired::Read => OpError::Timeout,
            Expired::Total => OpError::Deadline,
        }
    }
}

impl From<async_imap::error::Error> for OpError {
    fn from(e: async_imap::error::Error) -> Self {
        OpError::Imap(e)
    }
}

/// Runs one future under the per-read timeout, cut at the total deadline.
pub(crate) async fn step<T>(
    clock: Clock,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> std::result::Result<T, OpError> {
    clock.run(fut).await?.map_err(OpError::Imap)
}

/// Collects a response stream with the per-read timeout applied to each item
/// and the total deadline to the whole.
pub(crate) async fn collect<T>(
    clock: Clock,
    stream: impl FuturesStream<Item = async_imap::error::Result<T>>,
) -> std::result::Result<Vec<T>, OpError> {
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    loop {
        match clock.run(stream.next()).await? {
            None => return Ok(out),
            Some(item) => out.push(item?),
        }
    }
}

/// APPEND with a synchronizing literal, read by hand because async-imap's
/// `append` discards the APPENDUID response code.
pub(crate) async fn append_literal(
    t: Clock,
    session: &mut ImapSession,
    command: &str,
    raw: &[u8],
) -> std::result::Result<Option<AppendUid>, OpError> {
    use async_imap::error::Error as E;
    let id = step(t, session.run_command(command)).await?;
    let failed =
        |status: &Status, code: &Option<ResponseCode<'_>>, info: &Option<std::borrow::Cow<'_, str>>| {
            let text = format!("code: {code:?}, info: {info:?}");
            match status {
                Status::No => E::No(text),
                _ => E::Bad(text),
            }
        };
    // Wait for the continuation ("+ Ready for literal data").
    loop {
        let resp = step(t, async { session.read_response().await.map_err(E::Io) }).await?;
        let Some(resp) = resp else { return Err(E::ConnectionLost.into()) };
        match resp.parsed() {
            Response::Continue { .. } => break,
            Response::Done { tag, status, code, information } if *tag == id => {
                return Err(failed(status, code, information).into());
            }
            _ => {}
        }
    }
    step(t, async {
        let stream = session.get_mut();
        stream.write_all(raw).await?;
        stream.write_all(b"\r\n").await?;
        stream.flush().await.map_err(E::Io)
    })
    .await?;
    loop {
        let resp = step(t, async { session.read_response().await.map_err(E::Io) }).await?;
        let Some(resp) = resp else { return Err(E::ConnectionLost.into()) };
        if let Response::Done { tag, status, code, information } = resp.parsed()
            && *tag == id
        {
            if *status != Status::Ok {
                return Err(failed(status, code, information).into());
            }
            return Ok(match code {
                Some(ResponseCode::AppendUid(uidvalidity, members)) => members
                    .first()
                    .map(|m| match m {
                        async_imap::imap_proto::UidSetMember::Uid(uid) => *uid,
                        async_imap::imap_proto::UidSetMember::UidRange(r) => *r.start(),
                    })
                    .map(|uid| AppendUid { uidvalidity: *uidvalidity, uid }),
                _ => None,
            });
        }
    }
}
