//! `crmsync appointment|task|contact ...`

use crmsync_core::Store;
use crmsync_core::model::person_name;
use crmsync_engine::admin::act_records::{self as api, AppointmentInput, ContactInput, TaskInput};
use crmsync_engine::admin::imports::RecordKind;

use super::Ctx;
use crate::CliError;
use crate::cli::{AppointmentArgs, AppointmentCmd, ContactArgs, ContactCmd, TaskArgs, TaskCmd};
use crate::output::{self, opt};

fn list_opt(v: Vec<String>, clear: bool) -> Option<Vec<String>> {
    if clear || !v.is_empty() { Some(v) } else { None }
}

fn appointment_input(a: AppointmentArgs) -> AppointmentInput {
    let clear = a.clear_exceptions;
    let occurrences = clear || !a.moved.is_empty() || !a.cancelled.is_empty();
    AppointmentInput {
        subject: a.subject,
        body: a.body,
        location: a.location,
        start: a.start,
        end: a.end,
        all_day: if a.all_day {
            Some(true)
        } else if a.timed {
            Some(false)
        } else {
            None
        },
        time_zone: a.time_zone,
        recurrence: a.recurrence,
        exdates: list_opt(a.exdate, clear),
        moved: occurrences.then_some(a.moved),
        cancelled: occurrences.then_some(a.cancelled),
        organizer: a.organizer,
        attendees: list_opt(a.attendee, a.clear_attendees || !a.optional_attendee.is_empty()),
        optional_attendees: list_opt(a.optional_attendee, a.clear_attendees),
        regarding: a.regarding,
        owner: a.owner,
    }
}

fn print_appointment(v: &crmsync_core::store::appointments::AppointmentView) {
    let people = |list: Vec<String>| if list.is_empty() { "-".to_string() } else { list.join(", ") };
    output::fields(&[
        ("id", v.id.to_string()),
        ("subject", v.subject.clone()),
        (
            "start",
            format!("{}{}", v.start, v.time_zone.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()),
        ),
        ("end", v.end.clone()),
        ("all day", v.all_day.to_string()),
        ("location", opt(&v.location)),
        ("recurrence", opt(&v.recurrence)),
        ("exdates", people(v.exdates.clone())),
        (
            "exceptions",
            people(
                v.exceptions
                    .iter()
                    .map(|o| {
                        if o.cancelled {
                            format!("{} cancelled", o.recurrence_id)
                        } else {
                            format!("{} moved to {}", o.recurrence_id, o.start)
                        }
                    })
                    .collect(),
            ),
        ),
        ("organizer", v.organizer.as_ref().and_then(|o| o.address.clone()).unwrap_or_else(|| "-".into())),
        (
            "attendees",
            people(
                v.attendees
                    .iter()
                    .map(|a| {
                        let r = a
                            .resolved
                            .as_ref()
                            .map(|r| format!(" = {} {}", r.record_type, r.name))
                            .unwrap_or_default();
                        format!("{} ({}){r}", a.address, a.role)
                    })
                    .collect(),
            ),
        ),
        (
            "regarding",
            v.regarding
                .as_ref()
                .map(|r| format!("{} {}", r.record_type, r.name))
                .unwrap_or_else(|| "-".into()),
        ),
        ("owner", opt(&v.owner)),
        ("state", v.state.clone()),
        ("uid", v.uid.clone()),
    ]);
}

