//! Reads items and folders out of answer elements into the typed model.
//! MimeContent is base64-decoded here, refusing more than the caller's bound.

use base64::Engine as _;

use super::types::{
    Attendee, Body, CalendarItem, Contact, Entry, Folder, FolderId, Item, ItemCommon, ItemId, Mailbox,
    Message, Occurrence, PhysicalAddress, Recurrence, RecurrencePattern, RecurrenceRange, Task,
};
use super::xml::{Element, NS_T};

/// Why an item could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// MimeContent decodes to more than the bound.
    #[error("MimeContent of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Decoded size (estimated from the base64 length).
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// MimeContent is not base64.
    #[error("MimeContent is not valid base64: {0}")]
    BadMime(String),
}

fn u64_of(s: Option<String>) -> Option<u64> {
    s.and_then(|v| v.parse().ok())
}

/// An `ItemId`-like element (Id and ChangeKey attributes).
pub(crate) fn item_id(e: &Element) -> ItemId {
    ItemId {
        id: e.attr("Id").unwrap_or_default().to_string(),
        change_key: e.attr("ChangeKey").map(str::to_string),
    }
}

fn folder_id(e: &Element) -> FolderId {
    FolderId {
        id: e.attr("Id").unwrap_or_default().to_string(),
        change_key: e.attr("ChangeKey").map(str::to_string),
    }
}

/// Decodes MimeContent, refusing more than `limit` decoded bytes before decoding.
pub fn decode_mime(text: &str, limit: u64) -> Result<Vec<u8>, ItemError> {
    let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let size = (clean.len() as u64 / 4) * 3;
    if size > limit.saturating_add(3) {
        return Err(ItemError::TooLarge { size, limit });
    }
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('=')))
        .map_err(|e| ItemError::BadMime(e.to_string()))
}

fn mailbox(e: &Element) -> Mailbox {
    let m = e.child(NS_T, "Mailbox").unwrap_or(e);
    Mailbox { name: m.t("Name"), email: m.t("EmailAddress"), routing_type: m.t("RoutingType") }
}

fn mailboxes(e: &Element, name: &str) -> Vec<Mailbox> {
    e.child(NS_T, name).map(|l| l.children_named(NS_T, "Mailbox").map(mailbox).collect()).unwrap_or_default()
}

fn attendees(e: &Element, name: &str) -> Vec<Attendee> {
    e.child(NS_T, name)
        .map(|l| {
            l.children_named(NS_T, "Attendee")
                .map(|a| Attendee { mailbox: mailbox(a), response: a.t("ResponseType") })
                .collect()
        })
        .unwrap_or_default()
}

fn common(e: &Element, mime_limit: u64) -> Result<ItemCommon, ItemError> {
    let mime_content = match e.child(NS_T, "MimeContent") {
        Some(m) => Some(decode_mime(&m.text, mime_limit)?),
        None => None,
    };
    Ok(ItemCommon {
        mime_content,
        item_id: e.child(NS_T, "ItemId").map(item_id),
        parent_folder_id: e.child(NS_T, "ParentFolderId").map(folder_id),
        item_class: e.t("ItemClass"),
        subject: e.child(NS_T, "Subject").map(|s| s.text.clone()),
        sensitivity: e.t("Sensitivity"),
        body: e.child(NS_T, "Body").map(|b| Body {
            html: b.attr("BodyType").is_some_and(|t| t.eq_ignore_ascii_case("HTML")),
            text: b.text.clone(),
        }),
        date_time_received: e.t("DateTimeReceived"),
        size: u64_of(e.t("Size")),
        categories: e
            .child(NS_T, "Categories")
            .map(|c| c.children_named(NS_T, "String").map(|s| s.text.clone()).collect())
            .unwrap_or_default(),
        importance: e.t("Importance"),
        in_reply_to: e.t("InReplyTo"),
        date_time_sent: e.t("DateTimeSent"),
        date_time_created: e.t("DateTimeCreated"),
        reminder_is_set: e.t_bool("ReminderIsSet"),
        reminder_minutes: e.t("ReminderMinutesBeforeStart").and_then(|v| v.parse().ok()),
        last_modified_time: e.t("LastModifiedTime"),
        conversation_id: e.child(NS_T, "ConversationId").and_then(|c| c.attr("Id")).map(str::to_string),
    })
}

