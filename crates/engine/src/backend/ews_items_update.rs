//! The UpdateItem changes that make an Exchange item say what crmsync
//! syncs: one SetItemField per field crmsync carries that has a value, one
//! DeleteItemField per such field that is empty. Fields crmsync does not
//! carry (categories, reminders, extra e-mail slots, …) are left alone.

use crmsync_protocols::ews::{
    CalendarItem, Contact, Entry, Item, ItemCommon, PhysicalAddress, PropertyPath, Task, Update,
};

/// Reads one part of an address.
type Part = fn(&PhysicalAddress) -> Option<String>;
/// Writes one part of an address.
type SetPart = fn(&mut PhysicalAddress, Option<String>);

fn field(uri: &str) -> PropertyPath {
    PropertyPath::field(uri)
}

fn indexed(uri: &str, index: &str) -> PropertyPath {
    PropertyPath::Indexed { uri: uri.into(), index: index.into() }
}

/// Set when `has`, else Delete.
fn set_or_delete(out: &mut Vec<Update>, path: PropertyPath, has: bool, item: impl FnOnce() -> Item) {
    out.push(if has { Update::Set { path, item: item() } } else { Update::Delete { path } });
}

fn common_updates(out: &mut Vec<Update>, c: &ItemCommon, wrap: &dyn Fn(ItemCommon) -> Item) {
    out.push(Update::Set {
        path: field("item:Subject"),
        item: wrap(ItemCommon { subject: c.subject.clone(), ..Default::default() }),
    });
    set_or_delete(out, field("item:Body"), c.body.is_some(), || {
        wrap(ItemCommon { body: c.body.clone(), ..Default::default() })
    });
}

fn calendar(c: &CalendarItem) -> Vec<Update> {
    let mut out = Vec::new();
    let cal = |f: &dyn Fn(&mut CalendarItem)| {
        let mut x = CalendarItem::default();
        f(&mut x);
        Item::CalendarItem(x)
    };
    common_updates(&mut out, &c.common, &|common| {
        Item::CalendarItem(CalendarItem { common, ..Default::default() })
    });
    out.push(Update::Set { path: field("calendar:Start"), item: cal(&|x| x.start = c.start.clone()) });
    out.push(Update::Set { path: field("calendar:End"), item: cal(&|x| x.end = c.end.clone()) });
    out.push(Update::Set {
        path: field("calendar:IsAllDayEvent"),
        item: cal(&|x| x.is_all_day = c.is_all_day),
    });
    set_or_delete(&mut out, field("calendar:Location"), c.location.is_some(), || {
        cal(&|x| x.location = c.location.clone())
    });
    set_or_delete(&mut out, field("calendar:RequiredAttendees"), !c.required_attendees.is_empty(), || {
        cal(&|x| x.required_attendees = c.required_attendees.clone())
    });
    set_or_delete(&mut out, field("calendar:OptionalAttendees"), !c.optional_attendees.is_empty(), || {
        cal(&|x| x.optional_attendees = c.optional_attendees.clone())
    });
    set_or_delete(&mut out, field("calendar:Recurrence"), c.recurrence.is_some(), || {
        cal(&|x| x.recurrence = c.recurrence.clone())
    });
    out
}

fn contact(c: &Contact) -> Vec<Update> {
    let mut out = Vec::new();
    let con = |f: &dyn Fn(&mut Contact)| {
        let mut x = Contact::default();
        f(&mut x);
        Item::Contact(x)
    };
    out.push(Update::Set { path: field("contacts:FileAs"), item: con(&|x| x.file_as = c.file_as.clone()) });
    out.push(Update::Set {
        path: field("contacts:DisplayName"),
        item: con(&|x| x.display_name = c.display_name.clone()),
    });
    set_or_delete(&mut out, field("contacts:GivenName"), c.given_name.is_some(), || {
        con(&|x| x.given_name = c.given_name.clone())
    });
    set_or_delete(&mut out, field("contacts:Surname"), c.surname.is_some(), || {
        con(&|x| x.surname = c.surname.clone())
    });
    set_or_delete(&mut out, field("contacts:CompanyName"), c.company_name.is_some(), || {
        con(&|x| x.company_name = c.company_name.clone())
    });
    for slot in ["EmailAddress1", "EmailAddress2", "EmailAddress3"] {
        let e = c.email_addresses.iter().find(|e| e.key == slot);
        set_or_delete(&mut out, indexed("contacts:EmailAddress", slot), e.is_some(), || {
            con(&|x| x.email_addresses = e.cloned().into_iter().collect())
        });
    }
    for slot in ["BusinessPhone", "MobilePhone"] {
        let e = c.phone_numbers.iter().find(|e| e.key == slot);
        set_or_delete(&mut out, indexed("contacts:PhoneNumber", slot), e.is_some(), || {
            con(&|x| {
                x.phone_numbers =
                    vec![Entry { key: slot.into(), value: e.map(|e| e.value.clone()).unwrap_or_default() }]
            })
        });
    }
    let a = c.physical_addresses.iter().find(|a| a.key == "Business");
    let parts: [(&str, Part, SetPart); 5] = [
        ("Street", |a| a.street.clone(), |a, v| a.street = v),
        ("City", |a| a.city.clone(), |a, v| a.city = v),
        ("State", |a| a.state.clone(), |a, v| a.state = v),
        ("CountryOrRegion", |a| a.country.clone(), |a, v| a.country = v),
        ("PostalCode", |a| a.postal_code.clone(), |a, v| a.postal_code = v),
    ];
    for (name, get, put) in parts {
        let v = a.and_then(get);
        set_or_delete(
            &mut out,
            indexed(&format!("contacts:PhysicalAddress:{name}"), "Business"),
            v.is_some(),
            || {
                let mut entry = PhysicalAddress { key: "Business".into(), ..Default::default() };
                put(&mut entry, v.clone());
                con(&|x| x.physical_addresses = vec![entry.clone()])
            },
        );
    }
    out
}

fn task(t: &Task) -> Vec<Update> {
    let mut out = Vec::new();
    let tk = |f: &dyn Fn(&mut Task)| {
        let mut x = Task::default();
        f(&mut x);
        Item::Task(x)
    };
    common_updates(&mut out, &t.common, &|common| Item::Task(Task { common, ..Default::default() }));
    out.push(Update::Set {
        path: field("item:Importance"),
        item: Item::Task(Task {
            common: ItemCommon { importance: t.common.importance.clone(), ..Default::default() },
            ..Default::default()
        }),
    });
    set_or_delete(&mut out, field("task:DueDate"), t.due_date.is_some(), || {
        tk(&|x| x.due_date = t.due_date.clone())
    });
    out.push(Update::Set {
        path: field("task:PercentComplete"),
        item: tk(&|x| x.percent_complete = t.percent_complete),
    });
    out.push(Update::Set { path: field("task:Status"), item: tk(&|x| x.status = t.status.clone()) });
    out
}

/// The changes that give an existing item the fields of `item` (as
/// [`super::ews_items_convert`] builds it).
pub(crate) fn updates_for(item: &Item) -> Vec<Update> {
    match item {
        Item::CalendarItem(c) => calendar(c),
        Item::Contact(c) => contact(c),
        Item::Task(t) => task(t),
        _ => vec![],
    }
}
