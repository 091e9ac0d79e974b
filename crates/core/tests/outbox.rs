//! The outbox state machine on a real store: claim, retry, release, fail,
//! send, interrupted-send lookups, submit and cancel.

use crmsync_core::Store;
use crmsync_core::model::{
    ChannelMethod, CredentialSource, Endpoint, IncomingMethod, MailboxData, OutgoingAuth, Owner, ProfileData,
    ProfileKind, RecordRef, RecordType, Security, TrackFilter,
};
use crmsync_core::resolution::{Party, Role};
use crmsync_core::store::emails::{self, NewEmail};
use crmsync_core::store::outbox::{self, SentCopy};
use crmsync_core::store::principals::{self, Kind};
use crmsync_core::store::send_log::{self, Fact, SendLog};
use crmsync_core::store::{mailboxes, profiles};

fn setup() -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("crm.db")).unwrap().without_keyring();
    let c = store.conn();
    let pid = profiles::insert(
        c,
        &ProfileData {
            name: "Office".into(),
            kind: ProfileKind::ImapSmtp,
            incoming: Some(Endpoint { host: "h".into(), port: 993, security: Security::Tls }),
            outgoing: Some(Endpoint { host: "h".into(), port: 465, security: Security::Tls }),
            outgoing_auth: OutgoingAuth::Password,
            ews_url: None,
            graph_url: None,
            dav_url: None,
            credentials: CredentialSource::Mailbox,
            username: None,
            max_connections: 10,
            min_poll_interval: 60,
            timeout: 60,
            process_from: None,
            allow_insecure: false,
            auth: Default::default(),
            oauth: None,
        },
        None,
    )
    .unwrap();
    let uid = principals::insert(c, Kind::User, "alice@x.test", "Alice").unwrap();
    let mid = mailboxes::insert(
        c,
        &MailboxData {
            email: "alice@x.test".into(),
            owner: Owner::User { id: uid, name: "Alice".into() },
            profile_id: pid,
            username: None,
            incoming_method: IncomingMethod::ServerSide,
            outgoing_method: ChannelMethod::ServerSide,
            act_method: ChannelMethod::None,
            track: TrackFilter::Responses,
            process_from: None,
            delete_after_processing: false,
            is_forward_mailbox: false,
            track_folders: Vec::new(),
        },
        None,
    )
    .unwrap();
    (dir, store, mid)
}

fn queue(store: &Store, mailbox: i64, n: u32, status: &'static str, send_at: Option<&str>) -> i64 {
    let id = format!("m{n}@x.test");
    let owner = RecordRef { record_type: RecordType::User, id: 1, name: "Alice".into() };
    let e = NewEmail {
        direction: "outgoing",
        status,
        subject: format!("s{n}"),
        body_text: Some("b".into()),
        body_html: None,
        message_id: Some(id.clone()),
        dedupe_key: id,
        in_reply_to: None,
        references: None,
        tracking_token: None,
        correlation_method: "none",
        subject_hash: None,
        regarding: None,
        owner_user_id: Some(1),
        owner_queue_id: None,
        sender_mailbox_id: Some(mailbox),
        received_on: None,
        send_at: send_at.map(str::to_string),
        flags: Vec::new(),
        parties: vec![
            Party { role: Role::From, address: "alice@x.test".into(), name: None, record: Some(owner) },
            Party { role: Role::To, address: "bob@x.test".into(), name: None, record: None },
        ],
        attachments: Vec::new(),
    };
    emails::insert(store.conn(), &e).unwrap()
}

/// Claims the oldest due email alone, as one batch of one.
fn claim_one(c: &rusqlite::Connection, mb: i64, now: &str) -> Option<i64> {
    outbox::claim_due(c, mb, now, 1, "").unwrap().into_iter().next()
}

