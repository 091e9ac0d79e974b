//! `crmsync mailbox history` and `crmsync mailbox explain`.

use crmsync_core::Store;
use crmsync_engine::admin::history::{self, ExplainQuery};

use super::Ctx;
use crate::CliError;
use crate::output;

/// The mailbox's runs, newest first: `HH:MM channel: what happened`, dated.
pub fn history(ctx: &Ctx, store: &Store, email: &str, limit: Option<&str>) -> Result<(), CliError> {
    let runs = history::mailbox_history(store, email, limit)?;
    if ctx.json {
        return output::json(&runs);
    }
    if runs.is_empty() {
        println!("no sync run recorded for {} yet", email.trim());
    }
    for r in &runs {
        let when = r.run.started_on.get(..16).unwrap_or(&r.run.started_on).replace('T', " ");
        println!("{when} UTC  {}", r.summary);
    }
    Ok(())
}

/// Why an email was (not) tracked, in words.
pub fn explain(
    ctx: &Ctx,
    store: &Store,
    email: &str,
    message_id: Option<&str>,
    subject: Option<&str>,
) -> Result<(), CliError> {
    let q = match (message_id, subject) {
        (Some(id), _) => ExplainQuery::MessageId(id),
        (None, Some(s)) => ExplainQuery::Subject(s),
        (None, None) => {
            return Err(CliError::Invalid("message-id: give --message-id ID or --subject TEXT".into()));
        }
    };
    let e = history::explain(store, email, q)?;
    if ctx.json {
        return output::json(&e);
    }
    if e.found.is_empty() {
        println!(
            "{} has seen no such email in the last {} days (history.retention_days).",
            e.mailbox, e.retention_days
        );
        if !e.unidentified.is_empty() {
            println!(
                "These emails were seen without their headers, so they cannot be looked up by Message-ID or subject:"
            );
            for u in &e.unidentified {
                println!("- {}", u.answer);
            }
        }
    }
    for f in &e.found {
        println!("{}", f.answer);
    }
    Ok(())
}
