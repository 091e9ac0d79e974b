//! `crmsync mailbox ...`

use crmsync_core::Store;
use crmsync_core::model::{Mailbox, Owner};
use crmsync_engine::admin::mailboxes::{self, MailboxInput};
use crmsync_engine::oauth::{self, DevicePrompt, SignInStatus};
use crmsync_engine::test_enable::{self, TestReport};
use serde_json::json;
use std::time::Duration;

use super::Ctx;
use crate::cli::{MailboxArgs, MailboxCmd};
use crate::output::{self, opt};
use crate::{CliError, secrets};

fn input(a: MailboxArgs, keep_after: bool, clear_folders: bool) -> Result<MailboxInput, CliError> {
    Ok(MailboxInput {
        password: secrets::read_password(a.password.password_stdin, a.password.password_env.as_deref())?,
        profile: a.profile,
        username: a.username,
        incoming: a.incoming,
        outgoing: a.outgoing,
        act: a.act,
        track: a.track,
        process_from: a.process_from,
        delete_after_processing: if a.delete_after_processing {
            Some(true)
        } else if keep_after {
            Some(false)
        } else {
            None
        },
        forward_mailbox: a.forward_mailbox.then_some(true),
        track_folders: if clear_folders {
            Some(Vec::new())
        } else if a.track_folder.is_empty() {
            None
        } else {
            Some(a.track_folder)
        },
    })
}

fn owner(o: &Owner) -> String {
    match o {
        Owner::User { name, .. } => format!("user {name}"),
        Owner::Queue { name, .. } => format!("queue {name}"),
    }
}

fn health(m: &Mailbox) -> String {
    let ch = |name: &str, c: &crmsync_core::model::ChannelState| {
        format!("{name} {}{}", c.status, if c.enabled { " (enabled)" } else { "" })
    };
    [ch("incoming", &m.incoming), ch("outgoing", &m.outgoing), ch("act", &m.act)].join(", ")
}

/// A sign-in that ended without tokens (declined, the code expired, the
/// grant refused), with the command that tries again.
fn again(e: crmsync_engine::EngineError, email: &str) -> CliError {
    if e.code() != "OAUTH_SIGN_IN_REQUIRED" {
        return e.into();
    }
    CliError::Runtime(format!("{e}; to try again, run `crmsync mailbox sign-in {email}`"))
}

fn sign_in_words(s: &SignInStatus) -> String {
    if s.app_only {
        return match s.access_valid_until {
            Some(t) => format!("{} app-only (profile token valid until {t})", s.provider),
            None => format!("{} app-only (a token is fetched at the next connection)", s.provider),
        };
    }
    match (s.signed_in, s.access_valid_until) {
        (false, _) => format!("{}: not signed in (run `crmsync mailbox sign-in`)", s.provider),
        (true, Some(t)) => format!(
            "{}: signed in, access valid until {t}{}",
            s.provider,
            if s.can_refresh { ", renews itself" } else { "" }
        ),
        (true, None) => format!("{}: signed in, renewed at the next connection", s.provider),
    }
}

fn print(m: &Mailbox, sign_in: Option<&SignInStatus>) {
    let d = &m.data;
    let t = &m.telemetry;
    let mut pairs = vec![
        ("email", d.email.clone()),
        ("owner", owner(&d.owner)),
        ("profile", m.profile.clone()),
        ("username", opt(&d.username)),
        ("password", if m.has_password { "(stored, encrypted)".into() } else { "-".into() }),
        (
            "incoming",
            format!(
                "{} / {}{}",
                d.incoming_method,
                m.incoming.status,
                if m.incoming.enabled { " / enabled" } else { "" }
            ),
        ),
        (
            "outgoing",
            format!(
                "{} / {}{}",
                d.outgoing_method,
                m.outgoing.status,
                if m.outgoing.enabled { " / enabled" } else { "" }
            ),
        ),
        (
            "act",
            format!("{} / {}{}", d.act_method, m.act.status, if m.act.enabled { " / enabled" } else { "" }),
        ),
        ("track", d.track.to_string()),
        ("process from", opt(&d.process_from)),
        ("delete after processing", d.delete_after_processing.to_string()),
        ("forward mailbox", d.is_forward_mailbox.to_string()),
        ("approval", m.approval.to_string()),
        ("processing state", t.processing_state.clone()),
        ("last test & enable", opt(&m.last_test_on)),
        ("last sync", opt(&t.last_sync_succeeded)),
        ("next poll", opt(&t.next_poll)),
    ];
    if let Some(s) = sign_in {
        pairs.push(("oauth2 sign-in", sign_in_words(s)));
    }
    if m.credentials_required {
        pairs.push(("credentials", "required: set a password with `mailbox update --password-stdin`".into()));
    }
    if let Some(e) = &t.last_error {
        pairs.push(("last error", format!("{} {} ({})", e.code, e.message, e.at)));
    }
    for f in &d.track_folders {
        pairs.push((
            "track folder",
            format!("{} -> {} {}", f.folder, f.regarding.record_type, f.regarding.name),
        ));
    }
    output::fields(&pairs);
}

