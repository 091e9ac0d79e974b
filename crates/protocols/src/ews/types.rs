//! The typed EWS model shared by the request writers and the answer parsers:
//! ids, folders and the four item kinds crmsync syncs. Date-times are kept as
//! the server wrote them (`xs:dateTime` text); the engine converts them.

/// A well-known folder every Exchange mailbox has (`DistinguishedFolderId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DistinguishedFolder {
    /// `inbox`.
    Inbox,
    /// `sentitems`.
    SentItems,
    /// `deleteditems`.
    DeletedItems,
    /// `drafts`.
    Drafts,
    /// `calendar`.
    Calendar,
    /// `contacts`.
    Contacts,
    /// `tasks`.
    Tasks,
    /// `msgfolderroot` (Top of Information Store).
    MsgFolderRoot,
    /// `root`.
    Root,
}

impl DistinguishedFolder {
    /// The `Id` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            DistinguishedFolder::Inbox => "inbox",
            DistinguishedFolder::SentItems => "sentitems",
            DistinguishedFolder::DeletedItems => "deleteditems",
            DistinguishedFolder::Drafts => "drafts",
            DistinguishedFolder::Calendar => "calendar",
            DistinguishedFolder::Contacts => "contacts",
            DistinguishedFolder::Tasks => "tasks",
            DistinguishedFolder::MsgFolderRoot => "msgfolderroot",
            DistinguishedFolder::Root => "root",
        }
    }
}

/// A folder reference in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderRef {
    /// A distinguished folder, optionally of another mailbox (SMTP address; delegate access).
    Distinguished(DistinguishedFolder, Option<String>),
    /// A folder by its id.
    Id(FolderId),
}

impl From<DistinguishedFolder> for FolderRef {
    fn from(d: DistinguishedFolder) -> FolderRef {
        FolderRef::Distinguished(d, None)
    }
}

/// A folder id and its change key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderId {
    /// `Id`.
    pub id: String,
    /// `ChangeKey`, when known.
    pub change_key: Option<String>,
}

/// An item id and its change key (the item's version).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ItemId {
    /// `Id`.
    pub id: String,
    /// `ChangeKey`, when known.
    pub change_key: Option<String>,
}

impl ItemId {
    /// An id without change key.
    pub fn new(id: impl Into<String>) -> ItemId {
        ItemId { id: id.into(), change_key: None }
    }

    /// An id with its change key.
    pub fn with_change_key(id: impl Into<String>, change_key: impl Into<String>) -> ItemId {
        ItemId { id: id.into(), change_key: Some(change_key.into()) }
    }
}

/// A folder as GetFolder, FindFolder and CreateFolder answer it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folder {
    /// The element name (`Folder`, `CalendarFolder`, `ContactsFolder`, `TasksFolder`, `SearchFolder`).
    pub kind: String,
    /// FolderId.
    pub id: Option<FolderId>,
    /// ParentFolderId.
    pub parent_id: Option<FolderId>,
    /// FolderClass (`IPF.Note`, `IPF.Appointment`, ...).
    pub folder_class: Option<String>,
    /// DisplayName.
    pub display_name: Option<String>,
    /// TotalCount.
    pub total_count: Option<u64>,
    /// ChildFolderCount.
    pub child_folder_count: Option<u64>,
    /// UnreadCount.
    pub unread_count: Option<u64>,
}

/// A text or HTML body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// True for HTML, false for plain text.
    pub html: bool,
    /// The content.
    pub text: String,
}

/// A mailbox (name and SMTP address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name.
    pub name: Option<String>,
    /// EmailAddress (SMTP unless `routing_type` says otherwise).
    pub email: Option<String>,
    /// RoutingType (`SMTP`, `EX`).
    pub routing_type: Option<String>,
}

impl Mailbox {
    /// A mailbox with an SMTP address only.
    pub fn smtp(email: impl Into<String>) -> Mailbox {
        Mailbox { name: None, email: Some(email.into()), routing_type: None }
    }
}

/// A meeting attendee.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attendee {
    /// Who.
    pub mailbox: Mailbox,
    /// ResponseType (`Unknown`, `Accept`, `Tentative`, `Decline`, `NoResponseReceived`, `Organizer`).
    pub response: Option<String>,
}

