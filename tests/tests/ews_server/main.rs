//! Proves the EWS emulator of the harness ([`EwsServer`]) with raw SOAP
//! requests (the documentation's request samples and hand-written ones) over
//! HTTPS with the harness CA: schema validation of requests, Exchange-shaped
//! answers, SyncFolderItems paging and incremental sync, the injected faults,
//! impersonation, 401 and autodiscover. The EWS client itself is tested against
//! this server elsewhere.

use std::time::Duration;

use base64::Engine as _;
use crmsync_tests::ews::fixtures_dir;
use crmsync_tests::{EwsFault, EwsServer};

mod calendar;
mod logins_and_replay;

const ALICE: &str = "alice@example.test";
const BOB: &str = "bob@example.test";
const SVC: &str = "svc-crm@example.test";
const PW: &str = "alice-pw";

struct Reply {
    status: u16,
    body: String,
    www_authenticate: Vec<String>,
}

async fn post(
    ews: &EwsServer,
    url: &str,
    user: &str,
    password: &str,
    body: &str,
) -> Result<Reply, reqwest::Error> {
    let resp = ews
        .http()
        .post(url)
        .basic_auth(user, Some(password))
        .header("Content-Type", "text/xml; charset=utf-8")
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status().as_u16();
    let www_authenticate = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_string())
        .collect();
    Ok(Reply { status, body: resp.text().await?, www_authenticate })
}

async fn soap(ews: &EwsServer, user: &str, password: &str, body: &str) -> Reply {
    post(ews, &ews.ews_url(), user, password, body).await.expect("an HTTP answer")
}

fn doc(name: &str) -> String {
    let dir = fixtures_dir().expect("shared/fixtures/ews beside the checkout");
    std::fs::read_to_string(dir.join("docs").join(name)).unwrap()
}