/// Runs an appointment command.
pub fn appointment(ctx: &Ctx, store: &mut Store, cmd: AppointmentCmd) -> Result<(), CliError> {
    match cmd {
        AppointmentCmd::Add(a) => {
            let v = api::add_appointment(store, &appointment_input(a))?;
            if ctx.json {
                output::json(&v)
            } else {
                println!("appointment {} added", v.id);
                Ok(())
            }
        }
        AppointmentCmd::Update { id, args } => {
            let v = api::update_appointment(store, &id, &appointment_input(args))?;
            if ctx.json {
                output::json(&v)
            } else {
                println!("appointment {} updated", v.id);
                Ok(())
            }
        }
        AppointmentCmd::Delete { id } => {
            api::delete_activity(store, &id, "appointment")?;
            if ctx.json {
                output::json(&serde_json::json!({ "deleted": id.trim() }))
            } else {
                println!("appointment {} deleted", id.trim());
                Ok(())
            }
        }
        AppointmentCmd::List => {
            let list = api::list_appointments(store)?;
            if ctx.json {
                return output::json(&list);
            }
            let rows = list
                .iter()
                .map(|a| {
                    vec![
                        a.id.to_string(),
                        a.start.clone(),
                        a.subject.clone(),
                        opt(&a.location),
                        opt(&a.recurrence),
                        opt(&a.owner),
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["ID", "START", "SUBJECT", "LOCATION", "RECURRENCE", "OWNER"], &rows);
            Ok(())
        }
        AppointmentCmd::Show { id } => {
            let v = api::show_appointment(store, &id)?;
            if ctx.json {
                output::json(&v)
            } else {
                print_appointment(&v);
                Ok(())
            }
        }
    }
}

fn task_input(a: TaskArgs) -> TaskInput {
    TaskInput {
        subject: a.subject,
        body: a.body,
        due: a.due,
        status: a.status,
        priority: a.priority,
        percent_complete: a.percent_complete,
        regarding: a.regarding,
        owner: a.owner,
    }
}

/// Runs a task command.
pub fn task(ctx: &Ctx, store: &mut Store, cmd: TaskCmd) -> Result<(), CliError> {
    let show = |v: &crmsync_core::store::tasks::TaskView| {
        output::fields(&[
            ("id", v.id.to_string()),
            ("subject", v.subject.clone()),
            ("due", opt(&v.due)),
            ("status", v.status.to_string()),
            ("priority", v.priority.to_string()),
            ("percent", v.percent_complete.to_string()),
            (
                "regarding",
                v.regarding
                    .as_ref()
                    .map(|r| format!("{} {}", r.record_type, r.name))
                    .unwrap_or_else(|| "-".into()),
            ),
            ("owner", opt(&v.owner)),
            ("body", opt(&v.body)),
            ("uid", v.uid.clone()),
        ])
    };
    match cmd {
        TaskCmd::Add(a) => {
            let v = api::add_task(store, &task_input(a))?;
            if ctx.json {
                output::json(&v)
            } else {
                println!("task {} added", v.id);
                Ok(())
            }
        }
        TaskCmd::Update { id, args } => {
            let v = api::update_task(store, &id, &task_input(args))?;
            if ctx.json {
                output::json(&v)
            } else {
                println!("task {} updated", v.id);
                Ok(())
            }
        }
        TaskCmd::Delete { id } => {
            api::delete_activity(store, &id, "task")?;
            if ctx.json {
                output::json(&serde_json::json!({ "deleted": id.trim() }))
            } else {
                println!("task {} deleted", id.trim());
                Ok(())
            }
        }
        TaskCmd::List => {
            let list = api::list_tasks(store)?;
            if ctx.json {
                return output::json(&list);
            }
            let rows = list
                .iter()
                .map(|t| {
                    vec![
                        t.id.to_string(),
                        opt(&t.due),
                        t.subject.clone(),
                        t.status.to_string(),
                        t.priority.to_string(),
                        format!("{}%", t.percent_complete),
                    ]
                })
                .collect::<Vec<_>>();
            output::table(&["ID", "DUE", "SUBJECT", "STATUS", "PRIORITY", "DONE"], &rows);
            Ok(())
        }
        TaskCmd::Show { id } => {
            let v = api::show_task(store, &id)?;
            if ctx.json {
                output::json(&v)
            } else {
                show(&v);
                Ok(())
            }
        }
    }
}

fn contact_input(a: ContactArgs) -> ContactInput {
    ContactInput {
        first_name: a.first_name,
        last_name: a.last_name,
        emails: if a.email.is_empty() { None } else { Some(a.email) },
        company: a.company,
        phone: a.phone,
        mobile_phone: a.mobile_phone,
        street: a.street,
        city: a.city,
        postal_code: a.postal_code,
        region: a.region,
        country: a.country,
        owner: a.owner,
    }
}

/// Runs a contact command.
pub fn contact(ctx: &Ctx, store: &mut Store, cmd: ContactCmd) -> Result<(), CliError> {
    let show = |c: &crmsync_core::model::Contact| {
        output::fields(&[
            ("id", c.id.to_string()),
            ("name", person_name(c.first_name.as_deref(), c.last_name.as_deref(), None)),
            (
                "email",
                [&c.email, &c.email2, &c.email3]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("company", opt(&c.company)),
            ("phone", opt(&c.phone)),
            ("mobile", opt(&c.mobile_phone)),
            (
                "address",
                [&c.street, &c.postal_code, &c.city, &c.region, &c.country]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            ("owner", opt(&c.owner)),
        ])
    };
    match cmd {
        ContactCmd::Import { file } => {
            super::record::run(ctx, store, RecordKind::Contact, crate::cli::RecordCmd::Import { file })
        }
        ContactCmd::List => super::record::run(ctx, store, RecordKind::Contact, crate::cli::RecordCmd::List),
        ContactCmd::Add(a) => {
            let c = api::add_contact(store, &contact_input(a))?;
            if ctx.json {
                output::json(&c)
            } else {
                println!("contact {} added", c.id);
                Ok(())
            }
        }
        ContactCmd::Update { id, args } => {
            let c = api::update_contact(store, &id, &contact_input(args))?;
            if ctx.json {
                output::json(&c)
            } else {
                println!("contact {} updated", c.id);
                Ok(())
            }
        }
        ContactCmd::Delete { id } => {
            api::delete_contact(store, &id)?;
            if ctx.json {
                output::json(&serde_json::json!({ "deleted": id.trim() }))
            } else {
                println!("contact {} deleted", id.trim());
                Ok(())
            }
        }
        ContactCmd::Show { id } => {
            let c = api::show_contact(store, &id)?;
            if ctx.json {
                output::json(&c)
            } else {
                show(&c);
                Ok(())
            }
        }
    }
}
