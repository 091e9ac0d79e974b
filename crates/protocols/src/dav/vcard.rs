//! vCard 3.0 / 4.0 (RFC 2426, RFC 6350) ⇄ typed contacts, through calcard.

use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty, VCardType,
    VCardValue, VCardVersion,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use crmsync_core::act::item::ContactItem;

use super::ical::{ItemError, Parsed};
use super::patch::Doc;

fn values(e: &VCardEntry) -> Vec<String> {
    let mut out = Vec::new();
    for v in &e.values {
        match v {
            VCardValue::Component(parts) => out.push(parts.join(",")),
            other => out.push(other.as_text().unwrap_or_default().to_string()),
        }
    }
    out
}

fn first_text(card: &VCard, p: &VCardProperty) -> Option<String> {
    card.property(p)
        .and_then(|e| values(e).into_iter().next())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn has_type(e: &VCardEntry, t: &VCardType, word: &str) -> bool {
    e.params.iter().any(|p| match (&p.name, &p.value) {
        (VCardParameterName::Type, VCardParameterValue::Type(x)) => x == t,
        (VCardParameterName::Type, VCardParameterValue::Text(x)) => x.eq_ignore_ascii_case(word),
        _ => false,
    })
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Reads a contact from a vCard.
pub fn parse_contact(data: &str) -> Result<Parsed<ContactItem>, ItemError> {
    let card = VCard::parse(data).map_err(|e| {
        ItemError(format!("not a vCard: {}", format!("{e:?}").chars().take(120).collect::<String>()))
    })?;
    // A missing UID (against RFC 6352, but common in exports) is left empty: the engine names the item by its href.
    let uid = card.uid().map(|u| u.trim().to_string()).unwrap_or_default();
    let (mut first, mut last) = (None, None);
    if let Some(n) = card.property(&VCardProperty::N) {
        let parts = values(n);
        last = non_empty(parts.first());
        first = non_empty(parts.get(1));
    }
    if card.property(&VCardProperty::N).is_none()
        && let Some(fname) = first_text(&card, &VCardProperty::Fn)
    {
        // Split at the last whitespace of any kind and trim both parts like N's:
        // a stray CR kept in a name would not survive writing it back.
        match fname.trim().rsplit_once(char::is_whitespace) {
            Some((f, l)) => {
                first = non_empty(Some(&f.to_string()));
                last = non_empty(Some(&l.to_string()));
            }
            None => last = non_empty(Some(&fname)),
        }
    }
    let emails = card
        .properties(&VCardProperty::Email)
        .filter_map(|e| values(e).into_iter().next())
        .map(|e| e.trim().trim_start_matches("mailto:").to_string())
        .filter(|e| e.contains('@'))
        .collect();
    let (mut phone, mut mobile) = (None, None);
    for t in card.properties(&VCardProperty::Tel) {
        let Some(v) = values(t).into_iter().next() else { continue };
        // Trimmed again after the scheme: "tel: 123" is the number "123".
        let v = v.trim().trim_start_matches("tel:").trim().to_string();
        if v.is_empty() {
            continue;
        }
        if has_type(t, &VCardType::Cell, "cell") {
            mobile.get_or_insert(v);
        } else {
            phone.get_or_insert(v);
        }
    }
    let company = card.property(&VCardProperty::Org).and_then(|e| non_empty(values(e).first()));
    let adr = card
        .properties(&VCardProperty::Adr)
        .find(|a| has_type(a, &VCardType::Work, "work"))
        .or_else(|| card.property(&VCardProperty::Adr))
        .map(values)
        .unwrap_or_default();
    let rev = first_text(&card, &VCardProperty::Rev).and_then(|r| {
        let r = r.replace(['-', ':'], "");
        let r = r.trim_end_matches('Z');
        NaiveDateTime::parse_from_str(r, "%Y%m%dT%H%M%S")
            .ok()
            .map(|t| DateTime::<Utc>::from_naive_utc_and_offset(t, Utc))
    });
    let item = ContactItem {
        uid,
        first_name: first,
        last_name: last,
        emails,
        company,
        phone,
        mobile_phone: mobile,
        street: non_empty(adr.get(2)),
        city: non_empty(adr.get(3)),
        region: non_empty(adr.get(4)),
        postal_code: non_empty(adr.get(5)),
        country: non_empty(adr.get(6)),
    };
    Ok(Parsed { item, modified: rev })
}

fn e(name: VCardProperty, params: Vec<VCardParameter>, values: Vec<String>) -> VCardEntry {
    VCardEntry { group: None, name, params, values: values.into_iter().map(VCardValue::Text).collect() }
}

fn typ(t: VCardType) -> VCardParameter {
    VCardParameter { name: VCardParameterName::Type, value: VCardParameterValue::Type(t) }
}

/// Writes a contact as a vCard of `version` (3.0 or 4.0).
pub fn write_contact(c: &ContactItem, v4: bool) -> String {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    let full = crmsync_core::model::person_name(
        c.first_name.as_deref(),
        c.last_name.as_deref(),
        c.emails.first().map(String::as_str),
    );
    let full = if full.is_empty() { c.company.clone().unwrap_or_else(|| "(no name)".into()) } else { full };
    let mut entries = vec![
        e(VCardProperty::Uid, vec![], vec![c.uid.clone()]),
        e(VCardProperty::Fn, vec![], vec![full]),
        e(
            VCardProperty::N,
            vec![],
            vec![s(&c.last_name), s(&c.first_name), String::new(), String::new(), String::new()],
        ),
    ];
    for (i, m) in c.emails.iter().enumerate() {
        let mut p = vec![];
        if i == 0 {
            p.push(if v4 {
                VCardParameter { name: VCardParameterName::Pref, value: VCardParameterValue::Integer(1) }
            } else {
                VCardParameter {
                    name: VCardParameterName::Type,
                    value: VCardParameterValue::Text("PREF".into()),
                }
            });
        }
        entries.push(e(VCardProperty::Email, p, vec![m.clone()]));
    }
    if let Some(o) = &c.company {
        entries.push(e(VCardProperty::Org, vec![], vec![o.clone()]));
    }
    if let Some(p) = &c.phone {
        entries.push(e(
            VCardProperty::Tel,
            vec![typ(VCardType::Work), typ(VCardType::Voice)],
            vec![p.clone()],
        ));
    }
    if let Some(p) = &c.mobile_phone {
        entries.push(e(VCardProperty::Tel, vec![typ(VCardType::Cell)], vec![p.clone()]));
    }
    if [&c.street, &c.city, &c.region, &c.postal_code, &c.country].iter().any(|f| f.is_some()) {
        entries.push(e(
            VCardProperty::Adr,
            vec![typ(VCardType::Work)],
            vec![
                String::new(),
                String::new(),
                s(&c.street),
                s(&c.city),
                s(&c.region),
                s(&c.postal_code),
                s(&c.country),
            ],
        ));
    }
    entries.push(e(VCardProperty::Rev, vec![], vec![Utc::now().format("%Y%m%dT%H%M%SZ").to_string()]));
    let mut out = String::new();
    let version = if v4 { VCardVersion::V4_0 } else { VCardVersion::V3_0 };
    let _ = VCard { entries }.write_to(&mut out, version);
    out
}

/// One content line parsed alone, in a vCard of the document's version.
fn one_entry(line: &str, v4: bool) -> Option<VCardEntry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let version = if v4 { "4.0" } else { "3.0" };
    let probe = format!("BEGIN:VCARD\r\nVERSION:{version}\r\n{line}\r\nEND:VCARD\r\n");
    let card = VCard::parse(&probe).ok()?;
    card.entries.into_iter().find(|e| e.name != VCardProperty::Version)
}

fn email_of(e: &VCardEntry) -> Option<String> {
    values(e).into_iter().next().map(|v| v.trim().trim_start_matches("mailto:").to_ascii_lowercase())
}

fn tel_of(e: &VCardEntry) -> Option<String> {
    values(e)
        .into_iter()
        .next()
        .map(|v| v.trim().trim_start_matches("tel:").trim().to_string())
        .filter(|v| !v.is_empty())
}

/// An update of a contact on the server: `new` patched into the server's vCard
/// `raw` (which reads as `old`). Only what changed is rewritten: N and FN, each
/// added or removed EMAIL, ORG, the TEL read as the phone or as the mobile, the
/// ADR read as the address, REV; every other line — PHOTO, X-SOCIALPROFILE,
/// other phones and addresses, groups, parameters — stays byte-for-byte.
pub fn patch_contact(raw: &str, old: &ContactItem, new: &ContactItem) -> Result<String, ItemError> {
    let v4 = raw.contains("VERSION:4.0");
    let mut doc = Doc::parse(raw);
    let fresh = Doc::parse(&write_contact(new, v4));
    let no_card = || ItemError("the server's vCard cannot be patched: no VCARD".into());
    let card = *doc.children(None, "VCARD").first().ok_or_else(no_card)?;
    let fcard = *fresh.children(None, "VCARD").first().ok_or_else(no_card)?;
    if old == new {
        return Ok(raw.to_string());
    }
    let mut names = vec!["REV"];
    if old.first_name != new.first_name || old.last_name != new.last_name {
        names.extend(["N", "FN"]);
    }
    if old.company != new.company {
        names.push("ORG");
    }
    for n in names {
        doc.set_prop(card, n, fresh.prop_texts(fcard, n));
    }
    if old.emails != new.emails {
        let wanted: Vec<String> = new.emails.iter().map(|e| e.trim().to_ascii_lowercase()).collect();
        let mut kept: Vec<String> = Vec::new();
        for i in doc.props(card, "EMAIL") {
            let Some(e) = one_entry(doc.text(i), v4).as_ref().and_then(email_of) else { continue };
            if !e.contains('@') {
                continue; // not read as an email: not crmsync's
            }
            if wanted.contains(&e) {
                kept.push(e);
            } else {
                doc.remove_line(i);
            }
        }
        for i in fresh.props(fcard, "EMAIL") {
            let e = one_entry(fresh.text(i), v4).as_ref().and_then(email_of);
            if e.is_some_and(|e| !kept.contains(&e)) {
                doc.append_prop(card, fresh.text(i));
            }
        }
    }
    // The phone and the mobile are the first non-cell and the first cell TEL.
    let tels: Vec<(usize, bool)> = doc
        .props(card, "TEL")
        .into_iter()
        .filter_map(|i| {
            let e = one_entry(doc.text(i), v4)?;
            tel_of(&e)?;
            Some((i, has_type(&e, &VCardType::Cell, "cell")))
        })
        .collect();
    let ftels: Vec<(usize, bool)> = fresh
        .props(fcard, "TEL")
        .into_iter()
        .filter_map(|i| Some((i, has_type(&one_entry(fresh.text(i), v4)?, &VCardType::Cell, "cell"))))
        .collect();
    for (cell, was, now) in [(false, &old.phone, &new.phone), (true, &old.mobile_phone, &new.mobile_phone)] {
        if was == now {
            continue;
        }
        let line = tels.iter().find(|t| t.1 == cell).map(|t| t.0);
        let text = ftels.iter().find(|t| t.1 == cell).map(|t| fresh.text(t.0).to_string());
        match (line, text) {
            (Some(i), Some(t)) => doc.replace_line(i, &t),
            (Some(i), None) => doc.remove_line(i),
            (None, Some(t)) => doc.append_prop(card, &t),
            (None, None) => {}
        }
    }
    let address =
        |c: &ContactItem| [&c.street, &c.city, &c.region, &c.postal_code, &c.country].map(|f| f.clone());
    if address(old) != address(new) {
        let adrs = doc.props(card, "ADR");
        let work = adrs
            .iter()
            .copied()
            .find(|i| one_entry(doc.text(*i), v4).is_some_and(|e| has_type(&e, &VCardType::Work, "work")));
        let text = fresh.prop_texts(fcard, "ADR").into_iter().next();
        match (work.or(adrs.first().copied()), text) {
            (Some(i), Some(t)) => doc.replace_line(i, &t),
            (Some(i), None) => doc.remove_line(i),
            (None, Some(t)) => doc.append_prop(card, &t),
            (None, None) => {}
        }
    }
    Ok(doc.render())
}

#[cfg(test)]
mod patch_tests {
    use super::*;

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nFN:Sam Server\r\nN:Server;Sam;;;\r\n\
EMAIL;TYPE=INTERNET,HOME:sam@home.test\r\nitem1.EMAIL;TYPE=INTERNET:sam@work.test\r\nitem1.X-ABLabel:work\r\n\
TEL;TYPE=WORK:+1 555 0001\r\nTEL;TYPE=FAX:+1 555 0002\r\nORG:Contoso;Sales\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEx\r\n QWFBMTFRscHx4fHhwcICQuJyAiLCMcHCg3KSwwMTQ0NB8nOT04MjwuMzQy\r\n\
X-SOCIALPROFILE;TYPE=twitter:https://twitter.com/sam\r\nNOTE:Met at the fair\r\nREV:20260101T000000Z\r\nEND:VCARD\r\n";

    fn rev_line(body: &str) -> &str {
        body.split("\r\n").find(|l| l.starts_with("REV:")).unwrap()
    }

    #[test]
    fn a_name_edit_rewrites_only_n_fn_and_rev() {
        let old = parse_contact(CARD).unwrap().item;
        let mut new = old.clone();
        new.first_name = Some("Samuel".into());
        let patched = patch_contact(CARD, &old, &new).unwrap();
        let expected = CARD
            .replacen("FN:Sam Server\r\n", "FN:Samuel Server\r\n", 1)
            .replacen("N:Server;Sam;;;\r\n", "N:Server;Samuel;;;\r\n", 1)
            .replacen("REV:20260101T000000Z", rev_line(&patched), 1);
        assert_eq!(patched, expected);
        assert_eq!(parse_contact(&patched).unwrap().item, new);
    }

    #[test]
    fn emails_and_phones_are_patched_one_by_one() {
        let old = parse_contact(CARD).unwrap().item;
        let mut new = old.clone();
        new.emails = vec!["sam@work.test".into(), "sam@new.test".into()];
        new.phone = Some("+1 555 9999".into());
        new.mobile_phone = Some("+1 555 7777".into());
        let patched = patch_contact(CARD, &old, &new).unwrap();
        assert!(!patched.contains("sam@home.test"), "{patched}");
        for kept in [
            "item1.EMAIL;TYPE=INTERNET:sam@work.test\r\nitem1.X-ABLabel:work\r\n",
            "TEL;TYPE=FAX:+1 555 0002\r\n",
            "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ",
            " QWFBMTFRscHx4f",
            "X-SOCIALPROFILE;TYPE=twitter:https://twitter.com/sam\r\n",
            "NOTE:Met at the fair\r\n",
        ] {
            assert!(patched.contains(kept), "{kept} lost:\n{patched}");
        }
        let reread = parse_contact(&patched).unwrap().item;
        assert_eq!(reread.phone.as_deref(), Some("+1 555 9999"), "{patched}");
        assert_eq!(reread.mobile_phone.as_deref(), Some("+1 555 7777"), "{patched}");
        let mut emails = reread.emails.clone();
        emails.sort();
        assert_eq!(emails, vec!["sam@new.test", "sam@work.test"], "{patched}");
    }
}
