use super::*;
use crate::migrate::test_support::*;

fn err(src: &str) -> (u32, String, String) {
    match parse("EmailAgent.xml", src) {
        Err(EngineError::Migration { line, path, message, .. }) => (line, path, message),
        other => panic!("expected a migration error, got {other:?}"),
    }
}

#[test]
fn the_sample_parses_into_four_typed_provider_blocks_without_warnings() {
    let c = parse("EmailAgent.xml", &sample_config()).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let summary: Vec<_> =
        c.providers.iter().map(|b| (b.provider_type, b.direction, b.forward_mailbox, b.line)).collect();
    assert_eq!(
        summary,
        [
            (ProviderType::Exchange2010, Direction::Inbound, false, 48),
            (ProviderType::Pop3, Direction::Inbound, false, 73),
            (ProviderType::Smtp, Direction::Outbound, false, 95),
            (ProviderType::Exchange2010, Direction::Inbound, true, 118),
        ]
    );
    let ex = &c.providers[0];
    assert_eq!(ex.path, "Configuration/ProviderConfiguration[1]");
    assert_eq!(ex.access, Some(Access::OtherSpecified));
    assert_eq!(ex.email_user.as_deref(), Some("CONTOSO\\svc-crmrouter"));
    assert!(ex.has_password);
    assert_eq!(ex.user_ids.len(), 2);
    assert_eq!(ex.queue_ids[0].value, "8a0d3c55-4b7e-e311-9401-00155d0a1b01");
    assert_eq!(c.providers[1].port.as_ref().map(|p| p.value), Some(995));
    assert_eq!(c.providers[3].addresses[0].value, "crm-forward@contoso.com");
    assert!(c.providers[3].delete_emails);
}

#[test]
fn element_names_are_matched_case_insensitively() {
    let lower = sample_config()
        .replace("<ProviderConfiguration>", "<providerconfiguration>")
        .replace("</ProviderConfiguration>", "</providerconfiguration>")
        .replace("EmailServerType>", "EMAILSERVERTYPE>")
        .replace("UserId>", "userid>");
    let a = parse("x", &sample_config()).unwrap();
    let b = parse("x", &lower).unwrap();
    // Paths keep the file's own spelling; everything else is the same.
    let fold = |c: &RouterConfig| serde_json::to_string(&c.providers).unwrap().to_lowercase();
    assert_eq!(fold(&a), fold(&b));
    assert_eq!(b.providers[0].user_ids.len(), 2);
}

#[test]
fn unknown_elements_are_warnings_with_path_and_line() {
    let src = config(&[block(&[
        ("EmailServerType", "SMTP"),
        ("CrmServerUrl", ORG),
        ("EmailServerLocation", "smtp.contoso.test"),
        ("FavouriteColour", "blue"),
    ])])
    .replace("<MaxThreads>", "<MaxFun>1</MaxFun><MaxThreads>");
    let c = parse("EmailAgent.xml", &src).unwrap();
    let got: Vec<_> = c.warnings.iter().map(|w| (w.path.clone().unwrap(), w.line.unwrap())).collect();
    assert_eq!(
        got,
        [
            ("Configuration/SystemConfiguration/MaxFun".to_string(), 3),
            ("Configuration/ProviderConfiguration/FavouriteColour".to_string(), 8),
        ]
    );
    assert_eq!(
        c.warnings[1].to_string(),
        "EmailAgent.xml line 8: Configuration/ProviderConfiguration/FavouriteColour: unknown element, ignored"
    );
}

#[test]
fn custom_and_retired_providers_parse_without_their_server_details() {
    let src = config(&[
        block(&[("ProviderAssembly", "Contoso.Mail.dll"), ("ProviderClass", "Contoso.Mail.Poller")]),
        block(&[("EmailServerType", "Exchange2003")]),
        block(&[("EmailServerType", "Exchange2007"), ("EmailProtocol", "WebDAV")]),
    ]);
    let c = parse("x", &src).unwrap();
    let types: Vec<_> = c.providers.iter().map(|b| b.provider_type).collect();
    assert_eq!(types, [ProviderType::Custom, ProviderType::Exchange2003, ProviderType::Exchange2007WebDav]);
}

