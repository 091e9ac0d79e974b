//! NTLM logins and the replay of the recorded gromox conversation.

use super::*;

/// Runs the MS-NLMP client of `tests/ews/check` against the server; the three
/// HTTP statuses of NEGOTIATE, AUTHENTICATE and a request without Authorization
/// on the same connection.
fn ntlm_login(ews: &EwsServer, user: &str, password: &str) -> String {
    use std::io::Write as _;
    let body = ews.dir().join("getfolder.xml");
    std::fs::write(&body, get_inbox(None)).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ews/check/ntlm_client.py");
    let mut child = std::process::Command::new("/usr/bin/python3")
        .arg(script)
        .arg(ews.ews_url())
        .arg(ews.ca().ca_path())
        .arg(user)
        .arg("EXAMPLE")
        .arg(&body)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn ntlm_v2_logs_in_on_one_connection_and_a_wrong_password_is_refused() {
    let ews = server_with_alice().await;
    assert_eq!(ntlm_login(&ews, "alice", PW), "401 200 200");
    assert_eq!(ntlm_login(&ews, "alice", "wrong"), "401 401 401");
    let log = ews.request_log().await.unwrap();
    assert_eq!(log.iter().filter(|r| r.status == 200 && r.user.as_deref() == Some(ALICE)).count(), 2);
    ews.assert_no_invalid_requests();
}

#[test]
fn ntlm_verification_matches_the_ms_nlmp_test_vectors() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ews/check/test_ntlm.py");
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(script)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn replay_serves_the_recorded_gromox_chain_in_order() {
    let dir = crmsync_tests::ews::gromox_dir().unwrap();
    let ews = EwsServer::start_replay(&dir).unwrap();
    ews.add_user(ALICE, PW).await.unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".request.xml").map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names.len(), 54);
    for name in &names {
        let request = std::fs::read_to_string(dir.join(format!("{name}.request.xml"))).unwrap();
        let url = if name.contains("autodiscover") { ews.autodiscover_url() } else { ews.ews_url() };
        let password = if name.contains("bad-password") { "wrong" } else { PW };
        let reply = post(&ews, &url, ALICE, password, &request).await.unwrap();
        if name.starts_with("048-") {
            assert_eq!(reply.status, 401);
            assert_eq!(reply.www_authenticate, [r#"Basic realm="msrpc realm", charset="utf-8""#]);
            continue;
        }
        let recorded = std::fs::read_to_string(dir.join(format!("{name}.response.xml"))).unwrap();
        assert_eq!(reply.status, 200, "{name}");
        assert!(reply.body == recorded, "{name}: not the recorded answer");
    }
    // The chain is followed: the SyncState from 015 got 016, a repeat gets it again.
    let page2 =
        std::fs::read_to_string(dir.join("016-syncfolderitems-inbox-initial-page2.request.xml")).unwrap();
    let again = soap(&ews, ALICE, PW, &page2).await;
    assert!(again.body.contains("<m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"));
    let log = ews.request_log().await.unwrap();
    assert_eq!(log.iter().filter(|r| r.status == 200).count(), 54);

    // Unrecorded: counted as invalid, like the one recorded request that breaks the schema (047).
    let missing = soap(&ews, ALICE, PW, &sync_inbox(Some("bm90IHJlY29yZGVk"), 5)).await;
    assert_eq!(missing.status, 500);
    let invalid = ews.invalid_traffic().await.unwrap();
    let errors: Vec<_> =
        invalid.requests.iter().map(|(op, e)| (op.clone().unwrap_or_default(), e.clone())).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].0 == "GetEvents" && errors[0].1.contains("Watermark"), "{errors:?}");
    assert!(errors[1].1.contains("no recorded answer for SyncFolderItems"), "{errors:?}");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ews.assert_no_invalid_requests()));
    assert!(panic.is_err());
}
