//! SASL messages shared by the IMAP, POP3 and SMTP clients: what goes on the
//! wire for PLAIN (RFC 4616, with an authorization identity), XOAUTH2
//! (Google's and Microsoft's bearer-token mechanism) and OAUTHBEARER
//! (RFC 7628), which bearer mechanism to use, and how to read the server's
//! error challenge. Pure: no I/O, unit-tested here.
//!
//! A bearer login that the server refuses goes: client sends the initial
//! response → server sends an error challenge (base64 JSON such as
//! `{"status":"401","schemes":"bearer","scope":"mail"}`) → client answers it
//! ([`Bearer::error_answer`]: an empty response for XOAUTH2, `0x01` for
//! OAUTHBEARER) → server says NO / -ERR / 535. The decoded challenge goes
//! into the error message; the token never does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// A bearer-token mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bearer {
    /// RFC 7628 OAUTHBEARER.
    OAuthBearer,
    /// XOAUTH2, the older mechanism Microsoft 365 and Google speak.
    XOAuth2,
}

impl Bearer {
    /// The mechanism's name as servers announce it.
    pub fn name(self) -> &'static str {
        match self {
            Bearer::OAuthBearer => "OAUTHBEARER",
            Bearer::XOAuth2 => "XOAUTH2",
        }
    }

    /// The bearer mechanism to use among those the server offers (`offers`
    /// answers for an upper-case name): OAUTHBEARER, the standard, when
    /// offered, else XOAUTH2 (all Microsoft 365 offers). None when neither is.
    pub fn choose(offers: impl Fn(&str) -> bool) -> Option<Bearer> {
        [Bearer::OAuthBearer, Bearer::XOAuth2].into_iter().find(|m| offers(m.name()))
    }

    /// The client's first message (not yet base64-encoded). `host` and
    /// `port` go into OAUTHBEARER's key/value pairs (RFC 7628 3.1).
    pub fn initial_response(self, user: &str, token: &str, host: &str, port: u16) -> Vec<u8> {
        match self {
            Bearer::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01").into_bytes(),
            // The GS2 header carries the authorization identity `a=`: RFC
            // 7628 makes it optional, but Dovecot 2.3 refuses OAUTHBEARER
            // without it.
            Bearer::OAuthBearer => format!(
                "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01",
                gs2_escape(user)
            )
            .into_bytes(),
        }
    }

    /// What the client sends after an error challenge so the server can end
    /// the exchange with its failure reply (not yet base64-encoded): nothing
    /// for XOAUTH2, a single `0x01` for OAUTHBEARER (RFC 7628 3.2.3).
    pub fn error_answer(self) -> &'static [u8] {
        match self {
            Bearer::XOAuth2 => b"",
            Bearer::OAuthBearer => b"\x01",
        }
    }

    /// [`Bearer::error_answer`] base64-encoded, as a line for POP3 and SMTP.
    pub fn error_answer_line(self) -> String {
        B64.encode(self.error_answer())
    }
}

