use super::*;
use crate::migrate::router::parse;
use crate::migrate::test_support::*;

fn blocks(xml: &[String]) -> Vec<ProviderBlock> {
    parse("EmailAgent.xml", &config(xml)).unwrap().providers
}

fn typed(t: &str, dir: &str, loc: &str) -> String {
    block(&[
        ("ProfileName", t),
        ("EmailServerType", t),
        ("Direction", dir),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", loc),
        ("EmailUseSsl", "true"),
    ])
}

/// (incoming type, outgoing type) → kind, or a fragment of the not-migrated reason; then a
/// fragment of a warning that must be there ("" = no warning).
#[test]
fn provider_pairs_merge_by_the_router_migration_table() {
    let ews = "https://mail.contoso.test/EWS/Exchange.asmx";
    type Side<'a> = Option<(&'a str, &'a str)>;
    let cases: &[(Side<'_>, Side<'_>, Result<&str, &str>, &str)] = &[
        (Some(("Exchange2007", ews)), Some(("SMTP", "smtp.test")), Ok("exchange"), "Exchange/SMTP"),
        (Some(("Exchange2010", ews)), Some(("SMTP", "smtp.test")), Ok("exchange"), "Exchange/SMTP"),
        (Some(("Exchange2013", ews)), Some(("ExchangeOnline", ews)), Ok("exchange"), ""),
        (Some(("ExchangeOnline", ews)), Some(("SMTP", "smtp.test")), Ok("exchange"), "Exchange/SMTP"),
        (Some(("ExchangeOnline", ews)), Some(("ExchangeOnline", ews)), Ok("exchange"), ""),
        (Some(("Exchange2010", ews)), None, Ok("exchange"), ""),
        (Some(("POP3", "pop.test")), Some(("SMTP", "smtp.test")), Ok("pop3-smtp"), ""),
        (Some(("POP3", "pop.test")), Some(("ExchangeOnline", ews)), Ok("exchange"), "POP3/Exchange"),
        (None, Some(("ExchangeOnline", ews)), Ok("exchange"), ""),
        (Some(("Exchange2003", "x")), Some(("SMTP", "smtp.test")), Err("Exchange 2003 is not migrated"), ""),
        (
            Some(("Exchange2003", "x")),
            Some(("ExchangeOnline", ews)),
            Err("Exchange 2003 is not migrated"),
            "",
        ),
        (Some(("Custom", "x")), Some(("Custom", "x")), Err("custom providers are not migrated"), ""),
        (Some(("POP3", "pop.test")), None, Err("no outgoing profile"), ""),
        (None, Some(("SMTP", "smtp.test")), Err("only an outgoing SMTP profile"), ""),
    ];
    for (inc, out, want, warning) in cases {
        let mut xml = Vec::new();
        if let Some((t, loc)) = inc {
            xml.push(typed(t, "Inbound", loc));
        }
        if let Some((t, loc)) = out {
            xml.push(typed(t, "Outbound", loc));
        }
        let b = blocks(&xml);
        let i = inc.map(|_| &b[0]);
        let o = out.map(|_| &b[b.len() - 1]);
        let got = map_pair("EmailAgent.xml", Pair { incoming: i, outgoing: o }).unwrap();
        let label = format!("{inc:?} + {out:?}");
        match (got, want) {
            (Mapped::Profile(spec), Ok(kind)) => {
                assert_eq!(spec.input.kind.as_deref(), Some(*kind), "{label}");
                let ws: Vec<_> = spec.warnings.iter().map(|w| w.message.clone()).collect();
                if warning.is_empty() {
                    assert!(ws.is_empty(), "{label}: {ws:?}");
                } else {
                    assert!(ws.iter().any(|w| w.contains(warning)), "{label}: {ws:?}");
                }
                validate("EmailAgent.xml", &spec, &spec.name, false).unwrap();
            }
            (Mapped::NotMigrated(reason), Err(fragment)) => {
                assert!(reason.contains(fragment), "{label}: {reason}")
            }
            (other, want) => panic!("{label}: got {other:?}, want {want:?}"),
        }
    }
}

