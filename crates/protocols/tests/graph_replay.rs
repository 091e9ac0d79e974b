//! The Graph client replaying Microsoft's documented calendarView delta
//! chain (two rounds, three pages in the first, a removed event in the
//! second) from `shared/fixtures/graph`, served by a loopback server; every
//! request the client sent is then validated against the fixtures' OpenAPI
//! subset.

#[path = "graph/support.rs"]
mod support;

use std::sync::Arc;

use crmsync_protocols::graph::enums::RemovedReason;
use crmsync_protocols::graph::{Event, GRAPH_ROOT, GraphClient, GraphConfig, Mailbox, SharedToken};
use crmsync_tests::scripted_http::{Answer, Request, ScriptedHttp};
use serde_json::json;
use support::{check_requests, fixtures};

/// (token in the request, or "" for the first, status, body) of each step.
fn chain() -> Vec<(String, u16, String)> {
    ["round1-page1", "round1-page2", "round1-page3", "round2"]
        .iter()
        .map(|step| {
            let dir = fixtures().join("calendar");
            let req =
                std::fs::read_to_string(dir.join(format!("calendarview-delta-{step}.request.http"))).unwrap();
            let resp = std::fs::read_to_string(dir.join(format!("calendarview-delta-{step}.response.http")))
                .unwrap();
            let line = req.lines().next().unwrap();
            let token = ["$skiptoken=", "$deltatoken="]
                .iter()
                .find_map(|k| line.split(k).nth(1))
                .map(|t| t.split_whitespace().next().unwrap().to_string())
                .unwrap_or_default();
            let (head, body) = resp.split_once("\n\n").unwrap();
            let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
            (token, status, body.to_string())
        })
        .collect()
}

#[tokio::test]
async fn the_documented_calendar_delta_chain_replays_through_the_client_with_valid_requests() {
    let steps = chain();
    let server = ScriptedHttp::start(move |r: &Request| {
        let step = steps.iter().find(|(token, _, _)| {
            if token.is_empty() {
                r.path.contains("startDateTime=") && !r.path.contains("token=")
            } else {
                r.path.ends_with(token.as_str())
            }
        });
        match step {
            Some((_, status, body)) => Answer::Full {
                status: *status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.clone().into_bytes(),
            },
            None => Answer::status(404),
        }
    })
    .await
    .unwrap();
    let config = GraphConfig { base_url: format!("{}/v1.0", server.base_url()), ..GraphConfig::default() };
    let c = GraphClient::new(config, Mailbox::Me, Arc::new(SharedToken::new("t"))).unwrap();
    let first = c.mailbox().calendar_view_delta("2016-12-01T00:00:00Z", "2016-12-30T00:00:00Z", 2);

    let (round1, delta) = c.collect::<Event>(&first).await.unwrap();
    let delta = delta.expect("round 1 ends with a delta link");
    assert!(delta.ends_with("$deltatoken=R0usmcMDNGg0J1E"), "{delta}");
    assert_eq!(round1.len(), 5, "the events of the three pages (2 + 2 + 1)");
    assert!(round1.iter().all(|e| !e.id.is_empty() && e.removed.is_none() && e.start.is_some()));

    let (round2, next) = c.collect::<Event>(&first.follow(&delta)).await.unwrap();
    assert!(next.unwrap().ends_with("$deltatoken=R0usmcFuQtZdtpk4"));
    let removed: Vec<_> = round2.iter().filter(|e| e.removed.is_some()).collect();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].removed.as_ref().unwrap().reason, Some(RemovedReason::Deleted));
    assert_eq!(round2.iter().filter(|e| e.removed.is_none()).count(), 1);

    let sent = server.requests();
    assert_eq!(sent.len(), 4, "one request per page");
    let cases: Vec<_> = sent
        .iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r.header("prefer"), Some("odata.maxpagesize=2"), "request {i}");
            let url = format!("{GRAPH_ROOT}{}", r.path.strip_prefix("/v1.0").unwrap());
            json!({"name": format!("request {i}"), "method": r.method, "url": url,
                   "headers": [["Prefer", r.header("prefer")]], "body": null, "fixture": null})
        })
        .collect();
    for (case, result) in cases.iter().zip(check_requests(&cases)) {
        assert_eq!(result["status"], "VALID", "{} {}: {}", case["method"], case["url"], result["errors"]);
    }
}
