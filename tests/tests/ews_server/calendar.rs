//! Recurring calendar items: a master with modified and deleted occurrences,
//! both ways, and CalendarView expansion.

use super::*;

const MASTER: &str = r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <t:Subject>Weekly review</t:Subject>
  <t:Start>2026-12-01T09:00:00Z</t:Start><t:End>2026-12-01T10:00:00Z</t:End>
  <t:Location>Room 1</t:Location>
  <t:Recurrence>
    <t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Tuesday</t:DaysOfWeek></t:WeeklyRecurrence>
    <t:NumberedRecurrence><t:StartDate>2026-12-01</t:StartDate><t:NumberOfOccurrences>5</t:NumberOfOccurrences></t:NumberedRecurrence>
  </t:Recurrence>
  <t:ModifiedOccurrences><t:Occurrence><t:ItemId Id="AAAA"/>
    <t:Start>2026-12-08T10:00:00Z</t:Start><t:End>2026-12-08T11:00:00Z</t:End>
    <t:OriginalStart>2026-12-08T09:00:00Z</t:OriginalStart></t:Occurrence></t:ModifiedOccurrences>
  <t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2026-12-22T09:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences>
</t:CalendarItem>"#;

fn get_item(id_element: &str, shape: &str) -> String {
    envelope(
        None,
        &format!(
            "<m:GetItem><m:ItemShape><t:BaseShape>{shape}</t:BaseShape></m:ItemShape>\
             <m:ItemIds>{id_element}</m:ItemIds></m:GetItem>"
        ),
    )
}

fn calendar_view() -> String {
    envelope(
        None,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>\
         <m:CalendarView StartDate=\"2026-11-30T00:00:00Z\" EndDate=\"2027-01-31T00:00:00Z\"/>\
         <m:ParentFolderIds><t:DistinguishedFolderId Id=\"calendar\"/></m:ParentFolderIds></m:FindItem>",
    )
}

