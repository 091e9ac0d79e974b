//! Real-server test harness for crmsync.
//!
//! Starts private instances of Dovecot (IMAP, POP3, LMTP, SASL auth), Postfix,
//! Radicale, Xandikos, an OAuth2 authorization server ([`OAuthServer`]), a
//! Microsoft Graph emulator ([`GraphServer`]) and an Exchange Web Services
//! emulator ([`EwsServer`]) as child processes, each with its own configuration in a temp
//! dir and on loopback ports picked at run time, so tests can run in parallel.
//! Every server is ready-checked before `start` returns and stopped (process
//! group SIGTERM, then SIGKILL) when dropped, also when a test panics.
//! [`FaultProxy`] sits between a client and a server to inject faults;
//! [`ScriptedImap`] plays a misbehaving IMAP server where no real one misbehaves on demand.
//!
//! Start-up helpers are synchronous (they block for up to a few seconds);
//! helpers that talk to a server are `async` (tokio).
//!
//! ```no_run
//! # async fn example() -> crmsync_tests::Result<()> {
//! use std::time::Duration;
//! use crmsync_tests::{Dovecot, Postfix, send_mail};
//!
//! let dovecot = Dovecot::start()?;
//! dovecot.add_user("alice", "secret")?;
//! let postfix = Postfix::start(&dovecot)?;
//! let raw = b"Subject: hi\r\nMessage-ID: <1@crm.test>\r\n\r\nhello\r\n";
//! send_mail(postfix.host(), postfix.smtp_port(), Some(("alice", "secret")),
//!           "alice@example.test", &["alice@example.test"], raw).await?;
//! let got = dovecot
//!     .wait_for_message("alice", "secret", "INBOX", b"<1@crm.test>", Duration::from_secs(10))
//!     .await?;
//! assert!(got.raw.ends_with(b"hello\r\n"));
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod dovecot;
pub mod dovecot_mail;
pub mod error;
pub mod ews;
pub mod fault_proxy;
pub mod graph;
pub mod graph_admin;
pub mod imap_client;
pub mod oauth;
pub mod pop3_client;
pub mod ports;
pub mod postfix;
pub mod process;
pub mod radicale;
pub mod scripted_http;
pub mod scripted_imap;
pub mod scripted_pop3;
pub mod smtp_client;
pub mod tls;
pub mod wire;
pub mod xandikos;

pub use dovecot::{Dovecot, DovecotOptions};
pub use error::{HarnessError, Result};
pub use ews::{EwsFault, EwsItem, EwsRequest, EwsServer, InvalidTraffic};
pub use fault_proxy::{FaultMode, FaultProxy};
pub use graph::{GraphServer, InvalidRequest};
pub use graph_admin::{GraphMessage, GraphRequest, ThrottleWait};
pub use imap_client::{FetchedMessage, ImapClient, ListEntry, MailboxInfo};
pub use oauth::{Introspection, IssuedTokens, OAuth2Passdb, OAuthServer, OAuthStats};
pub use pop3_client::Pop3Client;
pub use postfix::{Postfix, PostfixOptions};
pub use radicale::{DavResponse, Radicale, RadicaleOAuth, RadicaleOptions};
pub use scripted_http::ScriptedHttp;
pub use scripted_imap::{FetchFault, Hostile, ScriptedImap, ScriptedMessage};
pub use scripted_pop3::{Pop3Fault, ScriptedPop3};
pub use smtp_client::{SmtpClient, SmtpReply, send_mail};
pub use tls::{TestCa, client_config};
pub use xandikos::Xandikos;
