//! The decision table, case by case, and a property test: two syncs in a
//! row converge (the second plans nothing) whatever happened on either side.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::config::{ConflictPolicy, Directions, LeaveFilterAction};
use super::item::{Item, ItemKind, TaskItem, TaskPriority, TaskStatus};
use super::merge::{MergeMode, Side, merge};
use super::plan::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum C {
    Absent,
    Same,
    Changed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum R {
    Absent,
    Same,
    /// New ETag, same content.
    EtagOnly,
    /// Changed, to something else than the CRM's change.
    Changed,
    /// Changed to exactly what the CRM changed to.
    ChangedLikeCrm,
}

const CS: [C; 3] = [C::Absent, C::Same, C::Changed];
const RS: [R; 5] = [R::Absent, R::Same, R::EtagOnly, R::Changed, R::ChangedLikeCrm];

fn ctx(kind: ItemKind, policy: ConflictPolicy, leave: LeaveFilterAction) -> PlanContext {
    PlanContext { kind, policy, leave, brake_percent: 100, brake_confirmed: false }
}

/// Builds the three snapshots of one item (record 1, href "/c/1.ics") from its case.
fn case(c: C, in_filter: bool, r: R, with_status: bool) -> (Vec<CrmSnap>, Vec<RemoteSnap>, Vec<StatusRow>) {
    let t1 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let t2 = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
    let crm = match c {
        C::Absent => vec![],
        C::Same | C::Changed => vec![CrmSnap {
            record_id: 1,
            uid: "u1".into(),
            emails: vec!["a@x.test".into()],
            hash: if c == C::Same { "h0".into() } else { "h-crm".into() },
            modified: Some(t1),
            in_filter,
        }],
    };
    let remote = match r {
        R::Absent => vec![],
        _ => vec![RemoteSnap {
            href: "/c/1.ics".into(),
            etag: if r == R::Same { "e0".into() } else { "e1".into() },
            uid: "u1".into(),
            emails: vec!["a@x.test".into()],
            hash: match r {
                R::Same | R::EtagOnly => "h0".into(),
                R::Changed => "h-srv".into(),
                _ => "h-crm".into(),
            },
            modified: Some(t2),
        }],
    };
    let status = if with_status {
        vec![StatusRow {
            record_id: 1,
            href: "/c/1.ics".into(),
            etag: "e0".into(),
            crm_hash: "h0".into(),
            remote_hash: "h0".into(),
        }]
    } else {
        vec![]
    };
    (crm, remote, status)
}

fn sync(winner: Side, mode: MergeMode, conflict: bool) -> Option<Action> {
    Some(Action::Sync { record_id: 1, href: "/c/1.ics".into(), winner, mode, conflict })
}

/// The decision table, written out case by case (docs/act-sync.md).
fn expected(c: C, in_filter: bool, r: R, with_status: bool, cx: &PlanContext) -> Option<Action> {
    let (record_id, href) = (1, "/c/1.ics".to_string());
    let remote_changed = matches!(r, R::Changed | R::ChangedLikeCrm);
    if with_status {
        return match (c, r) {
            (C::Absent, R::Absent) => Some(Action::Forget { record_id, href }),
            (C::Absent, _) if remote_changed => Some(Action::CreateCrm { href, resurrect: true }),
            (C::Absent, _) => Some(Action::DeleteServer { record_id, href }),
            (_, R::Absent) if !in_filter => Some(Action::Unlink { record_id, href }),
            (C::Same, R::Absent) => Some(Action::DeleteCrm { record_id, href }),
            (C::Changed, R::Absent) => Some(Action::CreateServer { record_id, resurrect: true }),
            (_, _) if !in_filter && remote_changed => Some(Action::Unlink { record_id, href }),
            (_, _) if !in_filter => Some(match (cx.leave, cx.kind) {
                (LeaveFilterAction::Unlink, _) | (LeaveFilterAction::Cancel, ItemKind::Contact) => {
                    Action::Unlink { record_id, href }
                }
                (LeaveFilterAction::Delete, _) => Action::DeleteServer { record_id, href },
                (LeaveFilterAction::Cancel, _) => Action::CancelServer { record_id, href },
            }),
            (C::Same, R::Same) => None,
            (C::Same, R::EtagOnly) => Some(Action::Restatus { record_id, href }),
            (C::Same, _) => sync(Side::Server, MergeMode::Replace, false),
            (C::Changed, R::Same | R::EtagOnly) => sync(Side::Crm, MergeMode::Replace, false),
            (C::Changed, R::ChangedLikeCrm) => Some(Action::Restatus { record_id, href }),
            (C::Changed, _) => match cx.policy {
                ConflictPolicy::KeepBoth => Some(Action::KeepBoth { record_id, href }),
                ConflictPolicy::CrmWins => sync(Side::Crm, MergeMode::Replace, true),
                // The server's change is the later one in these cases.
                ConflictPolicy::ServerWins | ConflictPolicy::MostRecent => {
                    sync(Side::Server, MergeMode::Replace, true)
                }
            },
        };
    }
    match (c, r) {
        (C::Absent, R::Absent) => None,
        (C::Absent, _) => Some(Action::CreateCrm { href, resurrect: false }),
        (_, R::Absent) if in_filter => Some(Action::CreateServer { record_id, resurrect: false }),
        (_, R::Absent) => None,
        (_, _) if !in_filter => None,
        // Without status "same" means the hashes agree.
        (C::Same, R::Same | R::EtagOnly) | (C::Changed, R::ChangedLikeCrm) => {
            Some(Action::Link { record_id, href })
        }
        _ => match cx.policy {
            ConflictPolicy::KeepBoth => sync(Side::Crm, MergeMode::Fill, false),
            ConflictPolicy::CrmWins => sync(Side::Crm, MergeMode::Replace, false),
            ConflictPolicy::ServerWins | ConflictPolicy::MostRecent => {
                sync(Side::Server, MergeMode::Replace, false)
            }
        },
    }
}

#[test]
fn every_case_of_the_decision_table() {
    let mut cases = 0;
    for kind in [ItemKind::Appointment, ItemKind::Task, ItemKind::Contact] {
        for policy in ConflictPolicy::ALL {
            for leave in LeaveFilterAction::ALL {
                let cx = ctx(kind, *policy, *leave);
                for with_status in [true, false] {
                    for c in CS {
                        for in_filter in [true, false] {
                            for r in RS {
                                let (crm, remote, status) = case(c, in_filter, r, with_status);
                                let got = plan(&crm, &remote, &status, &cx);
                                let want = expected(c, in_filter, r, with_status, &cx);
                                assert_eq!(
                                    got.actions,
                                    want.clone().into_iter().collect::<Vec<_>>(),
                                    "{kind} {policy} {leave} status={with_status} crm={c:?} in_filter={in_filter} remote={r:?}"
                                );
                                assert!(got.held.is_empty());
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 3 * 4 * 3 * 2 * 3 * 2 * 5);
}

#[test]
fn a_changed_item_is_never_deleted() {
    for policy in ConflictPolicy::ALL {
        for leave in LeaveFilterAction::ALL {
            let cx = ctx(ItemKind::Task, *policy, *leave);
            for in_filter in [true, false] {
                for (c, r) in [(C::Changed, R::Absent), (C::Absent, R::Changed), (C::Same, R::Changed)] {
                    let (crm, remote, status) = case(c, in_filter, r, true);
                    for a in plan(&crm, &remote, &status, &cx).actions {
                        assert!(
                            !matches!(
                                a,
                                Action::DeleteCrm { .. }
                                    | Action::DeleteServer { .. }
                                    | Action::CancelServer { .. }
                            ),
                            "{a:?} for {c:?}/{r:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn contacts_are_matched_by_email_on_first_sync_and_other_kinds_are_not() {
    let mk = |kind| {
        let crm = vec![CrmSnap {
            record_id: 7,
            uid: "crm-uid".into(),
            emails: vec!["ann@x.test".into()],
            hash: "h".into(),
            modified: None,
            in_filter: true,
        }];
        let remote = vec![RemoteSnap {
            href: "/ab/1.vcf".into(),
            etag: "e".into(),
            uid: "srv-uid".into(),
            emails: vec!["other@x.test".into(), "ann@x.test".into()],
            hash: "h".into(),
            modified: None,
        }];
        plan(&crm, &remote, &[], &ctx(kind, ConflictPolicy::KeepBoth, LeaveFilterAction::Unlink)).actions
    };
    assert_eq!(mk(ItemKind::Contact), vec![Action::Link { record_id: 7, href: "/ab/1.vcf".into() }]);
    assert_eq!(
        mk(ItemKind::Task),
        vec![
            Action::CreateCrm { href: "/ab/1.vcf".into(), resurrect: false },
            Action::CreateServer { record_id: 7, resurrect: false }
        ]
    );
}

#[test]
fn a_server_side_duplicate_uid_is_not_imported_twice() {
    let crm = vec![CrmSnap {
        record_id: 1,
        uid: "u".into(),
        emails: vec![],
        hash: "h".into(),
        modified: None,
        in_filter: true,
    }];
    let remote = ["/c/a.ics", "/c/b.ics"]
        .map(|h| RemoteSnap {
            href: h.into(),
            etag: "e".into(),
            uid: "u".into(),
            emails: vec![],
            hash: "h".into(),
            modified: None,
        })
        .to_vec();
    let status = vec![StatusRow {
        record_id: 1,
        href: "/c/a.ics".into(),
        etag: "e".into(),
        crm_hash: "h".into(),
        remote_hash: "h".into(),
    }];
    let p = plan(
        &crm,
        &remote,
        &status,
        &ctx(ItemKind::Appointment, ConflictPolicy::KeepBoth, LeaveFilterAction::Unlink),
    );
    assert_eq!(p.actions, vec![]);
}

#[test]
fn the_brake_holds_a_mass_delete_until_confirmed() {
    let n = 10;
    let status: Vec<StatusRow> = (0..n)
        .map(|i| StatusRow {
            record_id: i,
            href: format!("/c/{i}.ics"),
            etag: "e".into(),
            crm_hash: "h".into(),
            remote_hash: "h".into(),
        })
        .collect();
    let crm: Vec<CrmSnap> = (0..n)
        .map(|i| CrmSnap {
            record_id: i,
            uid: format!("u{i}"),
            emails: vec![],
            hash: "h".into(),
            modified: None,
            in_filter: true,
        })
        .collect();
    // The server was emptied.
    let mut cx = ctx(ItemKind::Appointment, ConflictPolicy::KeepBoth, LeaveFilterAction::Unlink);
    cx.brake_percent = 50;
    let p = plan(&crm, &[], &status, &cx);
    assert!(p.actions.is_empty());
    assert_eq!(p.held, vec![Brake { side: Side::Crm, deletes: 10, total: 10 }]);
    cx.brake_confirmed = true;
    assert_eq!(plan(&crm, &[], &status, &cx).actions.len(), 10);
    // A few deletes are not a mass delete.
    cx.brake_confirmed = false;
    let p = plan(&crm[..8], &[], &status[..8], &cx);
    assert_eq!(p.held.len(), 1);
    let remote: Vec<RemoteSnap> = (0..n)
        .map(|i| RemoteSnap {
            href: format!("/c/{i}.ics"),
            etag: "e".into(),
            uid: format!("u{i}"),
            emails: vec![],
            hash: "h".into(),
            modified: None,
        })
        .collect();
    let p = plan(&crm[1..], &remote, &status, &cx);
    assert_eq!(p.actions, vec![Action::DeleteServer { record_id: 0, href: "/c/0.ics".into() }]);
    assert!(brake_applies(6, 10, 50) && !brake_applies(5, 10, 50) && !brake_applies(1, 1, 50));
}

// ---- Property test: a simulated CRM and server, synced by plan + merge. ----

#[derive(Debug, Clone)]
struct World {
    crm: BTreeMap<i64, (Item, bool)>,   // record -> (item, in filter)
    srv: BTreeMap<String, (Item, u64)>, // href -> (item, etag counter)
    status: Vec<StatusRow>,
    next_id: i64,
    next_etag: u64,
}

fn task(uid: &str, summary: &str, body: Option<&str>, pct: u8) -> Item {
    Item::Task(TaskItem {
        uid: uid.into(),
        summary: summary.into(),
        description: body.map(Into::into),
        due: None,
        status: TaskStatus::NotStarted,
        priority: TaskPriority::Normal,
        percent_complete: pct,
    })
    .normalized()
}

impl World {
    fn snaps(&self) -> (Vec<CrmSnap>, Vec<RemoteSnap>) {
        let crm = self
            .crm
            .iter()
            .map(|(id, (it, f))| CrmSnap {
                record_id: *id,
                uid: it.uid().into(),
                emails: vec![],
                hash: it.content_hash(),
                modified: None,
                in_filter: *f,
            })
            .collect();
        let srv = self
            .srv
            .iter()
            .map(|(h, (it, e))| RemoteSnap {
                href: h.clone(),
                etag: e.to_string(),
                uid: it.uid().into(),
                emails: vec![],
                hash: it.content_hash(),
                modified: None,
            })
            .collect();
        (crm, srv)
    }

    fn put(&mut self, href: &str, it: Item) {
        self.next_etag += 1;
        self.srv.insert(href.to_string(), (it, self.next_etag));
    }

    fn set_status(&mut self, record_id: i64, href: &str) {
        self.status.retain(|s| s.record_id != record_id && s.href != href);
        let (c, _) = &self.crm[&record_id];
        let (r, e) = &self.srv[href];
        self.status.push(StatusRow {
            record_id,
            href: href.into(),
            etag: e.to_string(),
            crm_hash: c.content_hash(),
            remote_hash: r.content_hash(),
        });
    }

    fn drop_status(&mut self, record_id: i64, href: &str) {
        self.status.retain(|s| !(s.record_id == record_id && s.href == href));
    }

    fn sync(&mut self, cx: &PlanContext, dirs: &Directions) -> Plan {
        let (crm, srv) = self.snaps();
        let p = plan(&crm, &srv, &self.status, cx);
        for a in &p.actions {
            match a.clone() {
                Action::CreateServer { record_id, .. } => {
                    let href = format!("/c/{record_id}-{}.ics", self.next_etag);
                    let it = self.crm[&record_id].0.clone();
                    self.drop_status_of_record(record_id);
                    self.put(&href, it);
                    self.set_status(record_id, &href);
                }
                Action::CreateCrm { href, .. } => {
                    self.status.retain(|s| s.href != href);
                    self.next_id += 1;
                    let it = self.srv[&href].0.clone();
                    self.crm.insert(self.next_id, (it, true));
                    self.set_status(self.next_id, &href);
                }
                Action::Link { record_id, href } | Action::Restatus { record_id, href } => {
                    self.set_status(record_id, &href)
                }
                Action::Sync { record_id, href, winner, mode, .. } => {
                    let (c, f) = self.crm[&record_id].clone();
                    let s = self.srv[&href].0.clone();
                    let (nc, ns) = merge(&c, &s, winner, mode, dirs);
                    if nc != c {
                        self.crm.insert(record_id, (nc, f));
                    }
                    if ns != s {
                        self.put(&href, ns);
                    }
                    self.set_status(record_id, &href);
                }
                Action::KeepBoth { record_id, href } => {
                    let (c, f) = self.crm[&record_id].clone();
                    let s = self.srv[&href].0.clone();
                    self.next_id += 1;
                    let mut copy = c.clone();
                    copy.set_uid(format!("copy-{}", self.next_id));
                    self.crm.insert(self.next_id, (copy.clone(), true));
                    let copy_href = format!("/c/copy-{}.ics", self.next_id);
                    self.put(&copy_href, copy);
                    self.set_status(self.next_id, &copy_href);
                    let (nc, ns) = merge(&c, &s, Side::Server, MergeMode::Replace, dirs);
                    self.crm.insert(record_id, (nc, f));
                    if ns != s {
                        self.put(&href, ns);
                    }
                    self.set_status(record_id, &href);
                }
                Action::DeleteServer { record_id, href } => {
                    self.srv.remove(&href);
                    self.drop_status(record_id, &href);
                }
                Action::DeleteCrm { record_id, href } => {
                    self.crm.remove(&record_id);
                    self.drop_status(record_id, &href);
                }
                Action::Unlink { record_id, href } | Action::Forget { record_id, href } => {
                    self.drop_status(record_id, &href)
                }
                Action::CancelServer { record_id, href } => {
                    let mut s = self.srv[&href].0.clone();
                    if let Item::Task(t) = &mut s {
                        t.status = TaskStatus::Deferred;
                    }
                    self.put(&href, s);
                    self.drop_status(record_id, &href);
                }
            }
        }
        p
    }

    fn drop_status_of_record(&mut self, record_id: i64) {
        self.status.retain(|s| s.record_id != record_id);
    }
}

#[derive(Debug, Clone)]
enum Edit {
    CrmAdd(u8, bool),
    CrmSubject(usize, u8),
    CrmBody(usize, u8),
    CrmDelete(usize),
    CrmFilter(usize, bool),
    SrvAdd(u8),
    SrvSubject(usize, u8),
    SrvBody(usize, u8),
    SrvDelete(usize),
    SrvTouch(usize),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0u8..4, any::<bool>()).prop_map(|(v, f)| Edit::CrmAdd(v, f)),
        (0usize..8, 0u8..4).prop_map(|(i, v)| Edit::CrmSubject(i, v)),
        (0usize..8, 0u8..3).prop_map(|(i, v)| Edit::CrmBody(i, v)),
        (0usize..8).prop_map(Edit::CrmDelete),
        (0usize..8, any::<bool>()).prop_map(|(i, f)| Edit::CrmFilter(i, f)),
        (0u8..4).prop_map(Edit::SrvAdd),
        (0usize..8, 0u8..4).prop_map(|(i, v)| Edit::SrvSubject(i, v)),
        (0usize..8, 0u8..3).prop_map(|(i, v)| Edit::SrvBody(i, v)),
        (0usize..8).prop_map(Edit::SrvDelete),
        (0usize..8).prop_map(Edit::SrvTouch),
    ]
}

fn apply_edit(w: &mut World, e: &Edit, n: &mut u64) {
    *n += 1;
    let crm_key = |w: &World, i: usize| w.crm.keys().nth(i % w.crm.len().max(1)).copied();
    let srv_key = |w: &World, i: usize| w.srv.keys().nth(i % w.srv.len().max(1)).cloned();
    match *e {
        Edit::CrmAdd(v, f) => {
            w.next_id += 1;
            w.crm.insert(w.next_id, (task(&format!("c{}", w.next_id), &format!("s{v}"), None, v), f));
        }
        Edit::CrmSubject(i, v) | Edit::CrmBody(i, v) => {
            if let Some(k) = crm_key(w, i) {
                let (it, f) = w.crm[&k].clone();
                let Item::Task(mut t) = it else { unreachable!() };
                if matches!(e, Edit::CrmSubject(..)) {
                    t.summary = format!("crm{v}");
                } else {
                    t.description = Some(format!("crm-body{v}"));
                }
                w.crm.insert(k, (Item::Task(t).normalized(), f));
            }
        }
        Edit::CrmDelete(i) => {
            if let Some(k) = crm_key(w, i) {
                w.crm.remove(&k);
            }
        }
        Edit::CrmFilter(i, f) => {
            if let Some(k) = crm_key(w, i) {
                w.crm.get_mut(&k).unwrap().1 = f;
            }
        }
        Edit::SrvAdd(v) => {
            let href = format!("/c/s{n}.ics");
            w.put(&href, task(&format!("s{n}"), &format!("srv{v}"), None, v));
        }
        Edit::SrvSubject(i, _) | Edit::SrvBody(i, _) | Edit::SrvTouch(i) if !w.srv.is_empty() => {
            let h = srv_key(w, i).unwrap();
            let Item::Task(mut t) = w.srv[&h].0.clone() else { unreachable!() };
            match *e {
                Edit::SrvSubject(_, v) => t.summary = format!("srv{v}"),
                Edit::SrvBody(_, v) => t.description = Some(format!("srv-body{v}")),
                _ => {}
            }
            w.put(&h, Item::Task(t).normalized());
        }
        Edit::SrvDelete(i) => {
            if let Some(h) = srv_key(w, i) {
                w.srv.remove(&h);
            }
        }
        _ => {}
    }
}

fn dirs_strategy() -> impl Strategy<Value = Directions> {
    use super::config::Direction as D;
    let d = prop_oneof![Just(D::TwoWay), Just(D::CrmToServer), Just(D::ServerToCrm), Just(D::None)];
    (d.clone(), d.clone(), d).prop_map(|(subject, body, location)| Directions { subject, body, location })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn two_syncs_in_a_row_converge(
        before in prop::collection::vec(edit_strategy(), 0..12),
        between in prop::collection::vec(edit_strategy(), 0..12),
        policy in prop::sample::select(ConflictPolicy::ALL.to_vec()),
        leave in prop::sample::select(LeaveFilterAction::ALL.to_vec()),
        dirs in dirs_strategy(),
    ) {
        let cx = PlanContext { kind: ItemKind::Task, policy, leave, brake_percent: 100, brake_confirmed: true };
        let mut w = World { crm: BTreeMap::new(), srv: BTreeMap::new(), status: vec![], next_id: 0, next_etag: 0 };
        let mut n = 0;
        for e in &before { apply_edit(&mut w, e, &mut n); }
        w.sync(&cx, &dirs);
        prop_assert!(w.sync(&cx, &dirs).actions.is_empty(), "first sync did not converge: {:?}", w);
        for e in &between { apply_edit(&mut w, e, &mut n); }
        w.sync(&cx, &dirs);
        let again = w.sync(&cx, &dirs);
        prop_assert!(again.actions.is_empty(), "second sync planned {:?} in {:?}", again.actions, w);
        // Every synced pair agrees on the fields that flow both ways.
        for s in &w.status {
            let (c, _) = &w.crm[&s.record_id];
            let (r, _) = &w.srv[&s.href];
            let (Item::Task(c), Item::Task(r)) = (c, r) else { unreachable!() };
            prop_assert_eq!(c.percent_complete, r.percent_complete);
            prop_assert_eq!(&c.uid, &r.uid);
        }
    }
}