#[tokio::test]
async fn a_recurring_master_keeps_its_modified_and_deleted_occurrences_both_ways() {
    let ews = server_with_alice().await;
    let master = ews.seed_item(ALICE, None, MASTER).await.unwrap();
    let reply =
        soap(&ews, ALICE, PW, &get_item(&format!("<t:ItemId Id=\"{}\"/>", master.id), "AllProperties")).await;
    assert_eq!(texts(&reply.body, "t:CalendarItemType"), ["RecurringMaster"], "{}", reply.body);
    let modified = texts(&reply.body, "t:ModifiedOccurrences");
    assert_eq!(modified.len(), 1);
    assert!(modified[0].contains("<t:Start>2026-12-08T10:00:00Z</t:Start>"), "{modified:?}");
    assert!(modified[0].contains("<t:OriginalStart>2026-12-08T09:00:00Z</t:OriginalStart>"));
    assert_eq!(texts(&reply.body, "t:DeletedOccurrence"), ["<t:Start>2026-12-22T09:00:00Z</t:Start>"]);

    // CalendarView expands the series: 4 of 5 left, the moved one as an Exception.
    let view = soap(&ews, ALICE, PW, &calendar_view()).await;
    assert!(view.body.contains(r#"TotalItemsInView="4""#), "{}", view.body);
    assert_eq!(
        texts(&view.body, "t:CalendarItemType"),
        ["Occurrence", "Exception", "Occurrence", "Occurrence"]
    );
    assert_eq!(texts(&view.body, "t:Start")[1], "2026-12-08T10:00:00Z");

    // The exception's own ItemId (from ModifiedOccurrences) fetches it.
    let exception_id =
        modified[0].split("ItemId Id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let exc =
        soap(&ews, ALICE, PW, &get_item(&format!("<t:ItemId Id=\"{exception_id}\"/>"), "Default")).await;
    assert_eq!(texts(&exc.body, "t:CalendarItemType"), ["Exception"], "{}", exc.body);
    let deleted = format!("<t:OccurrenceItemId RecurringMasterId=\"{}\" InstanceIndex=\"4\"/>", master.id);
    let gone = soap(&ews, ALICE, PW, &get_item(&deleted, "IdOnly")).await;
    assert!(gone.body.contains("ErrorCalendarOccurrenceIsDeletedFromRecurrence"), "{}", gone.body);

    // The client's way: rename occurrence 3, delete occurrence 5; each changes the master.
    let rename = envelope(
        None,
        &format!(
            "<m:UpdateItem ConflictResolution=\"AutoResolve\" SendMeetingInvitationsOrCancellations=\"SendToNone\">\
             <m:ItemChanges><t:ItemChange><t:OccurrenceItemId RecurringMasterId=\"{}\" InstanceIndex=\"3\"/>\
             <t:Updates><t:SetItemField><t:FieldURI FieldURI=\"item:Subject\"/><t:CalendarItem>\
             <t:Subject>Review (moved agenda)</t:Subject></t:CalendarItem></t:SetItemField></t:Updates>\
             </t:ItemChange></m:ItemChanges></m:UpdateItem>",
            master.id
        ),
    );
    assert!(soap(&ews, ALICE, PW, &rename).await.body.contains("NoError"));
    let delete = envelope(
        None,
        &format!(
            "<m:DeleteItem DeleteType=\"MoveToDeletedItems\" SendMeetingCancellations=\"SendToNone\"><m:ItemIds>\
             <t:OccurrenceItemId RecurringMasterId=\"{}\" InstanceIndex=\"5\"/></m:ItemIds></m:DeleteItem>",
            master.id
        ),
    );
    assert!(soap(&ews, ALICE, PW, &delete).await.body.contains("NoError"));
    let after = &ews.items(ALICE, "calendar").await.unwrap()[0];
    assert_ne!(after.change_key, master.change_key, "occurrence changes live in the master");
    let reply =
        soap(&ews, ALICE, PW, &get_item(&format!("<t:ItemId Id=\"{}\"/>", master.id), "AllProperties")).await;
    assert_eq!(texts(&reply.body, "t:DeletedOccurrence").len(), 2, "{}", reply.body);
    assert_eq!(texts(&reply.body, "t:ModifiedOccurrences")[0].matches("<t:Occurrence>").count(), 2);
    let view = soap(&ews, ALICE, PW, &calendar_view()).await;
    assert!(texts(&view.body, "t:Subject").contains(&"Review (moved agenda)".to_string()), "{}", view.body);
    let log = ews.request_log().await.unwrap();
    let del = log.iter().find(|r| r.operation.as_deref() == Some("DeleteItem")).unwrap();
    assert_eq!(del.attributes.get("SendMeetingCancellations").map(String::as_str), Some("SendToNone"));
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn an_occurrence_changed_in_outlook_syncs_as_an_update_of_its_master() {
    let ews = server_with_alice().await;
    let master = ews.seed_item(ALICE, None, MASTER).await.unwrap();
    let sync = |state: Option<&str>| {
        let state = state.map(|s| format!("<m:SyncState>{s}</m:SyncState>")).unwrap_or_default();
        envelope(
            None,
            &format!(
                "<m:SyncFolderItems><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>\
                 <m:SyncFolderId><t:DistinguishedFolderId Id=\"calendar\"/></m:SyncFolderId>{state}\
                 <m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>"
            ),
        )
    };
    let first = soap(&ews, ALICE, PW, &sync(None)).await;
    assert_eq!(change_ids(&first.body, "Create"), std::slice::from_ref(&master.id));
    let state = texts(&first.body, "m:SyncState").pop();
    ews.modify_occurrence(&master.id, 3, serde_json::json!({ "subject": "Review, 3rd floor" }))
        .await
        .unwrap();
    ews.delete_occurrence(&master.id, 5).await.unwrap();
    let next = soap(&ews, ALICE, PW, &sync(state.as_deref())).await;
    assert_eq!(change_ids(&next.body, "Update"), std::slice::from_ref(&master.id), "{}", next.body);
    assert!(change_ids(&next.body, "Create").is_empty());
    assert_eq!(texts(&next.body, "t:DeletedOccurrence").len(), 2);
    ews.assert_no_invalid_requests();
}

#[tokio::test]
async fn calendar_view_expands_a_relative_monthly_series() {
    let ews = server_with_alice().await;
    let master = r#"<t:CalendarItem xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
      <t:Subject>Board meeting</t:Subject>
      <t:Start>2026-12-31T15:00:00Z</t:Start><t:End>2026-12-31T16:00:00Z</t:End>
      <t:Recurrence><t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Thursday</t:DaysOfWeek>
        <t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>
        <t:NoEndRecurrence><t:StartDate>2026-12-01</t:StartDate></t:NoEndRecurrence></t:Recurrence>
    </t:CalendarItem>"#;
    ews.seed_item(ALICE, None, master).await.unwrap();
    let view = soap(&ews, ALICE, PW, &calendar_view()).await;
    assert_eq!(
        texts(&view.body, "t:Start"),
        ["2026-12-31T15:00:00Z", "2027-01-28T15:00:00Z"],
        "{}",
        view.body
    );
    ews.assert_no_invalid_requests();
}
