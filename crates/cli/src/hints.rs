//! The command line's words for what an alert asks the admin to do
//! ([`crmsync_core::hints::Action`]); the desktop says the same in its own.

use crmsync_core::hints::Action;

/// How to do `action` with `crmsync`, for the mailbox (or profile) `subject`.
pub fn words(action: Action, subject: Option<&str>) -> String {
    let who = subject.unwrap_or("EMAIL");
    match action {
        Action::EnterPassword => format!(
            "Run `crmsync mailbox update {who} --password-stdin` (or `crmsync profile update NAME --password-stdin` for a profile's login), then `crmsync mailbox test-enable {who}`."
        ),
        Action::ApproveMailbox => format!("Run `crmsync mailbox approve {who}`."),
        Action::EnableMailbox => format!("`crmsync mailbox enable {who}` enables it now."),
        Action::ConfirmMassDelete => format!("Run `crmsync mailbox act-confirm {who}`."),
        Action::SignIn => format!(
            "Run `crmsync mailbox sign-in {who}` (add `--auth-code` to sign in in a browser on this machine), then `crmsync mailbox test-enable {who}`."
        ),
        Action::AddForwardMailbox => {
            "Run `crmsync mailbox add ADDRESS --profile NAME --incoming forward` for that user.".to_string()
        }
    }
}

/// `hint` followed by the command for `action`, when there is one.
pub fn what_to_do(hint: &str, action: Option<Action>, subject: Option<&str>) -> String {
    match action {
        Some(a) => format!("{hint} {}", words(a, subject)),
        None => hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_command() {
        for a in Action::ALL {
            assert!(words(a, Some("a@b.test")).contains("crmsync "), "{a:?}");
        }
        assert!(words(Action::ApproveMailbox, Some("a@b.test")).contains("crmsync mailbox approve a@b.test"));
    }
}
