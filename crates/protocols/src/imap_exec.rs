//! Running async-imap commands under the command timeout, and APPEND by hand
//! (async-imap's `append` discards the APPENDUID response code).

use std::future::Future;
use std::time::Duration;

use async_imap::imap_proto::{Response, ResponseCode, Status};
use futures::{Stream as FuturesStream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::imap_connect::ImapSession;
use crate::imap_types::AppendUid;

/// Why one step of a command failed, before mapping to [`ProtocolError`].
pub(crate) enum OpError {
    Imap(async_imap::error::Error),
    Timeout,
}

impl From<async_imap::error::Error> for OpError {
    fn from(e: async_imap::error::Error) -> Self {
        OpError::Imap(e)
    }
}

/// Runs one future under the command timeout.
pub(crate) async fn step<T>(
    timeout: Duration,
    fut: impl Future<Output = async_imap::error::Result<T>>,
) -> std::result::Result<T, OpError> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(OpError::Timeout),
        Ok(r) => r.map_err(OpError::Imap),
    }
}

/// Collects a response stream with the timeout applied to each item.
pub(crate) async fn collect<T>(
    timeout: Duration,
    stream: impl FuturesStream<Item = async_imap::error::Result<T>>,
) -> std::result::Result<Vec<T>, OpError> {
    let mut stream = std::pin::pin!(stream);
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => return Err(OpError::Timeout),
            Ok(None) => return Ok(out),
            Ok(Some(item)) => out.push(item?),
        }
    }
}

/// APPEND with a synchronizing literal, read by hand because async-imap's
/// `append` discards the APPENDUID response code.
pub(crate) async fn append_literal(
    t: Duration,
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
