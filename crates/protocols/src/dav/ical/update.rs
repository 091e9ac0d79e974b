//! Updates of appointments and tasks on the server: the CRM's changes
//! patched into the server's own calendar object, property by property, so
//! everything crmsync does not model stays as the other client wrote it.

use super::*;

fn one_entry(line: &str, comp: &str) -> Option<ICalendarEntry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let probe = format!("BEGIN:VCALENDAR\r\nBEGIN:{comp}\r\n{line}\r\nEND:{comp}\r\nEND:VCALENDAR\r\n");
    let cal = ICalendar::parse(&probe).ok()?;
    cal.components
        .into_iter()
        .find(|c| c.component_type != ICalendarComponentType::VCalendar)?
        .entries
        .into_iter()
        .next()
}

fn clean_name(n: &Option<String>) -> Option<String> {
    n.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The VCALENDAR of a document and its `kind` components: (calendar, master, the others).
fn layout(doc: &Doc, kind: &str) -> Option<(usize, usize, Vec<usize>)> {
    let cal = *doc.children(None, "VCALENDAR").first()?;
    let all = doc.children(Some(cal), kind);
    let master =
        all.iter().copied().find(|c| doc.props(*c, "RECURRENCE-ID").is_empty()).or(all.first().copied())?;
    Some((cal, master, all.into_iter().filter(|c| *c != master).collect()))
}

fn rid_of(doc: &Doc, c: usize) -> Option<String> {
    let i = *doc.props(c, "RECURRENCE-ID").first()?;
    dt_values(&one_entry(doc.text(i), "VEVENT")?).into_iter().next()
}

fn not_a_calendar() -> ItemError {
    ItemError("the server's calendar object cannot be patched: no VCALENDAR with the item".into())
}

/// An update of an appointment on the server: `new` patched into the server's
/// calendar object `raw` (which reads as `old`). Only the properties whose
/// modelled value changed are rewritten (SUMMARY, DESCRIPTION, LOCATION,
/// DTSTART/DTEND, RRULE, EXDATE, STATUS, ORGANIZER, each changed ATTENDEE,
/// the changed fields of each RECURRENCE-ID override, DTSTAMP); every other
/// line — VALARMs, CATEGORIES, ATTACH, X- properties, parameters of untouched
/// attendees, VTIMEZONEs — stays byte-for-byte.
pub fn patch_event(raw: &str, old: &EventItem, new: &EventItem) -> Result<String, ItemError> {
    let mut doc = Doc::parse(raw);
    let fresh = Doc::parse(&write_event(new));
    let (cal, master, others) = layout(&doc, "VEVENT").ok_or_else(not_a_calendar)?;
    let (_, fmaster, fothers) = layout(&fresh, "VEVENT").ok_or_else(not_a_calendar)?;
    let timing = old.start != new.start || old.time_zone != new.time_zone || old.all_day != new.all_day;
    let mut names = Vec::new();
    if old.summary != new.summary {
        names.push("SUMMARY");
    }
    if old.description != new.description {
        names.push("DESCRIPTION");
    }
    if old.location != new.location {
        names.push("LOCATION");
    }
    if timing {
        names.push("DTSTART");
    }
    if timing || old.end != new.end {
        names.extend(["DTEND", "DURATION"]);
    }
    if old.rrule != new.rrule {
        names.push("RRULE");
    }
    if timing || old.exdates != new.exdates {
        names.push("EXDATE");
    }
    if old.cancelled != new.cancelled {
        names.push("STATUS");
    }
    if old.organizer != new.organizer {
        names.push("ORGANIZER");
    }
    let changed = !names.is_empty() || old.attendees != new.attendees || old.overrides != new.overrides;
    if !changed {
        return Ok(raw.to_string());
    }
    names.push("DTSTAMP");
    for n in names {
        doc.set_prop(master, n, fresh.prop_texts(fmaster, n));
    }
    if old.attendees != new.attendees {
        patch_attendees(&mut doc, master, &fresh, fmaster, new);
    }
    if timing || old.overrides != new.overrides {
        let fresh_rids: Vec<(usize, Option<String>)> =
            fothers.iter().map(|c| (*c, rid_of(&fresh, *c))).collect();
        let mut seen = Vec::new();
        for c in others {
            let Some(rid) = rid_of(&doc, c) else { continue };
            let before = old.overrides.iter().find(|o| o.recurrence_id == rid);
            match new.overrides.iter().find(|o| o.recurrence_id == rid) {
                // Only an override the CRM knew and dropped is removed.
                None if before.is_some() => doc.remove_comp(c),
                None => {}
                Some(now) => {
                    seen.push(rid.clone());
                    if before == Some(now) && !timing {
                        continue;
                    }
                    let Some(fc) = fresh_rids.iter().find(|(_, r)| r.as_deref() == Some(&rid)).map(|x| x.0)
                    else {
                        continue;
                    };
                    let b = before.cloned().unwrap_or_default();
                    let mut names = vec!["DTSTAMP"];
                    if timing {
                        names.push("RECURRENCE-ID");
                    }
                    if timing || b.start != now.start {
                        names.push("DTSTART");
                    }
                    if timing || b.end != now.end || b.start != now.start {
                        names.extend(["DTEND", "DURATION"]);
                    }
                    if b.summary != now.summary {
                        names.push("SUMMARY");
                    }
                    if b.description != now.description {
                        names.push("DESCRIPTION");
                    }
                    if b.location != now.location {
                        names.push("LOCATION");
                    }
                    if b.cancelled != now.cancelled {
                        names.push("STATUS");
                    }
                    for n in names {
                        doc.set_prop(c, n, fresh.prop_texts(fc, n));
                    }
                }
            }
        }
        for (fc, rid) in &fresh_rids {
            if rid.as_ref().is_some_and(|r| !seen.contains(r)) {
                doc.append_comp(cal, &fresh.comp_text(*fc));
            }
        }
    }
    Ok(doc.render())
}

/// Attendees: an unchanged one keeps its line (PARTSTAT, RSVP...), a changed
/// one gets a new line, a removed one loses it, a new one is added.
fn patch_attendees(doc: &mut Doc, master: usize, fresh: &Doc, fmaster: usize, new: &EventItem) {
    let rendered: Vec<(String, String)> = fresh
        .props(fmaster, "ATTENDEE")
        .into_iter()
        .filter_map(|i| {
            Some((person(&one_entry(fresh.text(i), "VEVENT")?)?.email, fresh.text(i).to_string()))
        })
        .collect();
    let organizer = new.organizer.as_ref().map(|o| o.email.clone());
    let mut placed: Vec<String> = Vec::new();
    for i in doc.props(master, "ATTENDEE") {
        // What crmsync does not model (a non-mailto URI, the organizer listed again) stays.
        let Some(p) = one_entry(doc.text(i), "VEVENT").as_ref().and_then(person) else { continue };
        if organizer.as_ref() == Some(&p.email) || placed.contains(&p.email) {
            continue;
        }
        match new.attendees.iter().find(|a| a.email == p.email) {
            None => doc.remove_line(i),
            Some(a) => {
                placed.push(p.email.clone());
                if (a.required != p.required || clean_name(&a.name) != clean_name(&p.name))
                    && let Some((_, t)) = rendered.iter().find(|(e, _)| *e == p.email)
                {
                    doc.replace_line(i, t);
                }
            }
        }
    }
    for (email, t) in &rendered {
        if !placed.contains(email) {
            doc.append_prop(master, t);
        }
    }
}

/// An update of a task on the server: `new` patched into the server's calendar
/// object `raw` (which reads as `old`); see [`patch_event`].
pub fn patch_task(raw: &str, old: &TaskItem, new: &TaskItem) -> Result<String, ItemError> {
    let mut doc = Doc::parse(raw);
    let fresh = Doc::parse(&write_task(new));
    let (_, master, _) = layout(&doc, "VTODO").ok_or_else(not_a_calendar)?;
    let (_, fmaster, _) = layout(&fresh, "VTODO").ok_or_else(not_a_calendar)?;
    let mut names = Vec::new();
    if old.summary != new.summary {
        names.push("SUMMARY");
    }
    if old.description != new.description {
        names.push("DESCRIPTION");
    }
    if old.due != new.due {
        names.push("DUE");
    }
    if old.status != new.status {
        names.extend(["STATUS", "X-CRMSYNC-WAITING"]);
    }
    if old.priority != new.priority {
        names.push("PRIORITY");
    }
    if old.percent_complete != new.percent_complete {
        names.push("PERCENT-COMPLETE");
    }
    if names.is_empty() {
        return Ok(raw.to_string());
    }
    names.push("DTSTAMP");
    for n in names {
        doc.set_prop(master, n, fresh.prop_texts(fmaster, n));
    }
    Ok(doc.render())
}

#[cfg(test)]
mod patch_tests {
    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other client//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:ev-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20260302T090000\r\n\
DTEND;TZID=Europe/Berlin:20260302T100000\r\nSUMMARY:Planning\r\nDESCRIPTION:A long description that the other client fol\r\n ded over two lines\r\n\
CATEGORIES:Work,Important\r\nX-OTHER-CLIENT-COLOR;X-P=1:#ff0000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n\
ORGANIZER;CN=Alice:mailto:alice@example.test\r\nATTENDEE;CN=Ben;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben@example.test\r\n\
ATTACH:https://files.example.test/agenda.pdf\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:ev-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Berlin:20260309T110000\r\nDTEND;TZID=Europe/Berlin:20260309T120000\r\nSUMMARY:Planning (moved)\r\n\
X-OVERRIDE-PROP:keep\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn dtstamp_line(body: &str) -> &str {
        body.split("\r\n").find(|l| l.starts_with("DTSTAMP:")).unwrap()
    }

    #[test]
    fn a_subject_edit_rewrites_only_summary_and_dtstamp() {
        let old = parse_event(EVENT).unwrap().item;
        let mut new = old.clone();
        new.summary = "Planning (new room)".into();
        let patched = patch_event(EVENT, &old, &new).unwrap();
        let stamp = dtstamp_line(&patched);
        let expected = EVENT.replacen("SUMMARY:Planning\r\n", "SUMMARY:Planning (new room)\r\n", 1).replacen(
            "DTSTAMP:20260101T000000Z",
            stamp,
            1,
        );
        assert_eq!(patched, expected);
        for kept in [
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM",
            "CATEGORIES:Work,Important\r\n",
            "X-OTHER-CLIENT-COLOR;X-P=1:#ff0000\r\n",
            "PARTSTAT=ACCEPTED",
            "X-OVERRIDE-PROP:keep",
        ] {
            assert!(patched.contains(kept), "{kept} lost:\n{patched}");
        }
        assert_eq!(parse_event(&patched).unwrap().item, new);
    }

    #[test]
    fn unchanged_items_are_not_rewritten() {
        let old = parse_event(EVENT).unwrap().item;
        assert_eq!(patch_event(EVENT, &old, &old).unwrap(), EVENT);
    }

    #[test]
    fn attendees_overrides_and_times_are_patched_one_by_one() {
        let old = parse_event(EVENT).unwrap().item;
        let mut new = old.clone();
        new.attendees.push(Attendee { email: "cy@example.test".into(), name: None, required: false });
        new.location = Some("Room 7".into());
        new.end = "2026-03-02T10:30:00".into();
        new.overrides[0].summary = Some("Planning (moved again)".into());
        new.overrides.push(Occurrence {
            recurrence_id: "2026-03-16T09:00:00".into(),
            start: "2026-03-16T09:00:00".into(),
            end: "2026-03-16T10:00:00".into(),
            summary: Some("Planning".into()),
            cancelled: true,
            ..Default::default()
        });
        let patched = patch_event(EVENT, &old, &new).unwrap();
        let reread = parse_event(&patched).unwrap().item;
        assert_eq!(reread, new, "{patched}");
        assert!(patched.contains("PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben@example.test"), "{patched}");
        assert!(patched.contains("X-OVERRIDE-PROP:keep") && patched.contains("BEGIN:VALARM"), "{patched}");
        // A property added to the master goes before its VALARM.
        let (loc, alarm) = (patched.find("LOCATION:Room 7").unwrap(), patched.find("BEGIN:VALARM").unwrap());
        assert!(loc < alarm, "{patched}");

        // A dropped attendee and a dropped override go; the rest stays.
        let mut fewer = old.clone();
        fewer.attendees.clear();
        fewer.overrides.clear();
        let patched = patch_event(EVENT, &old, &fewer).unwrap();
        assert!(!patched.contains("ben@example.test") && !patched.contains("RECURRENCE-ID"), "{patched}");
        assert!(
            patched.contains("CATEGORIES:Work,Important") && patched.contains("TRIGGER:-PT15M"),
            "{patched}"
        );
        assert_eq!(parse_event(&patched).unwrap().item, fewer);
    }

    #[test]
    fn a_task_edit_keeps_the_rest() {
        let raw = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VTODO\nUID:t1\nDTSTAMP:20260101T000000Z\nSUMMARY:Call\nPRIORITY:3\nCATEGORIES:Phone\nX-APPLE-SORT-ORDER:42\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nEND:VTODO\nEND:VCALENDAR\n";
        let old = parse_task(raw).unwrap().item;
        let mut new = old.clone();
        new.summary = "Call back".into();
        new.percent_complete = 50;
        let patched = patch_task(raw, &old, &new).unwrap();
        assert!(!patched.contains('\r'), "the document's line endings are kept: {patched:?}");
        assert!(patched.contains("PRIORITY:3\n") && patched.contains("X-APPLE-SORT-ORDER:42\n"), "{patched}");
        assert!(patched.contains("CATEGORIES:Phone\n") && patched.contains("TRIGGER:-PT5M\n"), "{patched}");
        assert_eq!(parse_task(&patched).unwrap().item, new);
    }
}