/// Reads a `Recurrence` element (calendar or task).
pub(crate) fn recurrence(r: &Element) -> Option<Recurrence> {
    let num = |e: &Element, n: &str| e.t(n).and_then(|v| v.parse::<u32>().ok());
    let mut pattern = None;
    let mut range = None;
    for p in &r.children {
        if p.ns != NS_T {
            continue;
        }
        let interval = num(p, "Interval").unwrap_or(1);
        match p.name.as_str() {
            "DailyRecurrence" => pattern = Some(RecurrencePattern::Daily { interval }),
            "WeeklyRecurrence" => {
                pattern = Some(RecurrencePattern::Weekly {
                    interval,
                    days: p.t("DaysOfWeek").unwrap_or_default(),
                    first_day: p.t("FirstDayOfWeek"),
                })
            }
            "AbsoluteMonthlyRecurrence" => {
                pattern = Some(RecurrencePattern::AbsoluteMonthly {
                    interval,
                    day_of_month: num(p, "DayOfMonth").unwrap_or(1),
                })
            }
            "RelativeMonthlyRecurrence" => {
                pattern = Some(RecurrencePattern::RelativeMonthly {
                    interval,
                    days: p.t("DaysOfWeek").unwrap_or_default(),
                    index: p.t("DayOfWeekIndex").unwrap_or_default(),
                })
            }
            "AbsoluteYearlyRecurrence" => {
                pattern = Some(RecurrencePattern::AbsoluteYearly {
                    day_of_month: num(p, "DayOfMonth").unwrap_or(1),
                    month: p.t("Month").unwrap_or_default(),
                })
            }
            "RelativeYearlyRecurrence" => {
                pattern = Some(RecurrencePattern::RelativeYearly {
                    days: p.t("DaysOfWeek").unwrap_or_default(),
                    index: p.t("DayOfWeekIndex").unwrap_or_default(),
                    month: p.t("Month").unwrap_or_default(),
                })
            }
            "NoEndRecurrence" => {
                range = Some(RecurrenceRange::NoEnd { start: p.t("StartDate").unwrap_or_default() })
            }
            "EndDateRecurrence" => {
                range = Some(RecurrenceRange::EndDate {
                    start: p.t("StartDate").unwrap_or_default(),
                    end: p.t("EndDate").unwrap_or_default(),
                })
            }
            "NumberedRecurrence" => {
                range = Some(RecurrenceRange::Numbered {
                    start: p.t("StartDate").unwrap_or_default(),
                    count: num(p, "NumberOfOccurrences").unwrap_or(0),
                })
            }
            _ => {}
        }
    }
    Some(Recurrence { pattern: pattern?, range: range? })
}

fn occurrence(o: &Element) -> Occurrence {
    Occurrence {
        item_id: o.child(NS_T, "ItemId").map(item_id),
        start: o.t("Start"),
        end: o.t("End"),
        original_start: o.t("OriginalStart"),
    }
}

fn tz_id(e: &Element, name: &str) -> Option<String> {
    e.child(NS_T, name).and_then(|z| z.attr("Id")).map(str::to_string)
}