#[test]
fn bad_input_names_the_element_path_and_line() {
    let smtp_ok = [("EmailServerType", "SMTP"), ("CrmServerUrl", ORG), ("EmailServerLocation", "smtp.test")];
    let with = |extra: &[(&str, &str)]| {
        let mut c = smtp_ok.to_vec();
        c.extend_from_slice(extra);
        config(&[block(&smtp_ok), block(&c)])
    };
    // Block 2 starts on line 9; its children on lines 10, 11, 12, 13...
    let p2 = "Configuration/ProviderConfiguration[2]";
    let cases: Vec<(String, u32, String, &str)> = vec![
        (
            config(&[block(&smtp_ok), block(&[("ProviderType", "Foo"), ("CrmServerUrl", ORG)])]),
            10,
            format!("{p2}/ProviderType"),
            "'Foo' is not a known provider type",
        ),
        (with(&[("EmailPort", "70000")]), 13, format!("{p2}/EmailPort"), "not a port number"),
        (with(&[("EmailPort", "abc")]), 13, format!("{p2}/EmailPort"), "not a port number"),
        (with(&[("EmailUseSsl", "maybe")]), 13, format!("{p2}/EmailUseSsl"), "not true or false"),
        (with(&[("UserId", "alice")]), 13, format!("{p2}/UserId"), "not a CRM id"),
        (with(&[("EmailAddress", "alice")]), 13, format!("{p2}/EmailAddress"), "not an email address"),
        (with(&[("Direction", "Inbound")]), 13, format!("{p2}/Direction"), "SMTP provider cannot be Inbound"),
        (with(&[("Direction", "Sideways")]), 13, format!("{p2}/Direction"), "not Inbound or Outbound"),
        (with(&[("EmailAccessType", "Magic")]), 13, format!("{p2}/EmailAccessType"), "not LocalSystem"),
        (
            with(&[("EmailServerLocation", "other.test")]),
            13,
            format!("{p2}/EmailServerLocation[2]"),
            "appears twice",
        ),
        (
            config(&[block(&smtp_ok), block(&[("EmailServerType", "SMTP"), ("EmailServerLocation", "s")])]),
            9,
            format!("{p2}/CrmServerUrl"),
            "missing required element",
        ),
        (
            config(&[block(&smtp_ok), block(&[("EmailServerType", "POP3"), ("CrmServerUrl", ORG)])]),
            9,
            format!("{p2}/EmailServerLocation"),
            "missing required element",
        ),
        (
            config(&[block(&smtp_ok), block(&[("CrmServerUrl", ORG), ("EmailServerLocation", "s")])]),
            9,
            format!("{p2}/EmailServerType"),
            "missing required element",
        ),
        (
            config(&[
                block(&smtp_ok),
                block(&[("EmailServerType", "ExchangeOnline"), ("CrmServerUrl", ORG)]),
            ]),
            9,
            format!("{p2}/Direction"),
            "missing required element",
        ),
        (
            config(&[
                block(&smtp_ok),
                block(&[
                    ("EmailServerType", "Exchange2010"),
                    ("CrmServerUrl", ORG),
                    ("EmailServerLocation", "https://x.test/EWS/Exchange.asmx"),
                    ("IsForwardMailbox", "true"),
                ]),
            ]),
            9,
            format!("{p2}/EmailAddress"),
            "missing required element",
        ),
        (
            "<Settings><ProviderConfiguration/></Settings>".to_string(),
            1,
            "Settings".to_string(),
            "expected <Configuration>",
        ),
        (
            config(&[block(&smtp_ok)])
                .replace("<EmailServerType>SMTP", "<ProviderConfiguration/><EmailServerType>SMTP"),
            5,
            "Configuration/ProviderConfiguration/ProviderConfiguration".to_string(),
            "must not contain another provider block",
        ),
        (
            config(&[block(&smtp_ok)]).replace("</EmailServerType>", "</EmailServerTyp>"),
            5,
            "Configuration/ProviderConfiguration/EmailServerType".to_string(),
            "not well-formed",
        ),
    ];
    for (src, line, path, msg) in cases {
        let got = err(&src);
        assert_eq!((got.0, got.1.as_str()), (line, path.as_str()), "{msg}: {}\n{src}", got.2);
        assert!(got.2.contains(msg), "expected '{msg}' in '{}'", got.2);
    }
}

#[test]
fn the_error_message_reads_file_line_path_and_reason() {
    let src = config(&[block(&[("ProviderType", "Foo")])]);
    let e = parse("EmailAgent.xml", &src).unwrap_err();
    assert!(e.is_invalid_input());
    assert!(
        e.to_string().starts_with(
            "EmailAgent.xml line 5: Configuration/ProviderConfiguration/ProviderType: 'Foo' is not a known provider type"
        ),
        "{e}"
    );
}
