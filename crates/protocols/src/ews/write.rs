//! The XML writer the request builders share: quick-xml events with the
//! fixed prefixes `soap:`, `t:` and `m:` (declared once on the envelope), and
//! the item writers that put each kind's fields in the schema's order
//! (EWS elements are `xs:sequence`s: a field out of order fails validation).

use base64::Engine as _;
use quick_xml::Writer;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use super::types::{
    Attendee, Body, CalendarItem, Contact, Entry, Item, ItemCommon, Mailbox, Message, Occurrence,
    PhysicalAddress, Recurrence, RecurrencePattern, RecurrenceRange, Task,
};

/// An XML document being written (the request writers' output).
pub struct Out {
    w: Writer<Vec<u8>>,
}

impl Default for Out {
    fn default() -> Out {
        Out::new()
    }
}

impl Out {
    /// An empty document with the XML declaration.
    pub fn new() -> Out {
        let mut w = Writer::new(Vec::new());
        let _ = w.write_event(Event::Decl(quick_xml::events::BytesDecl::new("1.0", Some("utf-8"), None)));
        Out { w }
    }

    fn start<'a>(name: &'a str, attrs: &[(&'a str, &'a str)]) -> BytesStart<'a> {
        let mut s = BytesStart::new(name);
        for (k, v) in attrs {
            s.push_attribute((*k, xml_chars(v).as_ref()));
        }
        s
    }

    /// `<name attrs...>`.
    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Out {
        let _ = self.w.write_event(Event::Start(Out::start(name, attrs)));
        self
    }

    /// `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Out {
        let _ = self.w.write_event(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name attrs.../>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Out {
        let _ = self.w.write_event(Event::Empty(Out::start(name, attrs)));
        self
    }

    /// `<name attrs...>text</name>` with the text escaped.
    pub fn leaf_attrs(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Out {
        self.open(name, attrs);
        let _ = self.w.write_event(Event::Text(BytesText::new(&xml_chars(text))));
        self.close(name)
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Out {
        self.leaf_attrs(name, &[], text)
    }

    /// `<name>text</name>` when there is a value.
    pub fn opt(&mut self, name: &str, value: Option<&str>) -> &mut Out {
        if let Some(v) = value {
            self.leaf(name, v);
        }
        self
    }

    /// `<name>true|false</name>` when there is a value.
    pub fn opt_bool(&mut self, name: &str, value: Option<bool>) -> &mut Out {
        self.opt(name, value.map(|b| if b { "true" } else { "false" }))
    }

    /// The document as a string.
    pub fn finish(self) -> String {
        String::from_utf8(self.w.into_inner()).unwrap_or_default()
    }
}

/// `text` without the characters XML 1.0 cannot carry (control characters
/// other than tab, CR and LF; U+FFFE, U+FFFF): a CRM field holding one would
/// otherwise make the server refuse the whole request as invalid XML.
pub(crate) fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    let ok = |c: char| matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
    if text.chars().all(ok) {
        text.into()
    } else {
        text.chars().filter(|c| ok(*c)).collect::<String>().into()
    }
}

fn mailbox(out: &mut Out, m: &Mailbox) {
    out.open("t:Mailbox", &[]);
    out.opt("t:Name", m.name.as_deref());
    out.opt("t:EmailAddress", m.email.as_deref());
    out.opt("t:RoutingType", m.routing_type.as_deref());
    out.close("t:Mailbox");
}

fn single_mailbox(out: &mut Out, name: &str, m: Option<&Mailbox>) {
    if let Some(m) = m {
        out.open(name, &[]);
        mailbox(out, m);
        out.close(name);
    }
}

fn mailboxes(out: &mut Out, name: &str, list: &[Mailbox]) {
    if !list.is_empty() {
        out.open(name, &[]);
        for m in list {
            mailbox(out, m);
        }
        out.close(name);
    }
}

fn attendees(out: &mut Out, name: &str, list: &[Attendee]) {
    if !list.is_empty() {
        out.open(name, &[]);
        for a in list {
            out.open("t:Attendee", &[]);
            mailbox(out, &a.mailbox);
            out.opt("t:ResponseType", a.response.as_deref());
            out.close("t:Attendee");
        }
        out.close(name);
    }
}

fn body(out: &mut Out, b: Option<&Body>) {
    if let Some(b) = b {
        out.leaf_attrs("t:Body", &[("BodyType", if b.html { "HTML" } else { "Text" })], &b.text);
    }
}

/// Common fields before the kind's own ones (MimeContent .. ReminderMinutesBeforeStart).
fn common_head(out: &mut Out, c: &ItemCommon) {
    if let Some(mime) = &c.mime_content {
        out.leaf_attrs(
            "t:MimeContent",
            &[("CharacterSet", "UTF-8")],
            &base64::engine::general_purpose::STANDARD.encode(mime),
        );
    }
    out.opt("t:ItemClass", c.item_class.as_deref());
    out.opt("t:Subject", c.subject.as_deref());
    out.opt("t:Sensitivity", c.sensitivity.as_deref());
    body(out, c.body.as_ref());
    if !c.categories.is_empty() {
        out.open("t:Categories", &[]);
        for cat in &c.categories {
            out.leaf("t:String", cat);
        }
        out.close("t:Categories");
    }
    out.opt("t:Importance", c.importance.as_deref());
    out.opt("t:InReplyTo", c.in_reply_to.as_deref());
    out.opt_bool("t:ReminderIsSet", c.reminder_is_set);
    let minutes = c.reminder_minutes.map(|m| m.to_string());
    out.opt("t:ReminderMinutesBeforeStart", minutes.as_deref());
}

fn message(out: &mut Out, m: &Message) {
    out.open("t:Message", &[]);
    common_head(out, &m.common);
    single_mailbox(out, "t:Sender", m.sender.as_ref());
    mailboxes(out, "t:ToRecipients", &m.to);
    mailboxes(out, "t:CcRecipients", &m.cc);
    mailboxes(out, "t:BccRecipients", &m.bcc);
    single_mailbox(out, "t:From", m.from.as_ref());
    out.opt("t:InternetMessageId", m.internet_message_id.as_deref());
    out.opt_bool("t:IsRead", m.is_read);
    out.opt("t:References", m.references.as_deref());
    out.close("t:Message");
}

/// Writes a recurrence (pattern, then range).
pub(crate) fn recurrence(out: &mut Out, r: &Recurrence) {
    out.open("t:Recurrence", &[]);
    match &r.pattern {
        RecurrencePattern::Daily { interval } => {
            out.open("t:DailyRecurrence", &[]).leaf("t:Interval", &interval.to_string());
            out.close("t:DailyRecurrence");
        }
        RecurrencePattern::Weekly { interval, days, first_day } => {
            out.open("t:WeeklyRecurrence", &[]).leaf("t:Interval", &interval.to_string());
            out.leaf("t:DaysOfWeek", days).opt("t:FirstDayOfWeek", first_day.as_deref());
            out.close("t:WeeklyRecurrence");
        }
        RecurrencePattern::AbsoluteMonthly { interval, day_of_month } => {
            out.open("t:AbsoluteMonthlyRecurrence", &[]).leaf("t:Interval", &interval.to_string());
            out.leaf("t:DayOfMonth", &day_of_month.to_string()).close("t:AbsoluteMonthlyRecurrence");
        }
        RecurrencePattern::RelativeMonthly { interval, days, index } => {
            out.open("t:RelativeMonthlyRecurrence", &[]).leaf("t:Interval", &interval.to_string());
            out.leaf("t:DaysOfWeek", days).leaf("t:DayOfWeekIndex", index);
            out.close("t:RelativeMonthlyRecurrence");
        }
        RecurrencePattern::AbsoluteYearly { day_of_month, month } => {
            out.open("t:AbsoluteYearlyRecurrence", &[]).leaf("t:DayOfMonth", &day_of_month.to_string());
            out.leaf("t:Month", month).close("t:AbsoluteYearlyRecurrence");
        }
        RecurrencePattern::RelativeYearly { days, index, month } => {
            out.open("t:RelativeYearlyRecurrence", &[]).leaf("t:DaysOfWeek", days);
            out.leaf("t:DayOfWeekIndex", index).leaf("t:Month", month);
            out.close("t:RelativeYearlyRecurrence");
        }
    }
    match &r.range {
        RecurrenceRange::NoEnd { start } => {
            out.open("t:NoEndRecurrence", &[]).leaf("t:StartDate", start).close("t:NoEndRecurrence");
        }
        RecurrenceRange::EndDate { start, end } => {
            out.open("t:EndDateRecurrence", &[]).leaf("t:StartDate", start).leaf("t:EndDate", end);
            out.close("t:EndDateRecurrence");
        }
        RecurrenceRange::Numbered { start, count } => {
            out.open("t:NumberedRecurrence", &[]).leaf("t:StartDate", start);
            out.leaf("t:NumberOfOccurrences", &count.to_string()).close("t:NumberedRecurrence");
        }
    }
    out.close("t:Recurrence");
}

fn occurrence(out: &mut Out, name: &str, o: &Occurrence) {
    out.open(name, &[]);
    if let Some(id) = &o.item_id {
        item_id(out, "t:ItemId", id);
    }
    out.opt("t:Start", o.start.as_deref()).opt("t:End", o.end.as_deref());
    out.opt("t:OriginalStart", o.original_start.as_deref()).close(name);
}

fn calendar_item(out: &mut Out, c: &CalendarItem) {
    out.open("t:CalendarItem", &[]);
    common_head(out, &c.common);
    out.opt("t:UID", c.uid.as_deref());
    out.opt("t:Start", c.start.as_deref()).opt("t:End", c.end.as_deref());
    out.opt_bool("t:IsAllDayEvent", c.is_all_day);
    out.opt("t:LegacyFreeBusyStatus", c.free_busy.as_deref());
    out.opt("t:Location", c.location.as_deref());
    single_mailbox(out, "t:Organizer", c.organizer.as_ref());
    attendees(out, "t:RequiredAttendees", &c.required_attendees);
    attendees(out, "t:OptionalAttendees", &c.optional_attendees);
    if let Some(r) = &c.recurrence {
        recurrence(out, r);
    }
    if let Some(o) = &c.first_occurrence {
        occurrence(out, "t:FirstOccurrence", o);
    }
    if let Some(o) = &c.last_occurrence {
        occurrence(out, "t:LastOccurrence", o);
    }
    if let Some(tz) = &c.start_time_zone {
        out.empty("t:StartTimeZone", &[("Id", tz)]);
    }
    if let Some(tz) = &c.end_time_zone {
        out.empty("t:EndTimeZone", &[("Id", tz)]);
    }
    out.close("t:CalendarItem");
}

fn entries(out: &mut Out, name: &str, list: &[Entry]) {
    if !list.is_empty() {
        out.open(name, &[]);
        for e in list {
            out.leaf_attrs("t:Entry", &[("Key", &e.key)], &e.value);
        }
        out.close(name);
    }
}

fn physical_addresses(out: &mut Out, list: &[PhysicalAddress]) {
    if !list.is_empty() {
        out.open("t:PhysicalAddresses", &[]);
        for a in list {
            out.open("t:Entry", &[("Key", &a.key)]);
            out.opt("t:Street", a.street.as_deref()).opt("t:City", a.city.as_deref());
            out.opt("t:State", a.state.as_deref()).opt("t:CountryOrRegion", a.country.as_deref());
            out.opt("t:PostalCode", a.postal_code.as_deref()).close("t:Entry");
        }
        out.close("t:PhysicalAddresses");
    }
}

fn contact(out: &mut Out, c: &Contact) {
    out.open("t:Contact", &[]);
    common_head(out, &c.common);
    out.opt("t:FileAs", c.file_as.as_deref()).opt("t:DisplayName", c.display_name.as_deref());
    out.opt("t:GivenName", c.given_name.as_deref()).opt("t:MiddleName", c.middle_name.as_deref());
    out.opt("t:CompanyName", c.company_name.as_deref());
    entries(out, "t:EmailAddresses", &c.email_addresses);
    physical_addresses(out, &c.physical_addresses);
    entries(out, "t:PhoneNumbers", &c.phone_numbers);
    out.opt("t:Birthday", c.birthday.as_deref()).opt("t:Department", c.department.as_deref());
    out.opt("t:JobTitle", c.job_title.as_deref()).opt("t:Surname", c.surname.as_deref());
    out.close("t:Contact");
}

fn task(out: &mut Out, t: &Task) {
    out.open("t:Task", &[]);
    common_head(out, &t.common);
    out.opt("t:CompleteDate", t.complete_date.as_deref()).opt("t:DueDate", t.due_date.as_deref());
    let pct = t.percent_complete.map(|p| p.to_string());
    out.opt("t:PercentComplete", pct.as_deref());
    if let Some(r) = &t.recurrence {
        recurrence(out, r);
    }
    out.opt("t:StartDate", t.start_date.as_deref()).opt("t:Status", t.status.as_deref());
    out.close("t:Task");
}

/// Writes an item of any kind with the fields that are set, in schema order.
/// Read-only fields (ids, sizes, IsRecurring, ...) are never written.
pub(crate) fn item(out: &mut Out, item: &Item) {
    match item {
        Item::Message(m) => message(out, m),
        Item::CalendarItem(c) => calendar_item(out, c),
        Item::Contact(c) => contact(out, c),
        Item::Task(t) => task(out, t),
        Item::Other(kind, c) => {
            let name = format!("t:{kind}");
            out.open(&name, &[]);
            common_head(out, c);
            out.close(&name);
        }
    }
}

/// `<name Id=".." ChangeKey=".."/>`.
pub(crate) fn item_id(out: &mut Out, name: &str, id: &super::types::ItemId) {
    match &id.change_key {
        Some(ck) => out.empty(name, &[("Id", &id.id), ("ChangeKey", ck)]),
        None => out.empty(name, &[("Id", &id.id)]),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_left_out_and_markup_is_escaped() {
        let mut out = Out::new();
        out.leaf_attrs("t:Subject", &[("Key", "a\u{1}b")], "Q3 <report> & \u{0}\u{b}notes\u{ffff}\tok");
        let doc = out.finish();
        assert!(
            doc.ends_with(r#"<t:Subject Key="ab">Q3 &lt;report&gt; &amp; notes	ok</t:Subject>"#),
            "{doc}"
        );
    }
}
