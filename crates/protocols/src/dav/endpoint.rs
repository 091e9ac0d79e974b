//! What a CalDAV/CardDAV URL says before anything is sent to it: the server it
//! names (host, port, TLS or not), and the one rule for plaintext `http://`
//! URLs. Profile validation, Test & Enable, Test Connection and the ACT sync
//! all ask [`check_plaintext`], so the rule is written once.

use crate::error::{Proto, ProtocolError, Result};

/// The server a DAV URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavEndpoint {
    /// True for `https://` (TLS from the first byte).
    pub tls: bool,
    /// Host name or address as written in the URL (without any `user@`).
    pub host: String,
    /// The URL's port, else 443 for https and 80 for http.
    pub port: u16,
}

impl DavEndpoint {
    /// Reads the scheme, host and port of `url`; a URL without a scheme is
    /// taken as plaintext.
    pub fn parse(url: &str) -> DavEndpoint {
        let url = url.trim();
        let (tls, default_port, rest) = match strip_scheme(url, "https://") {
            Some(rest) => (true, 443, rest),
            None => (false, 80, strip_scheme(url, "http://").unwrap_or(url)),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                (h.to_string(), p.parse().unwrap_or(default_port))
            }
            _ => (authority.to_string(), default_port),
        };
        DavEndpoint { tls, host, port }
    }
}

fn strip_scheme<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    let head = url.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme).then(|| &url[scheme.len()..])
}

/// True when `url` is a plaintext `http://` URL (in any letter case).
pub fn is_plaintext(url: &str) -> bool {
    strip_scheme(url.trim(), "http://").is_some()
}

/// The rule for a DAV URL: `https://` always; plaintext `http://` only on a
/// profile that allows insecure connections, since the password and every
/// appointment and contact would cross the network in clear text. Loopback
/// addresses get no exception (as for IMAP, POP3 and SMTP). Otherwise the
/// error is `PLAINTEXT_REFUSED`, naming the URL's host and port.
pub fn check_plaintext(url: &str, allow_insecure: bool) -> Result<()> {
    if allow_insecure || !is_plaintext(url) {
        return Ok(());
    }
    let DavEndpoint { host, port, .. } = DavEndpoint::parse(url);
    Err(ProtocolError::PlaintextRefused { proto: Proto::Dav, host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_its_host_port_and_security() {
        let e = DavEndpoint::parse("https://dav.example.com/remote.php/dav");
        assert_eq!(e, DavEndpoint { tls: true, host: "dav.example.com".into(), port: 443 });
        let e = DavEndpoint::parse("http://127.0.0.1:5232/");
        assert_eq!(e, DavEndpoint { tls: false, host: "127.0.0.1".into(), port: 5232 });
        let e = DavEndpoint::parse("HTTPS://[::1]:8443?x#y");
        assert_eq!(e, DavEndpoint { tls: true, host: "[::1]".into(), port: 8443 });
        let e = DavEndpoint::parse("http://anna@dav.example.com");
        assert_eq!(e, DavEndpoint { tls: false, host: "dav.example.com".into(), port: 80 });
    }

    #[test]
    fn plaintext_is_refused_unless_the_profile_allows_it_loopback_included() {
        for url in ["http://dav.example.com/", "HTTP://dav.example.com/", "http://127.0.0.1:5232/"] {
            let e = check_plaintext(url, false).unwrap_err();
            assert_eq!(e.code(), "PLAINTEXT_REFUSED", "{url}");
            assert!(check_plaintext(url, true).is_ok(), "{url}");
        }
        let e = check_plaintext("http://localhost.example.net:8080/dav", false).unwrap_err();
        assert!(e.to_string().contains("DAV server localhost.example.net:8080"), "{e}");
        assert!(check_plaintext("https://dav.example.com/", false).is_ok());
    }
}
