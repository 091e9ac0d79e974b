//! Builders for router files in tests, and the shared sample files.

use std::path::PathBuf;

/// The reference sample folder (`shared/reference/email-router-sample`), found
/// beside the repository or one of its parents; the tests fail without it.
pub fn sample_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/reference/email-router-sample"))
        .find(|p| p.is_dir())
        .expect("shared/reference/email-router-sample must exist beside the repository")
}

/// The sample EmailAgent.xml.
pub fn sample_config() -> String {
    std::fs::read_to_string(sample_dir().join("Microsoft.Crm.Tools.EmailAgent.xml")).unwrap()
}

/// The sample SystemState.xml.
pub fn sample_state() -> String {
    std::fs::read_to_string(sample_dir().join("Microsoft.Crm.Tools.EmailAgent.SystemState.xml")).unwrap()
}

/// A directory CSV for the sample's ids.
pub const SAMPLE_DIRECTORY: &str = "id,email,name\n\
    6f1c2a10-4b7e-e311-9401-00155d0a1a01,alice@contoso.com,Alice Adams\n\
    6f1c2a10-4b7e-e311-9401-00155d0a1a02,bob@contoso.com,Bob Brown\n\
    6f1c2a10-4b7e-e311-9401-00155d0a1a03,carol@contoso.com,Carol Clark\n\
    8a0d3c55-4b7e-e311-9401-00155d0a1b01,support@contoso.com,Support\n";

/// The deployment used by generated blocks.
pub const ORG: &str = "http://crm.contoso.local/Contoso";

/// A `<ProviderConfiguration>` with these children (repeat a name for lists).
pub fn block(children: &[(&str, &str)]) -> String {
    let mut s = String::from("  <ProviderConfiguration>\n");
    for (k, v) in children {
        s.push_str(&format!("    <{k}>{v}</{k}>\n"));
    }
    s.push_str("  </ProviderConfiguration>\n");
    s
}

/// A whole EmailAgent.xml around `blocks`.
pub fn config(blocks: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Configuration>\n  <SystemConfiguration><MaxThreads>50</MaxThreads></SystemConfiguration>\n{}</Configuration>\n",
        blocks.concat()
    )
}

/// An incoming Exchange 2010 block (service account) serving `ids` as users.
pub fn exchange(name: &str, url: &str, users: &[&str]) -> String {
    let mut c = vec![
        ("ProfileName", name),
        ("EmailServerType", "Exchange2010"),
        ("Direction", "Inbound"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", url),
        ("EmailUseSsl", "true"),
        ("EmailAccessType", "OtherSpecified"),
        ("EmailUser", "CONTOSO\\svc"),
        ("EmailPassword", "c2VjcmV0"),
    ];
    c.extend(users.iter().map(|u| ("UserId", *u)));
    block(&c)
}

/// An incoming POP3 block (user-specified credentials, SSL) serving `users`.
pub fn pop3(name: &str, host: &str, users: &[&str]) -> String {
    let mut c = vec![
        ("ProfileName", name),
        ("EmailServerType", "POP3"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", host),
        ("EmailUseSsl", "true"),
        ("EmailAccessType", "UserSpecified"),
    ];
    c.extend(users.iter().map(|u| ("UserId", *u)));
    block(&c)
}

/// An outgoing SMTP block (anonymous relay) serving `users`; `ssl` sets EmailUseSsl.
pub fn smtp(name: &str, host: &str, ssl: bool, users: &[&str]) -> String {
    let mut c = vec![
        ("ProfileName", name),
        ("EmailServerType", "SMTP"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", host),
        ("EmailUseSsl", if ssl { "true" } else { "false" }),
        ("EmailAccessType", "LocalSystem"),
        ("EmailAuthMode", "Anonymous"),
    ];
    c.extend(users.iter().map(|u| ("UserId", *u)));
    block(&c)
}

/// The n-th generated user id.
pub fn uid(n: usize) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// A directory CSV for generated ids 1..=n (`userN@contoso.test`).
pub fn directory_for(n: usize) -> String {
    let mut s = String::from("id,email,name\n");
    for i in 1..=n {
        s.push_str(&format!("{},user{i}@contoso.test,User {i}\n", uid(i)));
    }
    s
}