#[test]
fn ssl_flags_ports_and_credentials_map_to_crmsync_profile_settings() {
    // (pop3 ssl, pop3 port, smtp ssl, smtp port) → incoming port/security, outgoing port/security
    type PortSec<'a> = (&'a str, &'a str);
    type Side<'a> = (bool, Option<&'a str>);
    let cases: &[(Side<'_>, Side<'_>, PortSec<'_>, PortSec<'_>)] = &[
        ((true, None), (true, None), ("995", "tls"), ("25", "starttls")),
        ((true, Some("1995")), (true, Some("587")), ("1995", "tls"), ("587", "starttls")),
        ((false, None), (true, Some("465")), ("110", "none"), ("465", "tls")),
        ((true, None), (false, None), ("995", "tls"), ("25", "none")),
    ];
    for ((pssl, pport), (sssl, sport), want_in, want_out) in cases {
        let mut p = vec![
            ("EmailServerType", "POP3"),
            ("CrmServerUrl", ORG),
            ("EmailServerLocation", "pop.test"),
            ("EmailUseSsl", if *pssl { "true" } else { "false" }),
        ];
        if let Some(port) = pport {
            p.push(("EmailPort", port));
        }
        let mut s = vec![
            ("EmailServerType", "SMTP"),
            ("CrmServerUrl", ORG),
            ("EmailServerLocation", "smtp.test"),
            ("EmailUseSsl", if *sssl { "true" } else { "false" }),
            ("EmailAuthMode", "Anonymous"),
        ];
        if let Some(port) = sport {
            s.push(("EmailPort", port));
        }
        let b = blocks(&[block(&p), block(&s)]);
        let Mapped::Profile(spec) =
            map_pair("x", Pair { incoming: Some(&b[0]), outgoing: Some(&b[1]) }).unwrap()
        else {
            panic!()
        };
        let i = &spec.input;
        assert_eq!((i.incoming_port.as_deref().unwrap(), i.incoming_security.as_deref().unwrap()), *want_in);
        assert_eq!((i.outgoing_port.as_deref().unwrap(), i.outgoing_security.as_deref().unwrap()), *want_out);
        assert_eq!(i.outgoing_auth.as_deref(), Some("none"), "Anonymous SMTP is a relay without AUTH");
        assert_eq!(spec.insecure.is_some(), !pssl || !sssl);
        assert_eq!(i.credentials.as_deref(), Some("mailbox"));
        assert_eq!(spec.name, "POP3 pop.test + SMTP smtp.test", "names fall back to type and host");
    }
}

#[test]
fn other_specified_access_becomes_profile_credentials_with_the_password_pending() {
    let b = blocks(&[crate::migrate::test_support::exchange(
        "Ex",
        "https://mail.contoso.test/EWS/Exchange.asmx",
        &[],
    )]);
    let Mapped::Profile(spec) = map_pair("x", Pair { incoming: Some(&b[0]), outgoing: None }).unwrap() else {
        panic!()
    };
    assert_eq!(spec.input.credentials.as_deref(), Some("profile"));
    assert_eq!(spec.input.username.as_deref(), Some("CONTOSO\\svc"));
    assert!(spec.password_pending);
    let data = validate("x", &spec, "Ex", false).unwrap();
    assert_eq!(data.ews_url.as_deref(), Some("https://mail.contoso.test/EWS/Exchange.asmx"));

    let no_user = blocks(&[block(&[
        ("EmailServerType", "Exchange2010"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", "https://x.test/EWS/Exchange.asmx"),
        ("EmailAccessType", "OtherSpecified"),
    ])]);
    let e = map_pair("x", Pair { incoming: Some(&no_user[0]), outgoing: None }).unwrap_err().to_string();
    assert!(e.contains("ProviderConfiguration/EmailUser: missing required element"), "{e}");
}

#[test]
fn values_the_admin_api_refuses_are_reported_at_the_router_element() {
    let b = blocks(&[pop3("P", "pop contoso", &[]), smtp("S", "smtp.test", true, &[])]);
    let Mapped::Profile(spec) = map_pair("x", Pair { incoming: Some(&b[0]), outgoing: Some(&b[1]) }).unwrap()
    else {
        panic!()
    };
    let e = validate("EmailAgent.xml", &spec, &spec.name, false).unwrap_err();
    assert!(e.is_invalid_input());
    let msg = e.to_string();
    assert!(
        msg.starts_with("EmailAgent.xml line 8: Configuration/ProviderConfiguration[1]/EmailServerLocation: 'pop contoso' is not a host name"),
        "{msg}"
    );
}