/// Runs a mailbox command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: MailboxCmd) -> Result<(), CliError> {
    match cmd {
        MailboxCmd::Add { email, args } => {
            let m = mailboxes::add(store, &email, &input(args, false, false)?)?;
            if ctx.json {
                output::json(&m)
            } else {
                println!(
                    "mailbox {} added for {} on profile '{}'; run `crmsync mailbox test-enable {}` next",
                    m.data.email,
                    owner(&m.data.owner),
                    m.profile,
                    m.data.email
                );
                Ok(())
            }
        }
        MailboxCmd::Update { email, args, keep_after_processing, clear_track_folders } => {
            let m =
                mailboxes::update(store, &email, &input(args, keep_after_processing, clear_track_folders)?)?;
            if ctx.json {
                output::json(&m)
            } else {
                println!("mailbox {} updated", m.data.email);
                Ok(())
            }
        }
        MailboxCmd::Remove { email } => {
            mailboxes::remove(store, &email)?;
            if ctx.json {
                output::json(&json!({ "removed": email }))
            } else {
                println!("mailbox {email} removed");
                Ok(())
            }
        }
        MailboxCmd::List => {
            let list = mailboxes::list(store)?;
            if ctx.json {
                return output::json(&list);
            }
            let rows = list
                .iter()
                .map(|m| vec![m.data.email.clone(), owner(&m.data.owner), m.profile.clone(), health(m)])
                .collect::<Vec<_>>();
            output::table(&["EMAIL", "OWNER", "PROFILE", "STATUS"], &rows);
            Ok(())
        }
        MailboxCmd::TestEnable { email, all } => {
            let targets = targets(store, email, all)?;
            let rt = super::runtime()?;
            let mut reports = Vec::new();
            for t in targets {
                reports.push(rt.block_on(test_enable::test_and_enable(store, &t))?);
            }
            let failed = reports.iter().any(|r| r.overall == crmsync_core::model::ChannelStatus::Failure);
            if ctx.json {
                if all { output::json(&reports)? } else { output::json(&reports[0])? }
            } else {
                reports.iter().for_each(print_report);
            }
            if failed {
                return Err(CliError::Reported(
                    "Test & Enable failed for at least one channel (see above)".into(),
                ));
            }
            Ok(())
        }
        MailboxCmd::Approve { email, all, reject } => {
            let targets = targets(store, email, all)?;
            for t in &targets {
                test_enable::approve(store, t, !reject)?;
            }
            if ctx.json {
                output::json(&json!({ if reject { "rejected" } else { "approved" }: targets }))
            } else {
                println!("{} {}", if reject { "rejected:" } else { "approved:" }, targets.join(", "));
                Ok(())
            }
        }
        MailboxCmd::Enable { email } => {
            let m = test_enable::set_enabled(store, &email, true)?;
            if ctx.json {
                output::json(&m)
            } else {
                println!("mailbox {} enabled: {}", m.data.email, health(&m));
                Ok(())
            }
        }
        MailboxCmd::ActConfirm { email } => {
            let released = crmsync_engine::act::confirm_brake(store, &email)?;
            if ctx.json {
                output::json(&released)
            } else {
                for c in &released {
                    println!(
                        "{}: {} held delete(s) in the {} will be mirrored by the next sync",
                        c.url,
                        c.brake_deletes.unwrap_or(0),
                        c.brake_side
                            .as_deref()
                            .map(|s| if s == "crm" { "CRM" } else { "server" })
                            .unwrap_or("?")
                    );
                }
                Ok(())
            }
        }
        MailboxCmd::ActSettings { email, filter, direction } => {
            let v = crmsync_engine::admin::act_records::act_settings(
                store,
                &email,
                filter.as_deref(),
                &direction,
            )?;
            if ctx.json {
                return output::json(&v);
            }
            output::fields(&[
                ("mailbox", v.mailbox.clone()),
                ("filter", v.config.filters.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")),
                ("subject", v.config.directions.subject.to_string()),
                ("body", v.config.directions.body.to_string()),
                ("location", v.config.directions.location.to_string()),
            ]);
            for c in &v.collections {
                let brake = match &c.brake_held_on {
                    Some(t) => format!(" (mass delete of {} held since {t})", c.brake_deletes.unwrap_or(0)),
                    None => String::new(),
                };
                println!("{:<10}{}{brake}", c.kind, c.url);
            }
            Ok(())
        }
        MailboxCmd::Disable { email } => {
            let m = test_enable::set_enabled(store, &email, false)?;
            if ctx.json {
                output::json(&m)
            } else {
                println!("mailbox {} disabled", m.data.email);
                Ok(())
            }
        }
        MailboxCmd::History { email, limit } => super::history::history(ctx, store, &email, limit.as_deref()),
        MailboxCmd::Explain { email, message_id, subject } => {
            super::history::explain(ctx, store, &email, message_id.as_deref(), subject.as_deref())
        }
        MailboxCmd::Show { email } => {
            let m = mailboxes::show(store, &email)?;
            let sign_in = oauth::status(store, &m)?;
            if ctx.json {
                let mut v = serde_json::to_value(&m).map_err(|e| CliError::Runtime(e.to_string()))?;
                if let (Some(obj), Some(s)) = (v.as_object_mut(), &sign_in) {
                    obj.insert("sign_in".into(), json!(s));
                }
                output::json(&v)
            } else {
                print(&m, sign_in.as_ref());
                Ok(())
            }
        }
        MailboxCmd::SignIn { email, auth_code, wait } => {
            let json_out = ctx.json;
            let rt = super::runtime()?;
            let status = if auth_code {
                let open = |url: String| async move {
                    if json_out {
                        println!("{}", json!({ "authorize_url": url }));
                    } else {
                        println!("Open this address in a browser on this machine and sign in:\n{url}");
                    }
                    let _ = std::io::Write::flush(&mut std::io::stdout());
                };
                rt.block_on(oauth::sign_in_auth_code(store, &email, open, Duration::from_secs(wait.max(1))))
                    .map_err(|e| again(e, &email))?
            } else {
                let prompt = |p: &DevicePrompt| {
                    if json_out {
                        println!("{}", json!(p));
                    } else {
                        println!(
                            "To sign in {email}, open {} on any device and enter the code {}",
                            p.verification_uri, p.user_code
                        );
                        println!("(waiting up to {} s for the sign-in)", p.expires_in_secs);
                    }
                    let _ = std::io::Write::flush(&mut std::io::stdout());
                };
                rt.block_on(oauth::sign_in_device(store, &email, prompt)).map_err(|e| again(e, &email))?
            };
            if json_out {
                output::json(&json!({ "mailbox": email, "sign_in": status }))
            } else {
                println!("mailbox {email} signed in: {}", sign_in_words(&status));
                println!("run `crmsync mailbox test-enable {email}` next");
                Ok(())
            }
        }
        MailboxCmd::SignOut { email } => {
            let had = oauth::sign_out(store, &email)?;
            if ctx.json {
                output::json(&json!({ "mailbox": email, "signed_out": had }))
            } else {
                println!(
                    "mailbox {email}: {}",
                    if had { "signed out (tokens removed)" } else { "was not signed in" }
                );
                Ok(())
            }
        }
    }
}