/// A SOAP envelope around `body` with an optional ExchangeImpersonation header.
fn envelope(impersonate: Option<&str>, body: &str) -> String {
    let imp = impersonate
        .map(|a| {
            format!(
                "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{a}</t:PrimarySmtpAddress>\
                 </t:ConnectingSID></t:ExchangeImpersonation>"
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/>{imp}</soap:Header>
  <soap:Body>{body}</soap:Body>
</soap:Envelope>"#
    )
}

fn sync_inbox(state: Option<&str>, max: u32) -> String {
    let state = state.map(|s| format!("<m:SyncState>{s}</m:SyncState>")).unwrap_or_default();
    envelope(
        None,
        &format!(
            "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>\
             <m:SyncFolderId><t:DistinguishedFolderId Id=\"inbox\"/></m:SyncFolderId>{state}\
             <m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>"
        ),
    )
}

fn get_inbox(impersonate: Option<&str>) -> String {
    envelope(
        impersonate,
        "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>\
         <m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>",
    )
}

/// The text of every `<tag>…</tag>` (prefix included in `tag`).
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    xml.split(&open).skip(1).filter_map(|s| s.split(&close).next()).map(str::to_string).collect()
}

/// The `Id` of every `<t:ItemId …/>` inside `<t:{change}>` elements.
fn change_ids(xml: &str, change: &str) -> Vec<String> {
    texts(xml, &format!("t:{change}"))
        .iter()
        .filter_map(|c| c.split("ItemId Id=\"").nth(1).and_then(|s| s.split('"').next()).map(str::to_string))
        .collect()
}

fn message(n: u32) -> Vec<u8> {
    format!(
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: message {n}\r\n\
         Message-ID: <m{n}@crm.test>\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

async fn server_with_alice() -> EwsServer {
    let ews = EwsServer::start().unwrap();
    ews.add_user(ALICE, PW).await.unwrap();
    ews
}
#[tokio::test]
async fn a_valid_request_gets_an_exchange_shaped_schema_valid_answer() {
    let ews = server_with_alice().await;
    ews.seed_mime(ALICE, "inbox", &message(1), false).await.unwrap();
    let reply = soap(&ews, ALICE, PW, &doc("getfolder.request.xml")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains(r#"<m:GetFolderResponseMessage ResponseClass="Success">"#), "{}", reply.body);
    assert!(reply.body.contains("<m:ResponseCode>NoError</m:ResponseCode>"));
    assert!(reply.body.contains("<t:DisplayName>Inbox</t:DisplayName>"));
    assert_eq!(texts(&reply.body, "t:UnreadCount"), ["1"]);
    assert!(reply.body.contains("ServerVersionInfo"));
    let log = ews.request_log().await.unwrap();
    assert_eq!(log.last().unwrap().operation.as_deref(), Some("GetFolder"));
    // The server checked its answer against the schema too: no invalid traffic either way.
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn an_invalid_request_is_refused_recorded_and_fails_the_check() {
    let ews = server_with_alice().await;
    let reply = soap(&ews, ALICE, PW, &doc("updateitem-contact-invalid-key.request.xml")).await;
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("ErrorSchemaValidation"), "{}", reply.body);
    let invalid = ews.invalid_traffic().await.unwrap();
    assert_eq!(invalid.requests.len(), 1);
    assert_eq!(invalid.requests[0].0.as_deref(), Some("UpdateItem"));
    assert!(invalid.requests[0].1.contains("EmailAddress4"), "{:?}", invalid.requests);
    assert!(invalid.responses.is_empty(), "{:?}", invalid.responses);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ews.assert_no_invalid_requests()))
        .expect_err("an invalid request must fail the check");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("UpdateItem") && text.contains("EmailAddress4"), "{text}");
}

#[tokio::test]
async fn sync_folder_items_pages_then_an_incremental_sync_returns_only_the_changes() {
    let ews = server_with_alice().await;
    let mut seeded = Vec::new();
    for n in 1..=5 {
        seeded.push(ews.seed_mime(ALICE, "inbox", &message(n), false).await.unwrap().id);
    }
    let (mut state, mut seen, mut pages) = (None::<String>, Vec::new(), Vec::new());
    loop {
        let reply = soap(&ews, ALICE, PW, &sync_inbox(state.as_deref(), 2)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let ids = change_ids(&reply.body, "Create");
        let last = texts(&reply.body, "m:IncludesLastItemInRange") == ["true"];
        pages.push((ids.len(), last));
        seen.extend(ids);
        state = texts(&reply.body, "m:SyncState").pop();
        if last {
            break;
        }
    }
    assert_eq!(pages, [(2, false), (2, false), (1, true)]);
    assert_eq!(seen, seeded, "every message once, oldest first");

    let new = ews.seed_mime(ALICE, "inbox", &message(6), false).await.unwrap();
    ews.update_item(&seeded[0], serde_json::json!({ "is_read": true })).await.unwrap();
    ews.update_item(&seeded[1], serde_json::json!({ "subject": "renamed" })).await.unwrap();
    ews.delete_item(&seeded[2]).await.unwrap();
    let reply = soap(&ews, ALICE, PW, &sync_inbox(state.as_deref(), 10)).await;
    assert_eq!(change_ids(&reply.body, "Create"), [new.id]);
    assert_eq!(change_ids(&reply.body, "ReadFlagChange"), [seeded[0].clone()]);
    assert_eq!(change_ids(&reply.body, "Update"), [seeded[1].clone()]);
    assert_eq!(change_ids(&reply.body, "Delete"), [seeded[2].clone()]);
    assert_eq!(texts(&reply.body, "m:IncludesLastItemInRange"), ["true"]);

    let again = texts(&reply.body, "m:SyncState").pop();
    let reply = soap(&ews, ALICE, PW, &sync_inbox(again.as_deref(), 10)).await;
    assert!(reply.body.contains("<m:Changes/>"), "no change, no entry: {}", reply.body);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_bulk_seeded_inbox_syncs_in_pages_of_at_most_512() {
    let ews = server_with_alice().await;
    let mimes: Vec<Vec<u8>> = (1..=600).map(message).collect();
    let seeded = ews.seed_mimes(ALICE, "inbox", &mimes, false).await.unwrap();
    assert_eq!(seeded.len(), 600);
    let first = soap(&ews, ALICE, PW, &sync_inbox(None, 512)).await;
    assert_eq!(change_ids(&first.body, "Create").len(), 512);
    assert_eq!(texts(&first.body, "m:IncludesLastItemInRange"), ["false"]);
    let state = texts(&first.body, "m:SyncState").pop();
    let second = soap(&ews, ALICE, PW, &sync_inbox(state.as_deref(), 512)).await;
    assert_eq!(change_ids(&second.body, "Create"), seeded[512..]);
    assert_eq!(texts(&second.body, "m:IncludesLastItemInRange"), ["true"]);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn an_invalidated_sync_state_gets_error_invalid_sync_state_data() {
    let ews = server_with_alice().await;
    ews.seed_mime(ALICE, "inbox", &message(1), false).await.unwrap();
    let reply = soap(&ews, ALICE, PW, &sync_inbox(None, 10)).await;
    let state = texts(&reply.body, "m:SyncState").pop().unwrap();
    ews.inject(EwsFault::InvalidSyncState(Some(state.clone()))).await.unwrap();
    let reply = soap(&ews, ALICE, PW, &sync_inbox(Some(&state), 10)).await;
    assert!(
        reply.body.contains("<m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode>"),
        "{}",
        reply.body
    );
    let fresh = soap(&ews, ALICE, PW, &sync_inbox(None, 10)).await;
    assert_eq!(change_ids(&fresh.body, "Create").len(), 1, "a resync without a state lists the item again");
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn server_busy_carries_back_off_and_the_log_shows_when_the_retry_came() {
    let ews = server_with_alice().await;
    ews.inject(EwsFault::ServerBusy { operation: "GetFolder".into(), count: 1, backoff_ms: 400 })
        .await
        .unwrap();
    let busy = soap(&ews, ALICE, PW, &get_inbox(None)).await;
    assert_eq!(busy.status, 500);
    assert!(busy.body.contains("ErrorServerBusy"), "{}", busy.body);
    assert!(busy.body.contains(r#"<t:Value Name="BackOffMilliseconds">400</t:Value>"#), "{}", busy.body);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let ok = soap(&ews, ALICE, PW, &get_inbox(None)).await;
    assert_eq!(ok.status, 200);
    let log = ews.request_log().await.unwrap();
    let gets: Vec<_> = log.iter().filter(|r| r.operation.as_deref() == Some("GetFolder")).collect();
    assert_eq!(gets[0].codes, ["ErrorServerBusy"]);
    assert_eq!(gets[1].codes, ["NoError"]);
    assert!(gets[1].time - gets[0].time >= 0.4, "the retry waited: {:?}", gets[1].time - gets[0].time);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_lost_response_after_create_item_still_leaves_the_message_in_sent_items() {
    let ews = server_with_alice().await;
    ews.add_user(BOB, "bob-pw").await.unwrap();
    ews.inject(EwsFault::DropAfter { operation: "CreateItem".into(), count: 1 }).await.unwrap();
    let mime = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: quote\r\n\
                Message-ID: <once@crm.test>\r\n\r\nthe quote\r\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(mime);
    let create = envelope(
        None,
        &format!(
            "<m:CreateItem MessageDisposition=\"SendAndSaveCopy\"><m:SavedItemFolderId>\
             <t:DistinguishedFolderId Id=\"sentitems\"/></m:SavedItemFolderId><m:Items><t:Message>\
             <t:MimeContent CharacterSet=\"UTF-8\">{b64}</t:MimeContent></t:Message></m:Items></m:CreateItem>"
        ),
    );
    let lost = post(&ews, &ews.ews_url(), ALICE, PW, &create).await;
    assert!(lost.is_err(), "the answer must be lost");
    let sent = ews.items(ALICE, "sentitems").await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].internet_message_id.as_deref(), Some("<once@crm.test>"));
    assert_eq!(sent[0].subject.as_deref(), Some("quote"));
    let delivered = ews.items(BOB, "inbox").await.unwrap();
    assert_eq!(delivered.len(), 1, "a local recipient gets it in the Inbox");
    assert_eq!(delivered[0].is_read, Some(false));
    // What the client does next: look it up in Sent Items by InternetMessageId.
    let find = envelope(
        None,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>\
         <t:AdditionalProperties><t:FieldURI FieldURI=\"message:InternetMessageId\"/></t:AdditionalProperties>\
         </m:ItemShape><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI=\"message:InternetMessageId\"/>\
         <t:FieldURIOrConstant><t:Constant Value=\"&lt;once@crm.test&gt;\"/></t:FieldURIOrConstant></t:IsEqualTo>\
         </m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id=\"sentitems\"/></m:ParentFolderIds>\
         </m:FindItem>",
    );
    let found = soap(&ews, ALICE, PW, &find).await;
    assert!(found.body.contains(r#"TotalItemsInView="1""#), "{}", found.body);
    assert!(found.body.contains(&sent[0].id), "{}", found.body);
    let log = ews.request_log().await.unwrap();
    assert!(log.iter().any(|r| r.operation.as_deref() == Some("CreateItem") && r.dropped));
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn impersonation_needs_the_role_and_then_acts_on_the_users_mailbox() {
    let ews = server_with_alice().await;
    ews.add_user(SVC, "svc-pw").await.unwrap();
    ews.seed_mime(ALICE, "inbox", &message(1), false).await.unwrap();
    let denied = soap(&ews, SVC, "svc-pw", &get_inbox(Some(ALICE))).await;
    assert_eq!(denied.status, 500);
    assert!(denied.body.contains("ErrorImpersonateUserDenied"), "{}", denied.body);
    ews.grant_impersonation(SVC, true).await.unwrap();
    let granted = soap(&ews, SVC, "svc-pw", &get_inbox(Some(ALICE))).await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    assert_eq!(texts(&granted.body, "t:TotalCount"), ["1"], "alice's inbox, not the service account's");
    let log = ews.request_log().await.unwrap();
    let last = log.last().unwrap();
    assert_eq!((last.user.as_deref(), last.impersonated.as_deref()), (Some(SVC), Some(ALICE)));
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn a_changed_password_gets_http_401_offering_negotiate_ntlm_and_basic() {
    let ews = server_with_alice().await;
    assert_eq!(soap(&ews, ALICE, PW, &get_inbox(None)).await.status, 200);
    ews.set_password(ALICE, "new-pw").await.unwrap();
    let reply = soap(&ews, ALICE, PW, &get_inbox(None)).await;
    assert_eq!(reply.status, 401);
    let offered = reply.www_authenticate.join(", ");
    assert!(offered.contains("NTLM") && offered.contains("Basic"), "{offered}");
    assert_eq!(soap(&ews, ALICE, "new-pw", &get_inbox(None)).await.status, 200);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn update_item_with_a_stale_change_key_is_an_irresolvable_conflict() {
    let ews = server_with_alice().await;
    let task = ews
        .seed_item(
            ALICE,
            None,
            r#"<t:Task xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
                 <t:Subject>Call back</t:Subject><t:PercentComplete>0</t:PercentComplete></t:Task>"#,
        )
        .await
        .unwrap();
    let update = |key: &str, pct: u32| {
        envelope(
            None,
            &format!(
                "<m:UpdateItem ConflictResolution=\"NeverOverwrite\"><m:ItemChanges><t:ItemChange>\
                 <t:ItemId Id=\"{}\" ChangeKey=\"{key}\"/><t:Updates><t:SetItemField>\
                 <t:FieldURI FieldURI=\"task:PercentComplete\"/><t:Task><t:PercentComplete>{pct}</t:PercentComplete>\
                 </t:Task></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>",
                task.id
            ),
        )
    };
    let first = soap(&ews, ALICE, PW, &update(&task.change_key, 50)).await;
    assert!(first.body.contains("<m:ResponseCode>NoError</m:ResponseCode>"), "{}", first.body);
    let stale = soap(&ews, ALICE, PW, &update(&task.change_key, 75)).await;
    assert!(
        stale.body.contains("<m:ResponseCode>ErrorIrresolvableConflict</m:ResponseCode>"),
        "{}",
        stale.body
    );
    let now = &ews.items(ALICE, "tasks").await.unwrap()[0];
    assert!(now.fields["PercentComplete"].contains(">50<"), "the stale update changed nothing: {now:?}");
    assert_ne!(now.change_key, task.change_key);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn autodiscover_answers_settings_or_the_configured_redirect() {
    let ews = server_with_alice().await;
    let request = doc("autodiscover-pox.request.xml").replace("user@contoso.com", ALICE);
    let reply = post(&ews, &ews.autodiscover_url(), ALICE, PW, &request).await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("<Action>settings</Action>"), "{}", reply.body);
    assert!(reply.body.contains(&format!("<EwsUrl>{}</EwsUrl>", ews.ews_url())), "{}", reply.body);
    ews.autodiscover_redirect_addr(ALICE, "alice@mail.example.test").await.unwrap();
    let reply = post(&ews, &ews.autodiscover_url(), ALICE, PW, &request).await.unwrap();
    assert!(reply.body.contains("<Action>redirectAddr</Action>"), "{}", reply.body);
    assert!(reply.body.contains("<RedirectAddr>alice@mail.example.test</RedirectAddr>"));
    let elsewhere = "https://mail.example.test/autodiscover/autodiscover.xml";
    ews.autodiscover_redirect_url(ALICE, elsewhere).await.unwrap();
    let reply = post(&ews, &ews.autodiscover_url(), ALICE, PW, &request).await.unwrap();
    assert!(reply.body.contains("<Action>redirectUrl</Action>"), "{}", reply.body);
    assert!(reply.body.contains(&format!("<RedirectUrl>{elsewhere}</RedirectUrl>")));
    let unknown = request.replace(ALICE, "nobody@example.test");
    let reply = post(&ews, &ews.autodiscover_url(), ALICE, PW, &unknown).await.unwrap();
    assert!(reply.body.contains("<ErrorCode>500</ErrorCode>"), "{}", reply.body);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn access_denied_is_answered_per_mailbox() {
    let ews = server_with_alice().await;
    ews.inject(EwsFault::AccessDenied { user: ALICE.into(), operation: Some("GetFolder".into()) })
        .await
        .unwrap();
    let reply = soap(&ews, ALICE, PW, &get_inbox(None)).await;
    assert!(reply.body.contains("ErrorAccessDenied"), "{}", reply.body);
    ews.inject(EwsFault::Clear).await.unwrap();
    assert_eq!(soap(&ews, ALICE, PW, &get_inbox(None)).await.status, 200);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn http_status_and_delay_faults_answer_the_next_requests_then_stop() {
    let ews = server_with_alice().await;
    ews.inject(EwsFault::HttpStatus { operation: "*".into(), count: 1, status: 503 }).await.unwrap();
    ews.inject(EwsFault::Delay { operation: "GetFolder".into(), count: 1, delay_ms: 300 }).await.unwrap();
    let unavailable = soap(&ews, ALICE, PW, &get_inbox(None)).await;
    assert_eq!(unavailable.status, 503);
    let started = std::time::Instant::now();
    let slow = soap(&ews, ALICE, PW, &get_inbox(None)).await;
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let started = std::time::Instant::now();
    assert_eq!(soap(&ews, ALICE, PW, &get_inbox(None)).await.status, 200);
    assert!(started.elapsed() < Duration::from_millis(300));
    let log = ews.request_log().await.unwrap();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 200, 200]);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn the_synthetic_fixtures_are_schema_valid_and_the_check_catches_an_invalid_one() {
    let ews = EwsServer::start().unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ews/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let xml = std::fs::read_to_string(&path).unwrap();
            assert_eq!(ews.validate(&xml).await.unwrap(), None, "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
    let broken = doc("updateitem-contact-invalid-key.request.xml");
    assert!(ews.validate(&broken).await.unwrap().unwrap().contains("EmailAddress4"));
}

#[tokio::test]
async fn folder_hierarchy_sync_reports_a_new_folder_once() {
    let ews = server_with_alice().await;
    let sync = |state: Option<&str>| {
        let state = state.map(|s| format!("<m:SyncState>{s}</m:SyncState>")).unwrap_or_default();
        envelope(
            None,
            &format!(
                "<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>\
                 {state}</m:SyncFolderHierarchy>"
            ),
        )
    };
    // The local part is a valid login name too, as on IIS.
    let first = soap(&ews, "alice", PW, &sync(None)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let names = texts(&first.body, "t:DisplayName");
    for wanted in ["Inbox", "Sent Items", "Calendar", "Contacts", "Tasks"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} in {names:?}");
    }
    let state = texts(&first.body, "m:SyncState").pop();
    let create = envelope(
        None,
        "<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id=\"inbox\"/></m:ParentFolderId>\
         <m:Folders><t:Folder><t:DisplayName>Undeliverable</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>",
    );
    assert!(soap(&ews, ALICE, PW, &create).await.body.contains("NoError"));
    let again = soap(&ews, ALICE, PW, &create).await;
    assert!(again.body.contains("ErrorFolderExists"), "{}", again.body);
    let next = soap(&ews, ALICE, PW, &sync(state.as_deref())).await;
    assert_eq!(texts(&next.body, "t:DisplayName"), ["Undeliverable"], "{}", next.body);
    assert_eq!(next.body.matches("<t:Create>").count(), 1);
    ews.assert_no_invalid_requests();
}

const CRM_ID: &str = r#"<t:ExtendedFieldURI PropertySetId="C11FF724-AA03-4555-9952-8FA248A11C3E" PropertyName="crmid" PropertyType="String"/>"#;

#[tokio::test]
async fn an_extended_property_is_stored_found_by_restriction_and_updated() {
    let ews = server_with_alice().await;
    let create = envelope(
        None,
        &format!(
            "<m:CreateItem MessageDisposition=\"SaveOnly\"><m:SavedItemFolderId><t:DistinguishedFolderId Id=\"inbox\"/>\
             </m:SavedItemFolderId><m:Items><t:Message><t:Subject>tracked</t:Subject>\
             <t:ExtendedProperty>{CRM_ID}<t:Value>activity-1</t:Value></t:ExtendedProperty></t:Message></m:Items>\
             </m:CreateItem>"
        ),
    );
    let created = soap(&ews, ALICE, PW, &create).await;
    assert!(created.body.contains("NoError"), "{}", created.body);
    let find = |value: &str| {
        envelope(
            None,
            &format!(
                "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>\
                 <t:AdditionalProperties>{CRM_ID}</t:AdditionalProperties></m:ItemShape><m:Restriction>\
                 <t:IsEqualTo>{CRM_ID}<t:FieldURIOrConstant><t:Constant Value=\"{value}\"/></t:FieldURIOrConstant>\
                 </t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id=\"inbox\"/>\
                 </m:ParentFolderIds></m:FindItem>"
            ),
        )
    };
    let found = soap(&ews, ALICE, PW, &find("activity-1")).await;
    assert!(found.body.contains(r#"TotalItemsInView="1""#), "{}", found.body);
    assert_eq!(texts(&found.body, "t:Value"), ["activity-1"]);
    let item = &ews.items(ALICE, "inbox").await.unwrap()[0];
    let update = envelope(
        None,
        &format!(
            "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\" MessageDisposition=\"SaveOnly\"><m:ItemChanges>\
             <t:ItemChange><t:ItemId Id=\"{}\"/><t:Updates><t:SetItemField>{CRM_ID}<t:Message><t:ExtendedProperty>\
             {CRM_ID}<t:Value>activity-2</t:Value></t:ExtendedProperty></t:Message></t:SetItemField></t:Updates>\
             </t:ItemChange></m:ItemChanges></m:UpdateItem>",
            item.id
        ),
    );
    assert!(soap(&ews, ALICE, PW, &update).await.body.contains("NoError"));
    assert!(soap(&ews, ALICE, PW, &find("activity-1")).await.body.contains(r#"TotalItemsInView="0""#));
    let item = &ews.items(ALICE, "inbox").await.unwrap()[0];
    assert_eq!(item.extended.values().collect::<Vec<_>>(), ["activity-2"]);
    ews.assert_no_invalid_requests();
}