fn status(store: &Store, id: i64) -> (String, i64) {
    store
        .conn()
        .query_row("SELECT status, delivery_attempts FROM emails WHERE activity_id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
}

const T0: &str = "2026-01-01T00:00:00.000Z";
const T1: &str = "2026-01-01T00:01:00.000Z";
const T2: &str = "2026-01-01T00:02:00.000Z";

#[test]
fn claims_take_the_oldest_due_email_once_and_honour_send_at_and_retry_time() {
    let (_d, store, mb) = setup();
    let c = store.conn();
    let later = queue(&store, mb, 1, "pending_send", Some(T1));
    let now = queue(&store, mb, 2, "pending_send", None);
    let draft = queue(&store, mb, 3, "draft", None);
    assert_eq!(outbox::mailboxes_with_work(c, T0, T0).unwrap(), vec![mb]);
    assert_eq!(claim_one(c, mb, T0), Some(now));
    assert_eq!(status(&store, now), ("sending".into(), 1));
    assert_eq!(claim_one(c, mb, T0), None, "send_at in the future, draft never");
    outbox::schedule_retry(c, now, "SMTP_DEFERRED: 451", T2).unwrap();
    assert_eq!(status(&store, now), ("pending_send".into(), 1));
    assert_eq!(claim_one(c, mb, T1), Some(later));
    assert_eq!(claim_one(c, mb, T1), None, "retry not due before T2");
    assert_eq!(claim_one(c, mb, T2), Some(now));
    assert_eq!(status(&store, now), ("sending".into(), 2));
    // A mailbox-level failure gives the attempt back.
    outbox::release(c, now, "SMTP_AUTH_FAILED", None).unwrap();
    assert_eq!(status(&store, now), ("pending_send".into(), 1));
    assert_eq!(status(&store, draft), ("draft".into(), 0));
}

#[test]
fn interrupted_sends_copies_and_final_states() {
    let (_d, store, mb) = setup();
    let c = store.conn();
    let a = queue(&store, mb, 1, "pending_send", None);
    let b = queue(&store, mb, 2, "pending_send", None);
    claim_one(c, mb, T0);
    claim_one(c, mb, T1);
    assert!(
        outbox::stuck_sending(c, mb, T1, &[]).unwrap().is_empty(),
        "claimed, never started: not interrupted"
    );
    assert!(outbox::mark_started(c, a, "", T0).unwrap());
    assert!(outbox::mark_started(c, b, "", T1).unwrap());
    assert_eq!(
        outbox::stuck_sending(c, mb, T0, &[]).unwrap(),
        vec![a],
        "only the one claimed before the cutoff"
    );
    outbox::mark_sent(c, a, T2, SentCopy::Pending).unwrap();
    assert_eq!(outbox::copies_pending(c, mb).unwrap(), vec![a]);
    assert_eq!(outbox::mailboxes_with_work(c, T2, T0).unwrap(), vec![mb], "a copy to file is work");
    outbox::mark_copy(c, a, SentCopy::Saved).unwrap();
    assert!(outbox::copies_pending(c, mb).unwrap().is_empty());
    let state: String = c.query_row("SELECT state FROM activities WHERE id = ?1", [a], |r| r.get(0)).unwrap();
    assert_eq!(state, "completed");
    outbox::mark_failed(c, b, "SMTP_REJECTED: 550", T2).unwrap();
    assert_eq!(status(&store, b).0, "failed");
    assert!(outbox::mailboxes_with_work(c, T2, T2).unwrap().is_empty());
    let sent = outbox::load(c, a).unwrap();
    assert_eq!(sent.message_id, "m1@x.test");
    assert_eq!(sent.to.len(), 1);
    assert_eq!(sent.sent_on.as_deref(), Some(T2));
}

#[test]
fn a_lost_final_reply_leaves_the_email_started_in_sending_and_a_running_pass_keeps_its_claims() {
    let (_d, store, mb) = setup();
    let c = store.conn();
    let a = queue(&store, mb, 1, "pending_send", None);
    assert_eq!(outbox::claim_due(c, mb, T0, 1, "live-pass").unwrap(), vec![a]);
    // The start is still only in the pass's send log when the reply is lost.
    outbox::mark_outcome_unknown(c, a, "DELIVERY_UNKNOWN: no reply", T0).unwrap();
    assert_eq!(status(&store, a), ("sending".into(), 1));
    let (started, error): (Option<String>, Option<String>) = c
        .query_row("SELECT smtp_started_on, last_error FROM emails WHERE activity_id = ?1", [a], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(started.as_deref(), Some(T0));
    assert!(error.unwrap().starts_with("DELIVERY_UNKNOWN"));
    assert!(
        outbox::stuck_sending(c, mb, T1, &["live-pass".into()]).unwrap().is_empty(),
        "its pass still runs: it may still be waiting for the reply"
    );
    assert_eq!(outbox::stuck_sending(c, mb, T1, &["other".into()]).unwrap(), vec![a]);
    assert_eq!(outbox::release_unstarted(c, mb, &[]).unwrap(), 0, "started: never put back blindly");
}

#[test]
fn submit_and_cancel_accept_only_the_states_that_allow_them() {
    let (_d, store, mb) = setup();
    let c = store.conn();
    let draft = queue(&store, mb, 1, "draft", None);
    let pending = queue(&store, mb, 2, "pending_send", None);
    assert!(outbox::cancel(c, pending, T0).is_ok());
    assert!(outbox::submit(c, pending, T0).unwrap_err().to_string().starts_with("id: "));
    assert_eq!(outbox::submit(c, draft, T0).unwrap(), "draft");
    claim_one(c, mb, T0);
    let e = outbox::cancel(c, draft, T0).unwrap_err().to_string();
    assert!(e.contains("being sent"), "{e}");
    outbox::mark_failed(c, draft, "x", T0).unwrap();
    assert_eq!(outbox::submit(c, draft, T0).unwrap(), "failed");
    assert_eq!(status(&store, draft), ("pending_send".into(), 0), "a fresh attempt budget");
    assert!(outbox::cancel(c, 9999, T0).unwrap_err().to_string().contains("no activity"));
}

#[test]
fn claims_never_started_go_back_and_the_pass_that_lost_them_cannot_start_them() {
    let (_d, store, mb) = setup();
    let c = store.conn();
    let ids: Vec<i64> = (1..=5).map(|i| queue(&store, mb, i, "pending_send", None)).collect();
    // Pass A claims a batch of three and starts the first.
    assert_eq!(outbox::claim_due(c, mb, T0, 3, "A").unwrap(), ids[..3]);
    assert!(outbox::mark_started(c, ids[0], "A", T0).unwrap());
    assert!(!outbox::mark_started(c, ids[0], "A", T0).unwrap(), "started once");
    assert_eq!(status(&store, ids[1]), ("sending".into(), 1));
    // A stops (or is presumed stopped); pass B puts the unstarted two back and
    // claims them itself.
    assert_eq!(outbox::release_unstarted(c, mb, &[]).unwrap(), 2);
    assert_eq!(status(&store, ids[1]), ("pending_send".into(), 0), "the attempt is given back");
    assert_eq!(
        status(&store, ids[0]),
        ("sending".into(), 1),
        "a started one stays for the Sent-folder check"
    );
    assert_eq!(outbox::claim_due(c, mb, T1, 8, "B").unwrap(), ids[1..]);
    // A, still running, must not send what it no longer owns.
    assert!(!outbox::mark_started(c, ids[1], "A", T1).unwrap());
    assert!(outbox::mark_started(c, ids[1], "B", T1).unwrap());
    assert_eq!(
        outbox::mailboxes_with_work(c, T1, T0).unwrap(),
        vec![mb],
        "unstarted claims are work at once"
    );
}

fn sent_row(store: &Store, id: i64) -> (String, Option<String>, Option<String>, Option<String>) {
    store
        .conn()
        .query_row(
            "SELECT status, sent_on, sent_copy, smtp_started_on FROM emails WHERE activity_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
}

/// The recovery a new pass runs first: stopped passes' logs folded in, their
/// unstarted claims put back, in one commit; then the logs removed.
fn recover_and_release(store: &mut Store, mb: i64) -> (send_log::Recovery, usize) {
    let path = store.path().to_path_buf();
    let (recovery, released) = store
        .write(|tx| -> crmsync_core::error::Result<_> {
            let r = send_log::recover(tx, &path)?;
            let n = outbox::release_unstarted(tx, mb, &r.live)?;
            Ok((r, n))
        })
        .unwrap();
    (recovery, released)
}

#[test]
fn a_killed_pass_s_send_log_is_folded_in_and_only_its_unstarted_claims_go_back() {
    let (_d, mut store, mb) = setup();
    let ids: Vec<i64> = (1..=3).map(|i| queue(&store, mb, i, "pending_send", None)).collect();
    let mut log = SendLog::create(store.path(), "pass-a").unwrap();
    assert_eq!(outbox::claim_due(store.conn(), mb, T0, 3, "pass-a").unwrap(), ids);
    log.record(Fact::Started { id: ids[0], at: T0.into() }).unwrap();
    log.record(Fact::Sent { id: ids[0], at: T1.into(), copy: SentCopy::Pending }).unwrap();
    log.record(Fact::Started { id: ids[1], at: T1.into() }).unwrap();
    // Killed: nothing folded, the file stays, its lock goes with the process.
    drop(log);
    assert_eq!(sent_row(&store, ids[0]).0, "sending", "not in the store yet");

    let (recovery, released) = recover_and_release(&mut store, mb);
    assert_eq!((recovery.folded, recovery.skipped, recovery.live.len()), (3, 0, 0));
    assert_eq!(released, 1, "only the claim never started goes back");
    recovery.finish().unwrap();
    assert_eq!(
        sent_row(&store, ids[0]),
        ("sent".into(), Some(T1.into()), Some("pending".into()), Some(T0.into())),
        "accepted before the kill: Sent, its copy still to file"
    );
    assert_eq!(sent_row(&store, ids[1]).3.as_deref(), Some(T1), "started: left for the Sent-folder check");
    assert_eq!(outbox::stuck_sending(store.conn(), mb, T2, &[]).unwrap(), vec![ids[1]]);
    assert_eq!(status(&store, ids[2]), ("pending_send".into(), 0), "never started: back, attempt given back");
    let dir = send_log::dir_of(store.path());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the log is removed");
}

#[test]
fn a_running_pass_s_claims_are_left_alone_before_its_starts_reach_the_store() {
    let (_d, mut store, mb) = setup();
    let ids: Vec<i64> = (1..=2).map(|i| queue(&store, mb, i, "pending_send", None)).collect();
    let mut log = SendLog::create(store.path(), "pass-a").unwrap();
    assert_eq!(outbox::claim_due(store.conn(), mb, T0, 2, "pass-a").unwrap(), ids);
    log.record(Fact::Started { id: ids[0], at: T0.into() }).unwrap();

    // Another pass (the CLI, say) recovers while A is still sending ids[0].
    let (recovery, released) = recover_and_release(&mut store, mb);
    assert_eq!(recovery.live, vec!["pass-a".to_string()]);
    assert_eq!((recovery.folded, released), (0, 0), "nothing of a running pass is touched");
    recovery.finish().unwrap();
    assert!(outbox::still_claimed(store.conn(), ids[1], "pass-a").unwrap());

    // A folds with its next commit, empties its log, and ends.
    store.write(|tx| log.fold(tx)).unwrap();
    log.folded().unwrap();
    let file = send_log::dir_of(store.path()).join("pass-a.log");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "emptied once in the store");
    assert!(
        !outbox::still_claimed(store.conn(), ids[0], "pass-a").unwrap(),
        "started: no longer a fresh claim"
    );
    // The next fact starts the emptied file afresh.
    log.record(Fact::Started { id: ids[1], at: T1.into() }).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text, format!("started {} {T1}\n", ids[1]));
    // A pass ends by folding the rest; then its log is gone.
    store.write(|tx| log.fold(tx)).unwrap();
    log.folded().unwrap();
    log.close().unwrap();
    assert!(!file.exists());
}

#[test]
fn torn_lines_are_skipped_and_folding_a_log_twice_changes_nothing() {
    let (_d, mut store, mb) = setup();
    let id = queue(&store, mb, 1, "pending_send", None);
    outbox::claim_due(store.conn(), mb, T0, 1, "pass-b").unwrap();
    let dir = send_log::dir_of(store.path());
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "started {id} {T0}\nsent {id} {T1} none\nsent {id} not-a-time none\nsent 12\n\u{0}\u{0}\u{0}\ngarbage\nsent {id} {T2}"
    );
    for round in 0..2 {
        std::fs::write(dir.join("pass-b.log"), &text).unwrap();
        let (recovery, _) = recover_and_release(&mut store, mb);
        assert_eq!((recovery.folded, recovery.skipped), (2, 4), "round {round}");
        recovery.finish().unwrap();
        assert_eq!(
            sent_row(&store, id),
            ("sent".into(), Some(T1.into()), Some("none".into()), Some(T0.into())),
            "round {round}: the first acceptance stands"
        );
    }
    let err = SendLog::create(store.path(), "../x").unwrap_err().to_string();
    assert!(err.contains("claim-token"), "{err}");
}