/// The fields every item kind has (`ItemType`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemCommon {
    /// MimeContent, base64-decoded.
    pub mime_content: Option<Vec<u8>>,
    /// ItemId and ChangeKey.
    pub item_id: Option<ItemId>,
    /// ParentFolderId.
    pub parent_folder_id: Option<FolderId>,
    /// ItemClass (`IPM.Note`, `IPM.Appointment`, ...).
    pub item_class: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Sensitivity (`Normal`, `Personal`, `Private`, `Confidential`).
    pub sensitivity: Option<String>,
    /// Body.
    pub body: Option<Body>,
    /// DateTimeReceived.
    pub date_time_received: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Categories.
    pub categories: Vec<String>,
    /// Importance (`Low`, `Normal`, `High`).
    pub importance: Option<String>,
    /// InReplyTo (a Message-ID).
    pub in_reply_to: Option<String>,
    /// DateTimeSent.
    pub date_time_sent: Option<String>,
    /// DateTimeCreated.
    pub date_time_created: Option<String>,
    /// ReminderIsSet.
    pub reminder_is_set: Option<bool>,
    /// ReminderMinutesBeforeStart.
    pub reminder_minutes: Option<i64>,
    /// LastModifiedTime.
    pub last_modified_time: Option<String>,
    /// ConversationId.
    pub conversation_id: Option<String>,
}

/// An email message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Common item fields (MimeContent, ids, subject, body, ...).
    pub common: ItemCommon,
    /// Sender.
    pub sender: Option<Mailbox>,
    /// ToRecipients.
    pub to: Vec<Mailbox>,
    /// CcRecipients.
    pub cc: Vec<Mailbox>,
    /// BccRecipients.
    pub bcc: Vec<Mailbox>,
    /// ConversationIndex (base64, as sent).
    pub conversation_index: Option<String>,
    /// ConversationTopic.
    pub conversation_topic: Option<String>,
    /// From.
    pub from: Option<Mailbox>,
    /// InternetMessageId (`<...>`).
    pub internet_message_id: Option<String>,
    /// IsRead.
    pub is_read: Option<bool>,
    /// References.
    pub references: Option<String>,
}

/// How a series repeats (`RecurrencePatternTypes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecurrencePattern {
    /// Every `interval` days.
    Daily {
        /// Interval.
        interval: u32,
    },
    /// Every `interval` weeks on `days` (space separated day names as EWS writes them).
    Weekly {
        /// Interval.
        interval: u32,
        /// DaysOfWeek (`Monday Wednesday`).
        days: String,
        /// FirstDayOfWeek, when given.
        first_day: Option<String>,
    },
    /// Every `interval` months on day `day_of_month`.
    AbsoluteMonthly {
        /// Interval.
        interval: u32,
        /// DayOfMonth.
        day_of_month: u32,
    },
    /// Every `interval` months on the `index` `days` (`First Monday`).
    RelativeMonthly {
        /// Interval.
        interval: u32,
        /// DaysOfWeek.
        days: String,
        /// DayOfWeekIndex (`First` .. `Last`).
        index: String,
    },
    /// Every year on `day_of_month` of `month`.
    AbsoluteYearly {
        /// DayOfMonth.
        day_of_month: u32,
        /// Month (`January` ..).
        month: String,
    },
    /// Every year on the `index` `days` of `month`.
    RelativeYearly {
        /// DaysOfWeek.
        days: String,
        /// DayOfWeekIndex.
        index: String,
        /// Month.
        month: String,
    },
}

/// How long a series runs (`RecurrenceRangeTypes`); dates as written (`2026-12-01` or a dateTime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecurrenceRange {
    /// From `start`, without end.
    NoEnd {
        /// StartDate.
        start: String,
    },
    /// From `start` to `end`.
    EndDate {
        /// StartDate.
        start: String,
        /// EndDate.
        end: String,
    },
    /// From `start`, `count` occurrences.
    Numbered {
        /// StartDate.
        start: String,
        /// NumberOfOccurrences.
        count: u32,
    },
}

/// A recurrence: pattern and range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    /// Pattern.
    pub pattern: RecurrencePattern,
    /// Range.
    pub range: RecurrenceRange,
}

/// An occurrence of a series that was moved or changed (`ModifiedOccurrences`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Occurrence {
    /// The occurrence's own ItemId.
    pub item_id: Option<ItemId>,
    /// Start.
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
    /// OriginalStart: where the series put it.
    pub original_start: Option<String>,
}

