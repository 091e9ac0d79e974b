//! VTIMEZONE components for IANA zones (servers such as Radicale refuse a
//! TZID without one). Built from the tz database: the zone's two yearly
//! transitions around a given year, as STANDARD/DAYLIGHT with a yearly RRULE.

use calcard::icalendar::{
    ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty, ICalendarValue,
};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Weekday};
use chrono_tz::Tz;

fn entry(name: ICalendarProperty, v: String) -> ICalendarEntry {
    ICalendarEntry { name, params: vec![], values: vec![ICalendarValue::Text(v)] }
}

fn offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let s = secs.abs();
    format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
}

fn utc_offset(tz: Tz, t: NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(&t).fix().local_minus_utc()
}

/// The transitions of `year` in UTC: (instant, offset before, offset after).
fn transitions(tz: Tz, year: i32) -> Vec<(NaiveDateTime, i32, i32)> {
    let mut out = Vec::new();
    let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid").and_hms_opt(0, 0, 0).expect("valid");
    let mut prev = utc_offset(tz, start);
    let mut t = start;
    for _ in 0..(366 * 24) {
        let next = t + chrono::TimeDelta::hours(1);
        let o = utc_offset(tz, next);
        if o != prev {
            // Narrow to the minute.
            let mut lo = t;
            while lo + chrono::TimeDelta::minutes(1) <= next
                && utc_offset(tz, lo + chrono::TimeDelta::minutes(1)) == prev
            {
                lo += chrono::TimeDelta::minutes(1);
            }
            out.push((lo + chrono::TimeDelta::minutes(1), prev, o));
            prev = o;
        }
        t = next;
        if t.year() > year {
            break;
        }
    }
    out
}

fn byday(d: NaiveDate) -> String {
    let wd = match d.weekday() {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    };
    let last = (d + chrono::TimeDelta::days(7)).month() != d.month();
    let n = if last { -1 } else { ((d.day() - 1) / 7 + 1) as i32 };
    format!("{n}{wd}")
}

/// A VTIMEZONE for `name` around `year` and its STANDARD/DAYLIGHT children
/// (the caller links them), or None when the zone is unknown.
pub fn vtimezone(name: &str, year: i32) -> Option<(ICalendarComponent, Vec<ICalendarComponent>)> {
    let tz: Tz = name.parse().ok()?;
    let mut sub = Vec::new();
    let tr = transitions(tz, year);
    if tr.is_empty() {
        let jan = NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0)?;
        let o = utc_offset(tz, jan);
        sub.push(ICalendarComponent {
            component_type: ICalendarComponentType::Standard,
            entries: vec![
                entry(ICalendarProperty::Dtstart, "19700101T000000".into()),
                entry(ICalendarProperty::Tzoffsetfrom, offset(o)),
                entry(ICalendarProperty::Tzoffsetto, offset(o)),
            ],
            component_ids: vec![],
        });
    }
    for (utc, from, to) in tr {
        let local = utc + chrono::TimeDelta::seconds(i64::from(from));
        let kind =
            if to > from { ICalendarComponentType::Daylight } else { ICalendarComponentType::Standard };
        sub.push(ICalendarComponent {
            component_type: kind,
            entries: vec![
                entry(ICalendarProperty::Dtstart, local.format("%Y%m%dT%H%M%S").to_string()),
                entry(
                    ICalendarProperty::Rrule,
                    format!("FREQ=YEARLY;BYMONTH={};BYDAY={}", local.month(), byday(local.date())),
                ),
                entry(ICalendarProperty::Tzoffsetfrom, offset(from)),
                entry(ICalendarProperty::Tzoffsetto, offset(to)),
            ],
            component_ids: vec![],
        });
    }
    let parent = ICalendarComponent {
        component_type: ICalendarComponentType::VTimezone,
        entries: vec![entry(ICalendarProperty::Tzid, name.to_string())],
        component_ids: vec![],
    };
    Some((parent, sub))
}
