//! EWS wire tests without a network: every recorded answer in the shared
//! corpus (`shared/fixtures/ews`, Microsoft's documented examples and a real
//! gromox conversation) is read without panic, representative ones give the
//! typed results the engine relies on, and every request the writers produce
//! passes the EWS schema (`xmllint`) and matches the recorded request of the
//! same operation element for element (prefixes ignored).

use std::path::{Path, PathBuf};
use std::process::Command;

use crmsync_core::ErrorClass;
use crmsync_protocols::ews::errors::{Context, fault_error, response_error};
use crmsync_protocols::ews::response::{self, WireError};
use crmsync_protocols::ews::xml::{self, Element, NS_SOAP};
use crmsync_protocols::ews::*;

fn fixtures() -> PathBuf {
    if let Some(p) = std::env::var_os("CRMSYNC_FIXTURES") {
        return PathBuf::from(p).join("ews");
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/ews"))
        .find(|d| d.is_dir())
        .expect("the shared EWS fixtures (shared/fixtures/ews beside the checkout)")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn answer(rel: &str) -> response::Answer {
    response::parse(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const MIME_LIMIT: u64 = 25 << 20;

fn cx(op: &'static str) -> Context<'static> {
    Context { host: "mail.contoso.com", port: 443, operation: op, folder: Some("inbox") }
}

#[test]
fn every_recorded_answer_is_read_without_panic_and_every_soap_answer_parses() {
    let mut seen = 0;
    for sub in ["docs", "gromox"] {
        let mut files: Vec<_> =
            std::fs::read_dir(fixtures().join(sub)).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files.iter().filter(|p| p.to_string_lossy().ends_with(".response.xml")) {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let doc = std::fs::read_to_string(path).unwrap();
            seen += 1;
            if name.contains("autodiscover") {
                let a = autodiscover::parse_answer(&doc);
                assert!(a.is_ok(), "{name}: {a:?}");
                continue;
            }
            match response::parse(&doc) {
                Ok(a) => {
                    assert!(!a.messages.is_empty(), "{name}: no response messages");
                    for m in &a.messages {
                        let _ = response::items(m, MIME_LIMIT);
                        let _ = response::folders(m);
                        let _ = response::found_items(m, MIME_LIMIT);
                        if a.operation == "SyncFolderItemsResponse" && m.error.is_none() {
                            response::sync_page(m, MIME_LIMIT).unwrap_or_else(|e| panic!("{name}: {e}"));
                        }
                    }
                }
                Err(WireError::Fault(f)) => {
                    assert!(name.contains("soapfault"), "{name}: unexpected fault {f:?}")
                }
                // GetEvents and Subscribe answers are read too: they are SOAP with response messages.
                Err(WireError::Malformed(e)) => panic!("{name}: {e}"),
            }
        }
    }
    assert!(seen > 90, "only {seen} answers found");
}

#[test]
fn an_incremental_sync_gives_creates_updates_deletes_and_read_flag_changes_with_the_paging_flag() {
    let a = answer("docs/syncfolderitems-incremental.response.xml");
    let page = response::sync_page(&a.messages[0], MIME_LIMIT).unwrap();
    assert_eq!(page.sync_state, "H4sIAAAAAAAEAO29B2AcSZY==");
    assert!(page.last_page);
    let changes: Vec<_> = page.changes.into_iter().map(Result::unwrap).collect();
    assert_eq!(changes.len(), 5);
    let SyncChange::Update(Item::Message(m)) = &changes[0] else { panic!("{:?}", changes[0]) };
    assert_eq!(m.common.subject.as_deref(), Some("RE: Company Soccer Team"));
    assert_eq!(
        m.common.item_id.as_ref().unwrap().change_key.as_deref(),
        Some("CQAAABYAAADZGACZQpSgSpyNkexYe2b7AAAAird/")
    );
    assert_eq!(
        m.internet_message_id.as_deref(),
        Some("&lt;e5919a09c8fc4d64b6ffd3542e194fc3@BY2SR01MB609.contoso.com&gt;")
    );
    assert!(m.common.conversation_id.as_deref().unwrap().starts_with("AAQkADkzNjJj"));
    assert!(m.conversation_index.as_deref().unwrap().starts_with("AQHM5V/Z"));
    assert_eq!(m.from.as_ref().unwrap().email.as_deref(), Some("Alfred.Welker@contoso.com"));
    assert!(matches!(&changes[1], SyncChange::Create(Item::Message(_))));
    assert!(matches!(&changes[2], SyncChange::Create(Item::Message(_))));
    assert_eq!(
        changes[3],
        SyncChange::ReadFlagChange { id: ItemId::with_change_key(" q07AAAAA==", "CQAAAA=="), is_read: true }
    );
    assert_eq!(changes[4], SyncChange::Delete(ItemId::with_change_key(" q1AwAAAA==", "CQAAAA==")));

    // The gromox inbox, one change per page: the first page says more follow.
    let p1 = response::sync_page(
        &answer("gromox/015-syncfolderitems-inbox-initial-page1.response.xml").messages[0],
        MIME_LIMIT,
    )
    .unwrap();
    assert!(!p1.last_page, "page 1 of 2");
    assert_eq!(p1.changes.len(), 1);
    let p2 = response::sync_page(
        &answer("gromox/016-syncfolderitems-inbox-initial-page2.response.xml").messages[0],
        MIME_LIMIT,
    )
    .unwrap();
    assert!(p2.last_page);
    assert_ne!(p1.sync_state, p2.sync_state);
}

#[test]
fn mime_content_is_base64_decoded_and_bounded() {
    let a = answer("gromox/025-getitem-message-mimecontent.response.xml");
    let items = response::items(&a.messages[0], MIME_LIMIT);
    let Ok(Item::Message(m)) = &items[0] else { panic!("{items:?}") };
    let mime = String::from_utf8_lossy(m.common.mime_content.as_ref().unwrap()).to_string();
    assert!(mime.contains("Subject:"), "{mime}");
    let small = response::items(&a.messages[0], 16);
    assert!(
        matches!(small[0], Err(parse_item::ItemError::TooLarge { limit: 16, .. })),
        "a message over the bound is refused before decoding: {small:?}"
    );
}

#[test]
fn a_recurring_master_carries_its_pattern_and_its_modified_and_deleted_occurrences() {
    let a = answer("gromox/017-getitem-calendar-master.response.xml");
    let items = response::items(&a.messages[0], MIME_LIMIT);
    let Ok(Item::CalendarItem(c)) = &items[0] else { panic!("{items:?}") };
    assert_eq!(c.calendar_item_type.as_deref(), Some("RecurringMaster"));
    let r = c.recurrence.as_ref().unwrap();
    assert!(matches!(&r.pattern, RecurrencePattern::Weekly { interval: 1, days, .. } if days == "Tuesday"));
    assert!(matches!(&r.range, RecurrenceRange::Numbered { count: 5, .. }));
    assert_eq!(c.modified_occurrences.len(), 1);
    assert_eq!(c.modified_occurrences[0].start.as_deref(), Some("2026-12-08T10:00:00.000000Z"));
    assert_eq!(c.modified_occurrences[0].original_start.as_deref(), Some("2026-12-07T23:00:00.000000Z"));
    assert!(c.modified_occurrences[0].item_id.is_some());
    assert_eq!(c.deleted_occurrences, vec!["2026-12-22T09:00:00.000000Z".to_string()]);
    assert!(c.start_time_zone.is_some(), "time zone read");
}

#[test]
fn server_busy_carries_its_backoff_and_is_transient() {
    // Written from Microsoft's "EWS throttling in Exchange" (table 4): the
    // back-off comes in MessageXml. No recorded example exists (SOURCES.md).
    let doc = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
      <m:FindItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
      <m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Error">
        <m:MessageText>The server cannot service this request right now. Try again later.</m:MessageText>
        <m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>
        <m:MessageXml><t:Value Name="BackOffMilliseconds">297749</t:Value></m:MessageXml>
      </m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse></s:Body></s:Envelope>"#;
    let a = response::parse(doc).unwrap();
    let e = a.messages[0].error.clone().unwrap();
    assert_eq!(e.backoff_ms, Some(297_749));
    let err = response_error(&cx("FindItem"), &e, None);
    assert_eq!(err.code(), "THROTTLED");
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(298)), "297749 ms, rounded up");

    // The same as a SOAP fault (how Exchange 2013+ throttles a whole request).
    let fault = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>
      <faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:ErrorServerBusy</faultcode>
      <faultstring xml:lang="en-US">The server cannot service this request right now. Try again later.</faultstring>
      <detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">ErrorServerBusy</e:ResponseCode>
      <e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">The server cannot service this request right now. Try again later.</e:Message>
      <t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="BackOffMilliseconds">5000</t:Value></t:MessageXml>
      </detail></s:Fault></s:Body></s:Envelope>"#;
    let Err(WireError::Fault(f)) = response::parse(fault) else { panic!() };
    let err = fault_error(&cx("SyncFolderItems"), &f);
    assert_eq!((err.code(), err.retry_after()), ("THROTTLED", Some(std::time::Duration::from_secs(5))));

    // gromox: the third message of a batch is busy, without a back-off.
    let a = answer("gromox/054-getitem-batch-over-limit-serverbusy.response.xml");
    assert!(a.messages[0].error.is_none() && a.messages[1].error.is_none());
    let e = a.messages[2].error.clone().unwrap();
    let err = response_error(&cx("GetItem"), &e, Some("id3"));
    assert_eq!((err.code(), err.retry_after()), ("SERVER_BUSY", None));
}

#[test]
fn a_vanished_item_fails_alone() {
    let a = answer("docs/getitem-batch-partial-itemnotfound.response.xml");
    let errs: Vec<_> = a.messages.iter().filter_map(|m| m.error.clone()).collect();
    assert_eq!(errs.len(), 1, "one of the batch is gone");
    assert!(a.messages.iter().any(|m| m.error.is_none()), "the others are there");
    let err = response_error(&cx("GetItem"), &errs[0], Some("AAMk-gone"));
    assert_eq!(err.code(), "ITEM_NOT_FOUND");
    assert_eq!(err.class(), ErrorClass::Item);
    assert!(err.to_string().contains("AAMk-gone"), "{err}");
    let g = answer("gromox/041-getitem-deleted-item.response.xml");
    assert_eq!(g.messages[0].error.as_ref().unwrap().code, "ErrorItemNotFound");
}

#[test]
fn an_invalid_sync_state_asks_for_a_full_resync() {
    let a = answer("docs/syncfolderitems-error-invalidsyncstatedata.response.xml");
    let e = a.messages[0].error.clone().unwrap();
    let err = response_error(&cx("SyncFolderItems"), &e, None);
    assert_eq!(err.code(), "RESYNC_REQUIRED");
    assert!(err.is_resync_required());
    assert!(err.to_string().contains("inbox"), "{err}");
}

#[test]
fn a_schema_fault_names_the_element_and_the_line() {
    let Err(WireError::Fault(f)) =
        response::parse(&read("docs/updateitem-contact-error-schemavalidation-soapfault.response.xml"))
    else {
        panic!("a fault")
    };
    assert_eq!((f.line, f.position), (Some(17), Some(19)));
    let err = fault_error(&cx("UpdateItem"), &f);
    assert_eq!(err.code(), "EWS_SCHEMA_ERROR");
    let msg = err.to_string();
    assert!(
        msg.contains("'Key' attribute") && msg.contains("EmailAddress4") && msg.contains("line 17"),
        "{msg}"
    );
}

#[test]
fn access_and_impersonation_refusals_are_permanent_with_a_hint() {
    for (code, want) in [
        ("ErrorAccessDenied", "EWS_ACCESS_DENIED"),
        ("ErrorImpersonateUserDenied", "EWS_IMPERSONATION_DENIED"),
    ] {
        let e = response::ResponseError { code: code.into(), text: "denied".into(), ..Default::default() };
        let err = response_error(&cx("GetFolder"), &e, None);
        assert_eq!(err.code(), want);
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert!(err.to_string().contains(code), "{err}");
    }
    let e = response::ResponseError { code: "ErrorImpersonateUserDenied".into(), ..Default::default() };
    assert!(response_error(&cx("GetFolder"), &e, None).to_string().contains("ApplicationImpersonation"));
    let e = response::ResponseError { code: "ErrorIrresolvableConflict".into(), ..Default::default() };
    let err = response_error(&cx("UpdateItem"), &e, Some("x"));
    assert_eq!((err.code(), err.class()), ("ITEM_CONFLICT", ErrorClass::Item));
    assert!(err.is_conflict());
}

#[test]
fn autodiscover_answers_give_the_ews_url_or_a_redirect() {
    assert_eq!(
        autodiscover::parse_answer(&read("docs/autodiscover-pox-redirectaddr.response.xml")).unwrap(),
        autodiscover::PoxAnswer::RedirectAddr("elvin@mail.contoso.com".into())
    );
    assert_eq!(
        autodiscover::parse_answer(&read("docs/autodiscover-pox.response.xml")).unwrap(),
        autodiscover::PoxAnswer::Settings {
            ews_url: "https://mail.contoso.com/ews/exchange.asmx".into(),
            protocol: "EXPR".into()
        }
    );
    assert_eq!(
        autodiscover::parse_answer(&read("gromox/049-autodiscover-pox.response.xml")).unwrap(),
        autodiscover::PoxAnswer::Settings {
            ews_url: "https://vm/EWS/Exchange.asmx".into(),
            protocol: "EXCH".into()
        }
    );
    assert!(matches!(
        autodiscover::parse_answer(&read("docs/autodiscover-pox-error.response.xml")).unwrap(),
        autodiscover::PoxAnswer::Error { code, .. } if code == "600"
    ));
}

#[test]
fn folders_are_read_from_get_folder_and_find_folder() {
    let a = answer("docs/getfolder.response.xml");
    let f = &response::folders(&a.messages[0])[0];
    assert_eq!((f.display_name.as_deref(), f.total_count, f.unread_count), (Some("Inbox"), Some(2), Some(2)));
    let g = answer("gromox/002-findfolder-msgfolderroot-deep.response.xml");
    let all = response::folders(&g.messages[0]);
    assert!(all.iter().any(|f| f.folder_class.as_deref() == Some("IPF.Appointment")), "{all:?}");
}

// ---- requests ----------------------------------------------------------

/// The schema folder, usable by xmllint. `types.xsd` and `messages.xsd` are
/// symbolic links to `Types.xsd` and `Messages.xsd`; where a copy of the
/// corpus turned a link into a small file holding the target's name, a
/// private copy of the folder gets real files in their place.
fn schema_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<(Option<tempfile::TempDir>, PathBuf)> = std::sync::OnceLock::new();
    let (_, dir) = DIR.get_or_init(|| {
        let src = fixtures().join("schema");
        let broken = |f: &str| std::fs::read(src.join(f)).map(|b| b.len() < 64).unwrap_or(true);
        if !broken("types.xsd") && !broken("messages.xsd") {
            return (None, src);
        }
        let tmp = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(&src).unwrap().flatten() {
            std::fs::copy(e.path(), tmp.path().join(e.file_name())).unwrap();
        }
        for (link, target) in [("types.xsd", "Types.xsd"), ("messages.xsd", "Messages.xsd")] {
            let dst = tmp.path().join(link);
            let _ = std::fs::remove_file(&dst);
            std::fs::copy(src.join(target), dst).unwrap();
        }
        let path = tmp.path().to_path_buf();
        (Some(tmp), path)
    });
    dir
}

/// Validates `doc` against the EWS schema with xmllint; the error is xmllint's message.
fn schema_check(name: &str, doc: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.xml"));
    std::fs::write(&file, doc).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema_dir().join("ews-validate.xsd"))
        .arg(&file)
        .output()
        .expect("xmllint (package libxml2-utils; scripts/install-deps.sh installs it)");
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// An element tree without prefixes or whitespace: (ns, name, sorted attrs, text, children).
fn canon(e: &Element) -> String {
    let mut attrs = e.attrs.clone();
    attrs.sort();
    let kids: Vec<String> = e.children.iter().map(canon).collect();
    format!("{{{}}}{}{:?}[{}]({})", e.ns, e.name, attrs, e.text.trim(), kids.join(","))
}

fn body_of(doc: &str) -> Element {
    let root = xml::parse(doc).unwrap();
    root.child(NS_SOAP, "Body").unwrap().children[0].clone()
}

fn header(version: ServerVersion) -> Header {
    Header { version, impersonate: None }
}

fn ids(list: &[&str]) -> Vec<ItemId> {
    list.iter().map(|i| ItemId::new(*i)).collect()
}

fn requests() -> Vec<(&'static str, String, Option<&'static str>)> {
    let h10 = Header::default();
    let h16 = header(ServerVersion::Exchange2016);
    let g017 = [
        "calendar:UID",
        "calendar:RequiredAttendees",
        "calendar:OptionalAttendees",
        "calendar:Recurrence",
        "calendar:ModifiedOccurrences",
        "calendar:DeletedOccurrences",
        "calendar:FirstOccurrence",
        "calendar:LastOccurrence",
        "calendar:StartTimeZone",
        "calendar:EndTimeZone",
    ];
    let master_id =
        "AAAAANCAPkInzbpNiaGPqSuFxw0HAAEAAAClGHtvvNzqHtA8VlcAAAAAAA8AAAEAAAClGHtvvNzqHtA8VlcAAAAJAAAAAAM=";
    let mut v: Vec<(&'static str, String, Option<&'static str>)> = vec![
        (
            "getfolder-distinguished",
            envelope(
                &h16,
                &GetFolder {
                    shape: BaseShape::Default,
                    folders: [
                        DistinguishedFolder::Inbox,
                        DistinguishedFolder::Calendar,
                        DistinguishedFolder::Contacts,
                        DistinguishedFolder::Tasks,
                    ]
                    .into_iter()
                    .map(FolderRef::from)
                    .collect(),
                },
            ),
            Some("gromox/001-getfolder-distinguished.request.xml"),
        ),
        (
            "getfolder-all-distinguished-and-other-mailbox",
            envelope(
                &h10,
                &GetFolder {
                    shape: BaseShape::IdOnly,
                    folders: vec![
                        DistinguishedFolder::SentItems.into(),
                        DistinguishedFolder::DeletedItems.into(),
                        DistinguishedFolder::MsgFolderRoot.into(),
                        FolderRef::Distinguished(DistinguishedFolder::Inbox, Some("bob@contoso.com".into())),
                        FolderRef::Id(FolderId { id: "AQMk".into(), change_key: Some("AQAA".into()) }),
                    ],
                },
            ),
            None,
        ),
        (
            "findfolder-deep",
            envelope(
                &h16,
                &FindFolder {
                    traversal: Traversal::Deep,
                    shape: BaseShape::Default,
                    additional: vec![
                        PropertyPath::field("folder:FolderClass"),
                        PropertyPath::field("folder:ParentFolderId"),
                    ],
                    parent: DistinguishedFolder::MsgFolderRoot.into(),
                },
            ),
            Some("gromox/002-findfolder-msgfolderroot-deep.request.xml"),
        ),
        (
            "createfolder-calendar",
            envelope(
                &h10,
                &CreateFolder {
                    parent: DistinguishedFolder::MsgFolderRoot.into(),
                    kind: FolderKind::Calendar,
                    display_name: "CRM & Co".into(),
                },
            ),
            None,
        ),
        (
            "syncfolderitems-inbox-idonly-page",
            envelope(
                &h16,
                &SyncFolderItems {
                    shape: ItemShape::default(),
                    folder: DistinguishedFolder::Inbox.into(),
                    sync_state: None,
                    max_changes: 1,
                    normal_items_scope: false,
                },
            ),
            Some("gromox/015-syncfolderitems-inbox-initial-page1.request.xml"),
        ),
        (
            "syncfolderitems-incremental-allproperties",
            envelope(
                &h10,
                &SyncFolderItems {
                    shape: ItemShape { base: BaseShape::AllProperties, ..Default::default() },
                    folder: DistinguishedFolder::Inbox.into(),
                    sync_state: Some("H4sIAAA==".into()),
                    max_changes: 10,
                    normal_items_scope: true,
                },
            ),
            Some("docs/syncfolderitems-incremental.request.xml"),
        ),
        (
            "syncfolderitems-by-folder-id",
            envelope(
                &h16,
                &SyncFolderItems {
                    shape: ItemShape::id_only_with(&["item:Subject", "item:LastModifiedTime"]),
                    folder: FolderRef::Id(FolderId {
                        id: "AAAAANCAPkInzbpNiaGPqSuFxw0BAAEAAAClGHtvvNzqHtA8VlcAAAAAAA8AAAI=".into(),
                        change_key: None,
                    }),
                    sync_state: None,
                    max_changes: 100,
                    normal_items_scope: false,
                },
            ),
            Some("gromox/052-syncfolderitems-by-folderid-initial-idonly.request.xml"),
        ),
        (
            "getitem-mimecontent",
            envelope(
                &header(ServerVersion::Exchange2013),
                &GetItem {
                    shape: ItemShape::mime(),
                    ids: vec![ItemId::with_change_key("AAMkADEzYjJkLTYxMwB8GqYicWAAA=", "CQAAABzXv")],
                },
            ),
            Some("docs/getitem-message-mimecontent.request.xml"),
        ),
        (
            "getitem-calendar-master",
            envelope(
                &h16,
                &GetItem {
                    shape: ItemShape {
                        base: BaseShape::AllProperties,
                        body_type: Some("Text".into()),
                        ..ItemShape::id_only_with(&g017)
                    },
                    ids: ids(&[master_id]),
                },
            ),
            Some("gromox/017-getitem-calendar-master.request.xml"),
        ),
        (
            "getitem-correlation-properties",
            envelope(
                &h10,
                &GetItem {
                    shape: ItemShape::id_only_with(&[
                        "message:InternetMessageId",
                        "item:ConversationId",
                        "message:ConversationIndex",
                        "message:References",
                        "item:InReplyTo",
                    ]),
                    ids: ids(&["AAMk1", "AAMk2"]),
                },
            ),
            None,
        ),
        (
            "finditem-sent-by-message-id",
            envelope(&h10, &FindItem::sent_by_message_id("<abc@crm.contoso.com>")),
            None,
        ),
        (
            "finditem-calendarview",
            envelope(
                &h16,
                &FindItem {
                    shape: ItemShape::id_only_with(&[
                        "item:Subject",
                        "calendar:Start",
                        "calendar:End",
                        "calendar:CalendarItemType",
                    ]),
                    view: View::Calendar {
                        start: "2026-11-30T00:00:00Z".into(),
                        end: "2027-01-31T00:00:00Z".into(),
                        max: Some(50),
                    },
                    restriction: None,
                    folder: DistinguishedFolder::Calendar.into(),
                },
            ),
            Some("gromox/044-finditem-calendarview.request.xml"),
        ),
        (
            "createitem-message-sendandsavecopy",
            envelope(
                &h16,
                &CreateItem {
                    disposition: Some(MessageDisposition::SendAndSaveCopy),
                    send_invitations: None,
                    folder: Some(DistinguishedFolder::SentItems.into()),
                    items: vec![Item::Message(Message {
                        common: ItemCommon {
                            subject: Some("Status update".into()),
                            body: Some(Body { html: false, text: "All green.".into() }),
                            ..Default::default()
                        },
                        to: vec![Mailbox::smtp("bob@example.test")],
                        ..Default::default()
                    })],
                },
            ),
            Some("gromox/053-createitem-message-sendandsavecopy.request.xml"),
        ),
        (
            "createitem-message-mime-saveonly",
            envelope(
                &h10,
                &CreateItem {
                    disposition: Some(MessageDisposition::SaveOnly),
                    send_invitations: None,
                    folder: Some(DistinguishedFolder::Drafts.into()),
                    items: vec![Item::Message(Message {
                        common: ItemCommon {
                            mime_content: Some(b"Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n".to_vec()),
                            ..Default::default()
                        },
                        is_read: Some(true),
                        ..Default::default()
                    })],
                },
            ),
            None,
        ),
        (
            "createitem-calendar-weekly-recurring",
            envelope(
                &h16,
                &CreateItem {
                    disposition: None,
                    send_invitations: Some(SendMeeting::None),
                    folder: Some(DistinguishedFolder::Calendar.into()),
                    items: vec![Item::CalendarItem(CalendarItem {
                        common: ItemCommon {
                            subject: Some("Weekly sync".into()),
                            body: Some(Body {
                                html: false,
                                text: "Agenda: status, blockers, next steps.".into(),
                            }),
                            reminder_is_set: Some(true),
                            reminder_minutes: Some(15),
                            ..Default::default()
                        },
                        start: Some("2026-12-01T09:00:00Z".into()),
                        end: Some("2026-12-01T09:30:00Z".into()),
                        free_busy: Some("Busy".into()),
                        location: Some("Room 1".into()),
                        required_attendees: vec![Attendee {
                            mailbox: Mailbox {
                                name: Some("Bob Example".into()),
                                ..Mailbox::smtp("bob@example.test")
                            },
                            response: None,
                        }],
                        optional_attendees: vec![Attendee {
                            mailbox: Mailbox::smtp("carol@example.test"),
                            response: None,
                        }],
                        recurrence: Some(Recurrence {
                            pattern: RecurrencePattern::Weekly {
                                interval: 1,
                                days: "Tuesday".into(),
                                first_day: None,
                            },
                            range: RecurrenceRange::Numbered { start: "2026-12-01".into(), count: 5 },
                        }),
                        start_time_zone: Some("W. Europe Standard Time".into()),
                        end_time_zone: Some("W. Europe Standard Time".into()),
                        ..Default::default()
                    })],
                },
            ),
            Some("gromox/004-createitem-calendar-weekly-recurring.request.xml"),
        ),
        (
            "createitem-contact",
            envelope(
                &h16,
                &CreateItem {
                    disposition: None,
                    send_invitations: None,
                    folder: Some(DistinguishedFolder::Contacts.into()),
                    items: vec![Item::Contact(Contact {
                        file_as: Some("Doe, Jane".into()),
                        given_name: Some("Jane".into()),
                        company_name: Some("ACME Corp.".into()),
                        email_addresses: vec![Entry {
                            key: "EmailAddress1".into(),
                            value: "jane.doe@acme.test".into(),
                        }],
                        physical_addresses: vec![PhysicalAddress {
                            key: "Business".into(),
                            street: Some("1 Main Street".into()),
                            city: Some("Springfield".into()),
                            state: Some("IL".into()),
                            country: Some("US".into()),
                            postal_code: Some("12345".into()),
                        }],
                        phone_numbers: vec![Entry { key: "MobilePhone".into(), value: "+1 555 0100".into() }],
                        job_title: Some("Engineer".into()),
                        surname: Some("Doe".into()),
                        ..Default::default()
                    })],
                },
            ),
            Some("gromox/008-createitem-contact.request.xml"),
        ),
        (
            "createitem-task",
            envelope(
                &h16,
                &CreateItem {
                    disposition: None,
                    send_invitations: None,
                    folder: Some(DistinguishedFolder::Tasks.into()),
                    items: vec![Item::Task(Task {
                        common: ItemCommon {
                            subject: Some("File quarterly report".into()),
                            body: Some(Body { html: false, text: "Numbers are in the shared sheet.".into() }),
                            ..Default::default()
                        },
                        due_date: Some("2026-12-05T00:00:00Z".into()),
                        percent_complete: Some(25.0),
                        start_date: Some("2026-11-30T00:00:00Z".into()),
                        status: Some("InProgress".into()),
                        ..Default::default()
                    })],
                },
            ),
            Some("gromox/009-createitem-task.request.xml"),
        ),
        (
            "updateitem-isread",
            envelope(
                &h16,
                &UpdateItem::set_read(
                    ItemId::with_change_key(
                        "AAAAANCAPkInzbpNiaGPqSuFxw0HAAEAAAClGHtvvNzqHtA8VlcAAAAAAA0AAAEAAAClGHtvvNzqHtA8VlcAAAADAAAAAAM=",
                        "AQAAAKUYe2+83Ooe0DxWVwAAAAAAIg==",
                    ),
                    true,
                ),
            ),
            Some("gromox/030-updateitem-message-isread.request.xml"),
        ),
        (
            "updateitem-set-delete-append",
            envelope(
                &h10,
                &UpdateItem {
                    conflict: ConflictResolution::NeverOverwrite,
                    disposition: None,
                    send_meeting: Some(SendMeeting::None),
                    changes: vec![
                        ItemChange {
                            id: ItemId::with_change_key("AAMkCal", "DwAAAB"),
                            updates: vec![
                                Update::Set {
                                    path: PropertyPath::field("calendar:Location"),
                                    item: Item::CalendarItem(CalendarItem {
                                        location: Some("Room 2".into()),
                                        ..Default::default()
                                    }),
                                },
                                Update::Delete { path: PropertyPath::field("item:Body") },
                                Update::Append {
                                    path: PropertyPath::field("calendar:RequiredAttendees"),
                                    item: Item::CalendarItem(CalendarItem {
                                        required_attendees: vec![Attendee {
                                            mailbox: Mailbox::smtp("dan@contoso.com"),
                                            response: None,
                                        }],
                                        ..Default::default()
                                    }),
                                },
                            ],
                        },
                        ItemChange {
                            id: ItemId::with_change_key("AAMkCon", "EQAAAB"),
                            updates: vec![Update::Set {
                                path: PropertyPath::Indexed {
                                    uri: "contacts:EmailAddress".into(),
                                    index: "EmailAddress1".into(),
                                },
                                item: Item::Contact(Contact {
                                    email_addresses: vec![Entry {
                                        key: "EmailAddress1".into(),
                                        value: "new@contoso.com".into(),
                                    }],
                                    ..Default::default()
                                }),
                            }],
                        },
                    ],
                },
            ),
            None,
        ),
        (
            "deleteitem-task-hard",
            envelope(
                &h16,
                &DeleteItem {
                    delete_type: DeleteType::HardDelete,
                    send_cancellations: None,
                    all_task_occurrences: true,
                    ids: vec![ItemId::with_change_key(
                        "AAAAANCAPkInzbpNiaGPqSuFxw0HAAEAAAClGHtvvNzqHtA8VlcAAAAAABIAAAEAAAClGHtvvNzqHtA8VlcAAAAMAAAAAAM=",
                        "AQAAAKUYe2+83Ooe0DxWVwAAAAAAIQ==",
                    )],
                },
            ),
            Some("gromox/031-deleteitem-task-harddelete.request.xml"),
        ),
        (
            "deleteitem-meeting-no-cancellations",
            envelope(
                &h10,
                &DeleteItem {
                    delete_type: DeleteType::MoveToDeletedItems,
                    send_cancellations: Some(SendMeeting::None),
                    all_task_occurrences: false,
                    ids: ids(&["AAMkMeeting"]),
                },
            ),
            None,
        ),
        (
            "moveitem-to-deleted",
            envelope(&h10, &MoveItem { to: DistinguishedFolder::DeletedItems.into(), ids: ids(&["AAMk1"]) }),
            None,
        ),
    ];
    v.push((
        "createitem-contact-hostile-text",
        envelope(
            &h10,
            &CreateItem {
                disposition: None,
                send_invitations: None,
                folder: Some(DistinguishedFolder::Contacts.into()),
                items: vec![Item::Contact(Contact {
                    common: ItemCommon {
                        subject: Some("A\u{1}B </t:Subject> & \u{ffff}".into()),
                        ..Default::default()
                    },
                    display_name: Some("Zoë \u{b}\u{0}O'Brien \"Q\"".into()),
                    email_addresses: vec![Entry {
                        key: "EmailAddress1".into(),
                        value: "a\u{7}@b.test".into(),
                    }],
                    ..Default::default()
                })],
            },
        ),
        None,
    ));
    let imp =
        Header { version: ServerVersion::Exchange2013Sp1, impersonate: Some("anna@contoso.com".into()) };
    v.push((
        "impersonated-getfolder",
        envelope(
            &imp,
            &GetFolder { shape: BaseShape::IdOnly, folders: vec![DistinguishedFolder::Inbox.into()] },
        ),
        None,
    ));
    v
}

#[test]
fn every_request_passes_the_ews_schema_and_matches_the_recorded_request() {
    let mut failures = Vec::new();
    for (name, doc, fixture) in requests() {
        if let Err(e) = schema_check(name, &doc) {
            failures.push(format!("{name}: schema: {e}\n{doc}"));
        }
        if let Some(f) = fixture {
            let want = canon(&body_of(&read(f)));
            let got = canon(&body_of(&doc));
            if want != got {
                failures.push(format!("{name}: differs from {f}:\n want {want}\n  got {got}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_schema_check_catches_a_request_out_of_order() {
    // The test would be worthless if xmllint accepted anything.
    let (_, doc, _) = requests().into_iter().find(|r| r.0 == "createitem-task").unwrap();
    let broken = doc
        .replace("<t:Status>InProgress</t:Status>", "")
        .replace("<t:DueDate>", "<t:Status>InProgress</t:Status><t:DueDate>");
    let err = schema_check("broken", &broken).unwrap_err();
    assert!(err.contains("Status") && !err.contains("failed to compile"), "{err}");
}

#[test]
fn the_header_carries_the_version_and_the_impersonated_address() {
    let (_, doc, _) = requests().into_iter().find(|r| r.0 == "impersonated-getfolder").unwrap();
    let root = xml::parse(&doc).unwrap();
    let h = root.child(NS_SOAP, "Header").unwrap();
    assert_eq!(h.children[0].attr("Version"), Some("Exchange2013_SP1"));
    let sid = h.find(xml::NS_T, "SmtpAddress").unwrap();
    assert_eq!(sid.text, "anna@contoso.com");
    let plain = envelope(&Header::default(), &GetFolder { shape: BaseShape::IdOnly, folders: vec![] });
    assert!(plain.contains(r#"Version="Exchange2010_SP2""#) && !plain.contains("ExchangeImpersonation"));
}

#[test]
fn items_read_back_what_the_writers_wrote() {
    let (_, doc, _) = requests().into_iter().find(|r| r.0 == "createitem-calendar-weekly-recurring").unwrap();
    let body = body_of(&doc);
    let items = body.child(xml::NS_M, "Items").unwrap();
    let Item::CalendarItem(c) = parse_item::item(&items.children[0], MIME_LIMIT).unwrap() else { panic!() };
    assert_eq!(c.required_attendees[0].mailbox.email.as_deref(), Some("bob@example.test"));
    assert!(matches!(c.recurrence.unwrap().range, RecurrenceRange::Numbered { count: 5, .. }));
    assert_eq!(c.start_time_zone.as_deref(), Some("W. Europe Standard Time"));
    let (_, doc, _) = requests().into_iter().find(|r| r.0 == "createitem-message-mime-saveonly").unwrap();
    let body = body_of(&doc);
    let Item::Message(m) =
        parse_item::item(&body.child(xml::NS_M, "Items").unwrap().children[0], MIME_LIMIT).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        m.common.mime_content.as_deref(),
        Some(&b"Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n"[..])
    );
}