/// An appointment or meeting (`CalendarItem`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarItem {
    /// Common item fields.
    pub common: ItemCommon,
    /// UID (iCalendar UID).
    pub uid: Option<String>,
    /// Start.
    pub start: Option<String>,
    /// End.
    pub end: Option<String>,
    /// OriginalStart (of an occurrence).
    pub original_start: Option<String>,
    /// IsAllDayEvent.
    pub is_all_day: Option<bool>,
    /// LegacyFreeBusyStatus (`Free`, `Tentative`, `Busy`, `OOF`).
    pub free_busy: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// IsMeeting.
    pub is_meeting: Option<bool>,
    /// IsCancelled.
    pub is_cancelled: Option<bool>,
    /// IsRecurring.
    pub is_recurring: Option<bool>,
    /// CalendarItemType (`Single`, `Occurrence`, `Exception`, `RecurringMaster`).
    pub calendar_item_type: Option<String>,
    /// MyResponseType.
    pub my_response: Option<String>,
    /// Organizer.
    pub organizer: Option<Mailbox>,
    /// RequiredAttendees.
    pub required_attendees: Vec<Attendee>,
    /// OptionalAttendees.
    pub optional_attendees: Vec<Attendee>,
    /// Recurrence (of a recurring master).
    pub recurrence: Option<Recurrence>,
    /// FirstOccurrence.
    pub first_occurrence: Option<Occurrence>,
    /// LastOccurrence.
    pub last_occurrence: Option<Occurrence>,
    /// ModifiedOccurrences.
    pub modified_occurrences: Vec<Occurrence>,
    /// Start times of DeletedOccurrences.
    pub deleted_occurrences: Vec<String>,
    /// StartTimeZone Id (Windows time zone name).
    pub start_time_zone: Option<String>,
    /// EndTimeZone Id.
    pub end_time_zone: Option<String>,
}

/// A contact's e-mail address, postal address or phone number slot (`Key` attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key (`EmailAddress1`, `BusinessPhone`, `Home`, ...).
    pub key: String,
    /// The value.
    pub value: String,
}

/// A contact's postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhysicalAddress {
    /// Key (`Business`, `Home`, `Other`).
    pub key: String,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// CountryOrRegion.
    pub country: Option<String>,
    /// PostalCode.
    pub postal_code: Option<String>,
}

/// A contact (`Contact`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Common item fields.
    pub common: ItemCommon,
    /// FileAs.
    pub file_as: Option<String>,
    /// DisplayName.
    pub display_name: Option<String>,
    /// GivenName.
    pub given_name: Option<String>,
    /// MiddleName.
    pub middle_name: Option<String>,
    /// CompanyName.
    pub company_name: Option<String>,
    /// EmailAddresses.
    pub email_addresses: Vec<Entry>,
    /// PhysicalAddresses.
    pub physical_addresses: Vec<PhysicalAddress>,
    /// PhoneNumbers.
    pub phone_numbers: Vec<Entry>,
    /// Birthday.
    pub birthday: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// JobTitle.
    pub job_title: Option<String>,
    /// Surname.
    pub surname: Option<String>,
}

/// A task (`Task`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Task {
    /// Common item fields.
    pub common: ItemCommon,
    /// CompleteDate.
    pub complete_date: Option<String>,
    /// DueDate.
    pub due_date: Option<String>,
    /// IsComplete (read-only).
    pub is_complete: Option<bool>,
    /// IsRecurring (read-only).
    pub is_recurring: Option<bool>,
    /// PercentComplete.
    pub percent_complete: Option<f64>,
    /// Recurrence (task recurrences use the same patterns).
    pub recurrence: Option<Recurrence>,
    /// StartDate.
    pub start_date: Option<String>,
    /// Status (`NotStarted`, `InProgress`, `Completed`, `WaitingOnOthers`, `Deferred`).
    pub status: Option<String>,
}

/// Any item an answer can hold.
// Items are built once and moved whole; boxing each kind would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Message (and meeting messages, read as messages).
    Message(Message),
    /// CalendarItem.
    CalendarItem(CalendarItem),
    /// Contact.
    Contact(Contact),
    /// Task.
    Task(Task),
    /// Any other kind (`DistributionList`, `PostItem`, ...): its element name and common fields.
    Other(String, ItemCommon),
}

impl Item {
    /// The common fields.
    pub fn common(&self) -> &ItemCommon {
        match self {
            Item::Message(m) => &m.common,
            Item::CalendarItem(c) => &c.common,
            Item::Contact(c) => &c.common,
            Item::Task(t) => &t.common,
            Item::Other(_, c) => c,
        }
    }

    /// The ItemId and ChangeKey, when the answer carried one.
    pub fn id(&self) -> Option<&ItemId> {
        self.common().item_id.as_ref()
    }

    /// The element name (`Message`, `CalendarItem`, `Contact`, `Task`, ...).
    pub fn kind(&self) -> &str {
        match self {
            Item::Message(_) => "Message",
            Item::CalendarItem(_) => "CalendarItem",
            Item::Contact(_) => "Contact",
            Item::Task(_) => "Task",
            Item::Other(k, _) => k,
        }
    }
}