fn entries(e: &Element, name: &str) -> Vec<Entry> {
    e.child(NS_T, name)
        .map(|l| {
            l.children_named(NS_T, "Entry")
                .map(|x| Entry {
                    key: x.attr("Key").unwrap_or_default().to_string(),
                    value: x.text.trim().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads one item element (`t:Message`, `t:CalendarItem`, ...). A MimeContent
/// larger than `mime_limit` decoded bytes is an error for this item only.
pub fn item(e: &Element, mime_limit: u64) -> Result<Item, ItemError> {
    let common = common(e, mime_limit)?;
    Ok(match e.name.as_str() {
        "Message" | "MeetingRequest" | "MeetingResponse" | "MeetingCancellation" | "MeetingMessage" => {
            Item::Message(Message {
                common,
                sender: e.child(NS_T, "Sender").map(mailbox),
                to: mailboxes(e, "ToRecipients"),
                cc: mailboxes(e, "CcRecipients"),
                bcc: mailboxes(e, "BccRecipients"),
                conversation_index: e.t("ConversationIndex"),
                conversation_topic: e.t("ConversationTopic"),
                from: e.child(NS_T, "From").map(mailbox),
                internet_message_id: e.t("InternetMessageId"),
                is_read: e.t_bool("IsRead"),
                references: e.t("References"),
            })
        }
        "CalendarItem" => Item::CalendarItem(CalendarItem {
            common,
            uid: e.t("UID"),
            start: e.t("Start"),
            end: e.t("End"),
            original_start: e.t("OriginalStart"),
            is_all_day: e.t_bool("IsAllDayEvent"),
            free_busy: e.t("LegacyFreeBusyStatus"),
            location: e.t("Location"),
            is_meeting: e.t_bool("IsMeeting"),
            is_cancelled: e.t_bool("IsCancelled"),
            is_recurring: e.t_bool("IsRecurring"),
            calendar_item_type: e.t("CalendarItemType"),
            my_response: e.t("MyResponseType"),
            organizer: e.child(NS_T, "Organizer").map(mailbox),
            required_attendees: attendees(e, "RequiredAttendees"),
            optional_attendees: attendees(e, "OptionalAttendees"),
            recurrence: e.child(NS_T, "Recurrence").and_then(recurrence),
            first_occurrence: e.child(NS_T, "FirstOccurrence").map(occurrence),
            last_occurrence: e.child(NS_T, "LastOccurrence").map(occurrence),
            modified_occurrences: e
                .child(NS_T, "ModifiedOccurrences")
                .map(|m| m.children_named(NS_T, "Occurrence").map(occurrence).collect())
                .unwrap_or_default(),
            deleted_occurrences: e
                .child(NS_T, "DeletedOccurrences")
                .map(|m| m.children_named(NS_T, "DeletedOccurrence").filter_map(|d| d.t("Start")).collect())
                .unwrap_or_default(),
            start_time_zone: tz_id(e, "StartTimeZone").or_else(|| tz_id(e, "MeetingTimeZone")),
            end_time_zone: tz_id(e, "EndTimeZone"),
        }),
        "Contact" => Item::Contact(Contact {
            common,
            file_as: e.t("FileAs"),
            display_name: e.t("DisplayName"),
            given_name: e.t("GivenName"),
            middle_name: e.t("MiddleName"),
            company_name: e.t("CompanyName"),
            email_addresses: entries(e, "EmailAddresses"),
            physical_addresses: e
                .child(NS_T, "PhysicalAddresses")
                .map(|l| {
                    l.children_named(NS_T, "Entry")
                        .map(|a| PhysicalAddress {
                            key: a.attr("Key").unwrap_or_default().to_string(),
                            street: a.t("Street"),
                            city: a.t("City"),
                            state: a.t("State"),
                            country: a.t("CountryOrRegion"),
                            postal_code: a.t("PostalCode"),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            phone_numbers: entries(e, "PhoneNumbers"),
            birthday: e.t("Birthday"),
            department: e.t("Department"),
            job_title: e.t("JobTitle"),
            surname: e.t("Surname"),
        }),
        "Task" => Item::Task(Task {
            common,
            complete_date: e.t("CompleteDate"),
            due_date: e.t("DueDate"),
            is_complete: e.t_bool("IsComplete"),
            is_recurring: e.t_bool("IsRecurring"),
            percent_complete: e.t("PercentComplete").and_then(|v| v.parse().ok()),
            recurrence: e.child(NS_T, "Recurrence").and_then(recurrence),
            start_date: e.t("StartDate"),
            status: e.t("Status"),
        }),
        other => Item::Other(other.to_string(), common),
    })
}

/// Reads a folder element (`t:Folder`, `t:CalendarFolder`, ...).
pub fn folder(e: &Element) -> Folder {
    Folder {
        kind: e.name.clone(),
        id: e.child(NS_T, "FolderId").map(folder_id),
        parent_id: e.child(NS_T, "ParentFolderId").map(folder_id),
        folder_class: e.t("FolderClass"),
        display_name: e.t("DisplayName"),
        total_count: u64_of(e.t("TotalCount")),
        child_folder_count: u64_of(e.t("ChildFolderCount")),
        unread_count: u64_of(e.t("UnreadCount")),
    }
}