fn targets(store: &Store, email: Option<String>, all: bool) -> Result<Vec<String>, CliError> {
    if all {
        let list: Vec<String> = mailboxes::list(store)?.into_iter().map(|m| m.data.email).collect();
        if list.is_empty() {
            return Err(CliError::Invalid(
                "all: there are no mailboxes; add one with `crmsync mailbox add`".into(),
            ));
        }
        Ok(list)
    } else {
        let email = email.unwrap_or_default();
        Ok(vec![mailboxes::show(store, &email)?.data.email])
    }
}

fn print_report(r: &TestReport) {
    println!("{}: {}", r.mailbox, r.overall);
    for c in &r.channels {
        let mark = match c.status {
            crmsync_core::model::ChannelStatus::Success => "ok  ",
            crmsync_core::model::ChannelStatus::Failure => "FAIL",
            crmsync_core::model::ChannelStatus::NotRun => "-   ",
        };
        println!(
            "  {mark} {:<9} {}{}",
            c.channel,
            c.code.as_ref().map(|c| format!("[{c}] ")).unwrap_or_default(),
            c.message
        );
        if let Some(h) = &c.hint {
            println!("       what to do: {}", crate::hints::what_to_do(h, c.action, Some(&r.mailbox)));
        }
        if c.enabled {
            println!("       enabled");
        }
    }
}
