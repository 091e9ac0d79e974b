//! Test Connection from the profile page: the form the UI sends (an optional
//! user name and password typed for this test only) and its checks. The test
//! itself is the engine's (`admin::connection_test`), the same as
//! `crmsync profile test`.

use crmsync_core::secrets::Secret;
use serde::Deserialize;
use ts_rs::TS;

use crate::wire::IpcError;

/// Test Connection form: both a user name and a password to also log in, or
/// neither to check the connection only. The password is never stored (nor
/// serialized: a [`Secret`] has no `Serialize`). The desktop's own: the
/// engine takes these as plain arguments (`connection_test::prepare`), as the
/// CLI gives them from its options.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct ConnectionTestForm {
    pub username: Option<String>,
    /// Empty means "not given", as `null` does.
    #[serde(default, deserialize_with = "crmsync_core::secrets::non_empty")]
    pub password: Option<Secret>,
}

impl ConnectionTestForm {
    /// The credentials to log in with, refusing half of them with the field to mark.
    pub fn credentials(self) -> Result<Option<(String, Secret)>, IpcError> {
        let username = self.username.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
        match (username, self.password) {
            (Some(u), Some(p)) => Ok(Some((u, p))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(IpcError::Invalid {
                field: "password".into(),
                message: "give the password to log in with, or clear the user name".into(),
            }),
            (None, Some(_)) => Err(IpcError::Invalid {
                field: "username".into(),
                message: "give the user name to log in as, or clear the password".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(json: &str) -> ConnectionTestForm {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_empty_form_tests_the_connection_only() {
        assert!(form(r#"{"username":"","password":""}"#).credentials().unwrap().is_none());
        assert!(form(r#"{"username":null,"password":null}"#).credentials().unwrap().is_none());
    }

    #[test]
    fn a_user_name_and_a_password_log_in_and_the_password_never_shows_in_debug() {
        let f = form(r#"{"username":" alice@example.com ","password":"hunter2"}"#);
        assert!(!format!("{f:?}").contains("hunter2"));
        let (user, pw) = f.credentials().unwrap().unwrap();
        assert_eq!((user.as_str(), pw.expose()), ("alice@example.com", "hunter2"));
    }

    #[test]
    fn half_the_credentials_mark_the_missing_field() {
        let e = form(r#"{"username":"alice","password":""}"#).credentials().unwrap_err();
        assert!(matches!(e, IpcError::Invalid { ref field, .. } if field == "password"), "{e:?}");
        let e = form(r#"{"username":"","password":"x"}"#).credentials().unwrap_err();
        assert!(matches!(e, IpcError::Invalid { ref field, .. } if field == "username"), "{e:?}");
    }
}