/// RFC 5801 saslname: `,` and `=` escaped as `=2C` and `=3D`.
fn gs2_escape(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// The SASL PLAIN message (RFC 4616, not yet base64-encoded):
/// `authzid NUL authcid NUL password`. With an authorization identity the
/// server authenticates `authcid` (a service account, e.g. a Dovecot master
/// user) and logs it in as `authzid`.
pub fn plain(authzid: Option<&str>, authcid: &str, password: &str) -> Vec<u8> {
    let authzid = authzid.unwrap_or("");
    let mut raw = Vec::with_capacity(authzid.len() + authcid.len() + password.len() + 2);
    raw.extend_from_slice(authzid.as_bytes());
    raw.push(0);
    raw.extend_from_slice(authcid.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    raw
}

/// Base64 for the wire.
pub fn encode(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Reads a server challenge after a bearer initial response (already
/// base64-decoded): the error JSON of RFC 7628 3.2.2 (or XOAUTH2's) as a
/// short text for the admin, e.g. `status 401, scope "mail"`. A challenge
/// that is not such JSON is shown as (lossy) text, cut to 200 characters.
pub fn describe_error_challenge(challenge: &[u8]) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(challenge) else {
        let text = String::from_utf8_lossy(challenge);
        let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
        return if text.trim().is_empty() { "no reason given".into() } else { text };
    };
    let mut parts = Vec::new();
    for key in ["status", "scope", "schemes", "openid-configuration"] {
        match map.get(key) {
            Some(serde_json::Value::String(v)) => parts.push(format!("{} {v:?}", key.replace('-', " "))),
            Some(v) if !v.is_null() => parts.push(format!("{} {v}", key.replace('-', " "))),
            _ => {}
        }
    }
    if parts.is_empty() { "no reason given".into() } else { parts.join(", ") }
}

/// Decodes a base64 challenge as servers send it (`+ <b64>` or `334 <b64>`),
/// then [`describe_error_challenge`].
pub fn describe_base64_challenge(b64: &str) -> String {
    match B64.decode(b64.trim()) {
        Ok(bytes) => describe_error_challenge(&bytes),
        Err(_) => format!("undecodable challenge {:?}", b64.chars().take(80).collect::<String>()),
    }
}

/// The text of a refused bearer login: the server's final reply, and what
/// its error challenge said when there was one.
pub(crate) fn refusal(server_text: &str, challenge: Option<&str>) -> String {
    match challenge {
        Some(reason) => format!("the OAuth2 access token was refused ({reason}): {server_text}"),
        None => format!("the OAuth2 access token was refused: {server_text}"),
    }
}

/// The text of a refused PLAIN login with an authorization identity, saying
/// what to check.
pub(crate) fn on_behalf_refusal(authcid: &str, authzid: &str, server_text: &str) -> String {
    format!(
        "{authcid} may not log in on behalf of {authzid} (SASL PLAIN with an authorization identity), \
         or its password is wrong: {server_text}; check that the service account is allowed to \
         access other mailboxes (e.g. a Dovecot master user or a Cyrus admin)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoauth2_initial_response_is_googles_format() {
        let raw = Bearer::XOAuth2.initial_response("anna@example.com", "tok.en", "imap.example.com", 993);
        assert_eq!(raw, b"user=anna@example.com\x01auth=Bearer tok.en\x01\x01");
        assert_eq!(
            encode(&raw),
            "dXNlcj1hbm5hQGV4YW1wbGUuY29tAWF1dGg9QmVhcmVyIHRvay5lbgEB",
            "the base64 line on the wire"
        );
    }

    #[test]
    fn oauthbearer_carries_the_user_in_the_gs2_header() {
        let raw = Bearer::OAuthBearer.initial_response("anna@example.com", "tok", "mail.example.com", 143);
        assert_eq!(
            raw,
            b"n,a=anna@example.com,\x01host=mail.example.com\x01port=143\x01auth=Bearer tok\x01\x01"
        );
        let odd = Bearer::OAuthBearer.initial_response("a,b=c", "t", "h", 1);
        assert!(odd.starts_with(b"n,a=a=2Cb=3Dc,\x01"), "{:?}", String::from_utf8_lossy(&odd));
    }

    #[test]
    fn error_answers() {
        assert_eq!(Bearer::XOAuth2.error_answer_line(), "");
        assert_eq!(Bearer::OAuthBearer.error_answer_line(), "AQ==");
    }

    #[test]
    fn oauthbearer_is_preferred_and_xoauth2_is_the_fallback() {
        assert_eq!(Bearer::choose(|m| m == "XOAUTH2" || m == "OAUTHBEARER"), Some(Bearer::OAuthBearer));
        assert_eq!(Bearer::choose(|m| m == "XOAUTH2" || m == "PLAIN"), Some(Bearer::XOAuth2));
        assert_eq!(Bearer::choose(|m| m == "PLAIN"), None);
    }

    #[test]
    fn plain_with_and_without_authorization_identity() {
        assert_eq!(plain(None, "tim", "pw"), b"\0tim\0pw");
        assert_eq!(plain(Some("anna@example.com"), "svc", "pw"), b"anna@example.com\0svc\0pw");
        assert_eq!(encode(&plain(Some("a"), "b", "c")), "YQBiAGM=");
    }

    #[test]
    fn error_challenges_are_decoded_for_the_admin() {
        // Dovecot's XOAUTH2 challenge, as sent.
        let b64 = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0=";
        assert_eq!(describe_base64_challenge(b64), r#"status "401", scope "mail", schemes "bearer""#);
        assert_eq!(describe_error_challenge(br#"{"status":"invalid_token"}"#), r#"status "invalid_token""#);
        let google = br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#;
        assert!(describe_error_challenge(google).contains("https://mail.google.com/"));
        assert_eq!(describe_error_challenge(b""), "no reason given");
        assert_eq!(describe_error_challenge(b"not json\x01"), "not json");
        assert!(describe_base64_challenge("%%%").starts_with("undecodable"));
    }
}
