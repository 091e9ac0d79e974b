//! vCard 3.0 / 4.0 (RFC 2426, RFC 6350) ⇄ typed contacts, through calcard.

use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty, VCardType,
    VCardValue, VCardVersion,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use crmsync_core::act::item::ContactItem;

use super::ical::{ItemError, Parsed};

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
        match fname.rsplit_once(' ') {
            Some((f, l)) => {
                first = Some(f.to_string());
                last = Some(l.to_string());
            }
            None => last = Some(fname),
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
        let v = v.trim().trim_start_matches("tel:").to_string();
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
