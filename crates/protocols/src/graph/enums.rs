//! Graph's string enumerations. The server writes them in camelCase, the
//! docs and some clients in other cases (`"HTML"`, `"Required"`), and new
//! values appear over time: they are read case-insensitively, an unknown
//! value is kept as [`Other`](EventType::Other) instead of failing the whole
//! page, and written back in the server's spelling.

/// Declares a lenient string enum (see the module doc).
macro_rules! lenient_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know, as the server wrote it.
            Other(String),
        }

        impl $name {
            /// The value as Graph spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(s) => s,
                }
            }

            /// Reads a value, ignoring case.
            pub fn parse(s: &str) -> $name {
                $(if s.eq_ignore_ascii_case($text) { return $name::$variant; })+
                $name::Other(s.to_string())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                ser.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<$name, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(de)?;
                Ok($name::parse(&s))
            }
        }
    };
}

lenient_enum!(
    /// `event.type`: what an event is within a recurring series.
    EventType {
        /// A one-off event.
        SingleInstance = "singleInstance",
        /// One unchanged occurrence of a series (not stored on its own).
        Occurrence = "occurrence",
        /// An occurrence that was changed or moved.
        Exception = "exception",
        /// The event that holds the recurrence.
        SeriesMaster = "seriesMaster",
    }
);

lenient_enum!(
    /// `itemBody.contentType`.
    BodyType {
        /// Plain text.
        Text = "text",
        /// HTML.
        Html = "html",
    }
);

lenient_enum!(
    /// `attendee.type`.
    AttendeeType {
        /// Required attendee.
        Required = "required",
        /// Optional attendee.
        Optional = "optional",
        /// A room or equipment.
        Resource = "resource",
    }
);

lenient_enum!(
    /// `responseStatus.response`.
    ResponseType {
        /// No answer asked for or given.
        None = "none",
        /// The organizer.
        Organizer = "organizer",
        /// Tentatively accepted.
        TentativelyAccepted = "tentativelyAccepted",
        /// Accepted.
        Accepted = "accepted",
        /// Declined.
        Declined = "declined",
        /// Not answered yet.
        NotResponded = "notResponded",
    }
);

lenient_enum!(
    /// `recurrencePattern.type`.
    RecurrencePatternType {
        /// Every `interval` days.
        Daily = "daily",
        /// On `daysOfWeek` every `interval` weeks.
        Weekly = "weekly",
        /// On `dayOfMonth` every `interval` months.
        AbsoluteMonthly = "absoluteMonthly",
        /// On the `index` `daysOfWeek` every `interval` months.
        RelativeMonthly = "relativeMonthly",
        /// On `dayOfMonth` of `month` every `interval` years.
        AbsoluteYearly = "absoluteYearly",
        /// On the `index` `daysOfWeek` of `month` every `interval` years.
        RelativeYearly = "relativeYearly",
    }
);

lenient_enum!(
    /// `recurrenceRange.type`.
    RecurrenceRangeType {
        /// Until `endDate`.
        EndDate = "endDate",
        /// Without end.
        NoEnd = "noEnd",
        /// `numberOfOccurrences` times.
        Numbered = "numbered",
    }
);

lenient_enum!(
    /// `todoTask.status`.
    TaskStatus {
        /// Not started.
        NotStarted = "notStarted",
        /// In progress.
        InProgress = "inProgress",
        /// Completed.
        Completed = "completed",
        /// Waiting on others.
        WaitingOnOthers = "waitingOnOthers",
        /// Deferred.
        Deferred = "deferred",
    }
);

lenient_enum!(
    /// `importance` of messages, events and tasks.
    Importance {
        /// Low.
        Low = "low",
        /// Normal.
        Normal = "normal",
        /// High.
        High = "high",
    }
);

lenient_enum!(
    /// `@removed.reason` in a delta answer.
    RemovedReason {
        /// Deleted for good.
        Deleted = "deleted",
        /// Moved out of the scope (another folder, outside the calendar window).
        Changed = "changed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_ignoring_case_and_unknown_ones_are_kept() {
        let t: EventType = serde_json::from_str("\"SeriesMaster\"").unwrap();
        assert_eq!(t, EventType::SeriesMaster);
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"seriesMaster\"");
        assert_eq!(BodyType::parse("HTML"), BodyType::Html);
        let odd: TaskStatus = serde_json::from_str("\"snoozed\"").unwrap();
        assert_eq!(odd, TaskStatus::Other("snoozed".into()));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"snoozed\"");
    }
}
