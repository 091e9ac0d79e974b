//! Command-line definitions of the CRM's appointments, tasks and contacts.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Appointment options (all optional on update; an empty value clears).
#[derive(Debug, Args, Default)]
pub struct AppointmentArgs {
    /// Subject (required on add).
    #[arg(long)]
    pub subject: Option<String>,
    /// Body text.
    #[arg(long)]
    pub body: Option<String>,
    /// Location.
    #[arg(long)]
    pub location: Option<String>,
    /// Start: 2026-03-02T09:00 (local, see --time-zone), 2026-03-02T08:00:00Z (UTC) or 2026-03-02 (all-day).
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// End (default: the start).
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// An all-day appointment (dates only).
    #[arg(long)]
    pub all_day: bool,
    /// A timed appointment again (with --start and --end).
    #[arg(long, conflicts_with = "all_day")]
    pub timed: bool,
    /// IANA time zone of local times, e.g. Europe/Berlin.
    #[arg(long, value_name = "TZ")]
    pub time_zone: Option<String>,
    /// Recurrence rule, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10 (empty: none).
    #[arg(long, value_name = "RRULE")]
    pub recurrence: Option<String>,
    /// Excluded occurrence (its original start; repeatable).
    #[arg(long, value_name = "TIME")]
    pub exdate: Vec<String>,
    /// Moved occurrence: ORIGINAL_START=NEW_START/NEW_END (repeatable).
    #[arg(long, value_name = "SPEC")]
    pub moved: Vec<String>,
    /// Cancelled occurrence (its original start; repeatable).
    #[arg(long, value_name = "TIME")]
    pub cancelled: Vec<String>,
    /// Forget every exdate, moved and cancelled occurrence.
    #[arg(long)]
    pub clear_exceptions: bool,
    /// Organizer: address or "Name <address>".
    #[arg(long, value_name = "ADDR")]
    pub organizer: Option<String>,
    /// Required attendee (repeatable; resolved to CRM records like email parties).
    #[arg(long, value_name = "ADDR")]
    pub attendee: Vec<String>,
    /// Optional attendee (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub optional_attendee: Vec<String>,
    /// Remove every attendee.
    #[arg(long)]
    pub clear_attendees: bool,
    /// Regarding record, e.g. account:Contoso (empty: none).
    #[arg(long, value_name = "TYPE:KEY")]
    pub regarding: Option<String>,
    /// Owner: a user's or queue's address.
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
}

/// `crmsync appointment ...`
#[derive(Debug, Subcommand)]
pub enum AppointmentCmd {
    /// Add an appointment.
    Add(AppointmentArgs),
    /// Change an appointment (only the options given).
    Update {
        /// Appointment id.
        id: String,
        #[command(flatten)]
        args: AppointmentArgs,
    },
    /// Delete an appointment (synced calendars delete it too).
    Delete {
        /// Appointment id.
        id: String,
    },
    /// List appointments by start.
    List,
    /// Show one appointment with its attendees and exceptions.
    Show {
        /// Appointment id.
        id: String,
    },
}

/// Task options (all optional on update; an empty value clears).
#[derive(Debug, Args, Default)]
pub struct TaskArgs {
    /// Subject (required on add).
    #[arg(long)]
    pub subject: Option<String>,
    /// Body text.
    #[arg(long)]
    pub body: Option<String>,
    /// Due date or time.
    #[arg(long, value_name = "TIME")]
    pub due: Option<String>,
    /// not-started, in-progress, waiting, completed or deferred.
    #[arg(long)]
    pub status: Option<String>,
    /// low, normal or high.
    #[arg(long)]
    pub priority: Option<String>,
    /// 0-100.
    #[arg(long, value_name = "N")]
    pub percent_complete: Option<String>,
    /// Regarding record, e.g. contact:ben@contoso.test.
    #[arg(long, value_name = "TYPE:KEY")]
    pub regarding: Option<String>,
    /// Owner: a user's or queue's address.
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
}

/// `crmsync task ...`
#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Add a task.
    Add(TaskArgs),
    /// Change a task (only the options given).
    Update {
        /// Task id.
        id: String,
        #[command(flatten)]
        args: TaskArgs,
    },
    /// Delete a task.
    Delete {
        /// Task id.
        id: String,
    },
    /// List tasks by due date.
    List,
    /// Show one task.
    Show {
        /// Task id.
        id: String,
    },
}

/// Contact options (all optional on update; an empty value clears).
#[derive(Debug, Args, Default)]
pub struct ContactArgs {
    /// First name.
    #[arg(long)]
    pub first_name: Option<String>,
    /// Last name.
    #[arg(long)]
    pub last_name: Option<String>,
    /// Email address (repeatable, up to 3, primary first; replaces the list).
    #[arg(long, value_name = "ADDR")]
    pub email: Vec<String>,
    /// Company.
    #[arg(long)]
    pub company: Option<String>,
    /// Business phone.
    #[arg(long)]
    pub phone: Option<String>,
    /// Mobile phone.
    #[arg(long)]
    pub mobile_phone: Option<String>,
    /// Street.
    #[arg(long)]
    pub street: Option<String>,
    /// City.
    #[arg(long)]
    pub city: Option<String>,
    /// Postal code.
    #[arg(long)]
    pub postal_code: Option<String>,
    /// State or region.
    #[arg(long)]
    pub region: Option<String>,
    /// Country.
    #[arg(long)]
    pub country: Option<String>,
    /// Owning user's address.
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
}

/// `crmsync contact ...`
#[derive(Debug, Subcommand)]
pub enum ContactCmd {
    /// Import a CSV file with a header row; all rows or none.
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// List them.
    List,
    /// Add a contact.
    Add(ContactArgs),
    /// Change a contact (only the options given).
    Update {
        /// Contact id.
        id: String,
        #[command(flatten)]
        args: ContactArgs,
    },
    /// Delete a contact (synced address books delete it too).
    Delete {
        /// Contact id.
        id: String,
    },
    /// Show one contact.
    Show {
        /// Contact id.
        id: String,
    },
}
