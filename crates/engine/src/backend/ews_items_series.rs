//! A CRM appointment's moved and cancelled occurrences written to its
//! Exchange recurring master: an EXDATE (or a cancelled override) deletes
//! that occurrence, a RECURRENCE-ID override moves it. Exchange keeps these
//! on the occurrences, not in the master, so each is found by a
//! CalendarView at its original start (or by its ItemId, when Exchange
//! already lists it among the ModifiedOccurrences) and changed there.
//! Overrides removed in the CRM are not undone on Exchange.

use crmsync_core::act::item::EventItem;
use crmsync_protocols::ProtocolError;
use crmsync_protocols::ews::{
    BaseShape, CalendarItem, ConflictResolution, DeleteItem, DeleteType, DistinguishedFolder, EwsClient,
    FindItem, FolderRef, GetItem, Item, ItemChange, ItemId, ItemShape, PropertyPath, SendMeeting, Update,
    UpdateItem, View,
};

use super::ews_items_convert::{ConvertError, to_ews_time};

type Res<T> = std::result::Result<T, ProtocolError>;

fn utc(s: &str) -> Option<String> {
    let d = chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?;
    Some(d.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

async fn master(client: &EwsClient, id: &str) -> Res<Option<CalendarItem>> {
    let req = GetItem {
        shape: ItemShape { base: BaseShape::AllProperties, ..Default::default() },
        ids: vec![ItemId::new(id)],
    };
    Ok(match client.get_items(&req).await?.into_iter().next() {
        Some(Ok(Item::CalendarItem(c))) => Some(c),
        _ => None,
    })
}

/// The occurrence of the series `uid` that starts at `at` (UTC), by CalendarView.
async fn occurrence_at(client: &EwsClient, uid: Option<&str>, at: &str) -> Res<Option<ItemId>> {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) else { return Ok(None) };
    let end = (t + chrono::Duration::seconds(1)).with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ");
    let req = FindItem {
        shape: ItemShape {
            base: BaseShape::IdOnly,
            additional: ["calendar:Start", "calendar:UID", "calendar:CalendarItemType"]
                .iter()
                .map(|f| PropertyPath::field(*f))
                .collect(),
            ..Default::default()
        },
        view: View::Calendar { start: at.to_string(), end: end.to_string(), max: Some(50) },
        restriction: None,
        folder: FolderRef::from(DistinguishedFolder::Calendar),
    };
    let found = client.find_items(&req).await?;
    Ok(found.items.into_iter().find_map(|i| match i {
        Item::CalendarItem(c)
            if c.calendar_item_type.as_deref() != Some("Single")
                && c.start.as_deref().and_then(utc).as_deref() == Some(at)
                && (uid.is_none() || c.uid.is_none() || c.uid.as_deref() == uid) =>
        {
            c.common.item_id
        }
        _ => None,
    }))
}

/// Writes `e`'s EXDATEs and overrides to the master `id`. Returns whether
/// anything changed (the master then has a new ChangeKey). `send` is how
/// attendees hear of a deleted occurrence.
pub(crate) async fn apply(
    client: &EwsClient,
    id: &str,
    e: &EventItem,
    send: impl Fn(&CalendarItem) -> SendMeeting,
) -> Res<bool> {
    if e.rrule.is_none() || (e.exdates.is_empty() && e.overrides.is_empty()) {
        return Ok(false);
    }
    let Some(m) = master(client, id).await? else { return Ok(false) };
    let zone = e.time_zone.as_deref();
    let conv = |t: &str| -> Option<String> { to_ews_time(t, zone).map_err(|ConvertError(_)| ()).ok() };
    let deleted: Vec<String> = m.deleted_occurrences.iter().filter_map(|s| utc(s)).collect();
    let modified: Vec<(String, &crmsync_protocols::ews::Occurrence)> =
        m.modified_occurrences.iter().filter_map(|o| Some((utc(o.original_start.as_deref()?)?, o))).collect();
    let find = async |rid: &str| -> Res<Option<ItemId>> {
        if let Some((_, o)) = modified.iter().find(|(r, _)| r == rid)
            && let Some(i) = &o.item_id
        {
            return Ok(Some(ItemId::new(i.id.clone())));
        }
        occurrence_at(client, m.uid.as_deref(), rid).await
    };
    let mut changed = false;
    let cancelled = e
        .exdates
        .iter()
        .cloned()
        .chain(e.overrides.iter().filter(|o| o.cancelled).map(|o| o.recurrence_id.clone()));
    for x in cancelled {
        let Some(rid) = conv(&x) else { continue };
        if deleted.contains(&rid) {
            continue;
        }
        let Some(occ) = find(&rid).await? else { continue };
        let req = DeleteItem {
            delete_type: DeleteType::MoveToDeletedItems,
            send_cancellations: Some(send(&m)),
            all_task_occurrences: false,
            ids: vec![occ],
        };
        if let Some(Err(err)) = client.delete_items(&req).await?.into_iter().next() {
            tracing::warn!(uid = %e.uid, "occurrence {rid} not deleted: {err}");
        } else {
            changed = true;
        }
    }
    for o in e.overrides.iter().filter(|o| !o.cancelled) {
        let (Some(rid), Some(start), Some(end)) = (conv(&o.recurrence_id), conv(&o.start), conv(&o.end))
        else {
            continue;
        };
        let same = modified.iter().any(|(r, x)| {
            r == &rid
                && x.start.as_deref().and_then(utc) == Some(start.clone())
                && x.end.as_deref().and_then(utc) == Some(end.clone())
        });
        if same || deleted.contains(&rid) {
            continue;
        }
        let Some(occ) = find(&rid).await? else { continue };
        let cal = |f: &dyn Fn(&mut CalendarItem)| {
            let mut x = CalendarItem::default();
            f(&mut x);
            Item::CalendarItem(x)
        };
        let mut updates = vec![
            Update::Set {
                path: PropertyPath::field("calendar:Start"),
                item: cal(&|x| x.start = Some(start.clone())),
            },
            Update::Set {
                path: PropertyPath::field("calendar:End"),
                item: cal(&|x| x.end = Some(end.clone())),
            },
        ];
        if let Some(s) = &o.summary {
            updates.push(Update::Set {
                path: PropertyPath::field("item:Subject"),
                item: cal(&|x| x.common.subject = Some(s.clone())),
            });
        }
        if let Some(l) = &o.location {
            updates.push(Update::Set {
                path: PropertyPath::field("calendar:Location"),
                item: cal(&|x| x.location = Some(l.clone())),
            });
        }
        let req = UpdateItem {
            conflict: ConflictResolution::AutoResolve,
            disposition: None,
            send_meeting: Some(SendMeeting::None),
            changes: vec![ItemChange { id: occ, updates }],
        };
        if let Some(Err(err)) = client.update_items(&req).await?.into_iter().next() {
            tracing::warn!(uid = %e.uid, "occurrence {rid} not moved: {err}");
        } else {
            changed = true;
        }
    }
    Ok(changed)
}

/// The master's current ItemId and ChangeKey.
pub(crate) async fn current_id(client: &EwsClient, id: &str) -> Res<Option<ItemId>> {
    let req = GetItem {
        shape: ItemShape { base: BaseShape::IdOnly, ..Default::default() },
        ids: vec![ItemId::new(id)],
    };
    Ok(match client.get_items(&req).await?.into_iter().next() {
        Some(Ok(i)) => i.id().cloned(),
        _ => None,
    })
}
