//! `crmsync email ...`: outgoing email.

use crmsync_core::Store;
use crmsync_core::store::activities::ActivityView;
use crmsync_engine::admin::outgoing::{self, SendInput};

use super::Ctx;
use crate::CliError;
use crate::cli::{EmailCmd, EmailSendArgs};
use crate::output::{self, opt};

fn print(a: &ActivityView, what: &str) {
    println!("email {} {what}: {}", a.id, opt(&a.status));
    output::fields(&[
        ("subject", a.subject.clone()),
        ("from", opt(&a.sender_mailbox)),
        ("message id", opt(&a.message_id)),
        ("tracking token", opt(&a.tracking_token)),
    ]);
}

/// Runs an email command.
pub fn run(ctx: &Ctx, store: &mut Store, cmd: EmailCmd) -> Result<(), CliError> {
    let (view, what) = match cmd {
        EmailCmd::Send(a) => {
            let EmailSendArgs {
                from,
                to,
                cc,
                bcc,
                subject,
                body,
                body_file,
                html_file,
                attach,
                regarding,
                in_reply_to,
                send_at,
                draft,
            } = *a;
            let input = SendInput {
                from,
                to,
                cc,
                bcc,
                subject,
                body,
                body_file,
                html_file,
                attach,
                regarding,
                in_reply_to,
                send_at,
                draft,
            };
            (outgoing::send(store, &input)?, "created")
        }
        EmailCmd::Submit { id } => (outgoing::submit(store, &id)?, "submitted"),
        EmailCmd::Cancel { id } => (outgoing::cancel(store, &id)?, "canceled"),
    };
    if ctx.json {
        output::json(&view)
    } else {
        print(&view, what);
        Ok(())
    }
}
