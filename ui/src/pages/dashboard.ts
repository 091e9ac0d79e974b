import { call } from "../api";
import { whatToDo } from "../hints";
import type { StatusView } from "../bindings";
import { h } from "../dom";
import { trayLook } from "../health";
import { badge, empty, healthBadge, link, messageArea, page, severityBadge, showError, table, when } from "../ui";

export async function dashboardPage(): Promise<HTMLElement> {
  const s: StatusView = await call("status");
  const msg = messageArea();
  const act = (cmd: "sync_now" | "pause" | "resume", done: string) => async () => {
    try {
      await call(cmd);
      msg.textContent = done;
    } catch (e) {
      showError(msg, e);
    }
  };
  // Another process holds the store's lease: its engine syncs, not ours.
  const controls = s.engine_problem !== null
    ? h("p", { class: "engine-problem", id: "engine-problem" }, s.engine_problem)
    : h(
    "div",
    { class: "toolbar" },
    h("button", { type: "button", onclick: act("sync_now", "Sync started.") }, "⟳ Sync now"),
    s.paused
      ? h("button", { type: "button", onclick: act("resume", "Resumed.") }, "▶ Resume")
      : h("button", { type: "button", onclick: act("pause", "Paused.") }, "‖ Pause"),
  );
  const overall = h(
    "div",
    { class: "panel", id: "overall" },
    h("h2", {}, "Status"),
    h("p", {}, badge(trayLook(s.tray)), " ", h("span", { id: "status-summary" }, s.summary)),
    controls,
    msg,
  );
  if (s.profiles === 0 || s.mailboxes.length === 0) {
    return page(
      "Dashboard",
      overall,
      h(
        "div",
        { class: "panel", id: "first-run" },
        h("h2", {}, "Get started"),
        h(
          "ol",
          { class: "steps" },
          h("li", { class: s.profiles > 0 ? "done" : "" }, s.profiles > 0 ? "✔ " : "", link("#/profiles", "Add an email server profile"), " — where your mail server is and how to reach it."),
          h("li", {}, link("#/mailboxes", "Add a mailbox"), " for a user or a queue, with its password."),
          h("li", {}, "Run ", h("strong", {}, "Test & Enable"), " on the mailbox: crmsync checks the login and starts tracking email."),
        ),
        h("p", {}, "Moving from the Dynamics CRM Email Router? ", link("#/migrate", "Migrate its configuration"), "."),
      ),
    );
  }
  const c = s.counts;
  const counts = h(
    "ul",
    { class: "counts", "aria-label": "Mailbox health counts" },
    ([
      ["error", c.error ?? 0],
      ["warning", c.warning ?? 0],
      ["disabled", c.disabled ?? 0],
      ["not_configured", c.not_configured ?? 0],
      ["syncing", c.syncing ?? 0],
      ["ok", c.ok ?? 0],
    ] as const).map(([k, n]) => h("li", {}, healthBadge(k), h("span", { class: "count" }, String(n)))),
  );
  const mailboxes = table(
    ["Health", "Mailbox", "Owner", "Profile", "Last error"],
    s.mailboxes.map((r) => [
      healthBadge(r.health),
      link(`#/mailboxes/${encodeURIComponent(r.mailbox.email)}`, r.mailbox.email),
      r.mailbox.owner.name,
      r.mailbox.profile,
      r.mailbox.telemetry.last_error ? `${r.mailbox.telemetry.last_error.code}: ${r.mailbox.telemetry.last_error.message}` : "—",
    ]),
    "Mailboxes, failing first",
  );
  const alerts = s.recent_alerts.length
    ? table(
        ["Severity", "Code", "Subject", "What to do", "Last seen"],
        s.recent_alerts.map((a) => [severityBadge(a.severity), a.code, a.mailbox ?? a.profile ?? a.scope, whatToDo(a.hint, a.action), when(a.last_seen)]),
        "Recent alerts",
      )
    : empty("No open alerts.");
  return page(
    "Dashboard",
    overall,
    h("div", { class: "panel" }, h("h2", {}, "Mailboxes"), counts, mailboxes),
    h("div", { class: "panel" }, h("h2", {}, "Recent alerts"), alerts, link("#/alerts", "All alerts")),
    h(
      "div",
      { class: "panel" },
      h("h2", {}, "Queues"),
      h(
        "dl",
        { class: "queues" },
        h("dt", {}, "Mailboxes scheduled"),
        h("dd", {}, String(s.queues.mailboxes)),
        h("dt", {}, "Outgoing email"),
        h("dd", {}, String(s.queues.outgoing)),
        h("dt", {}, "Async operations"),
        h("dd", {}, String(s.queues.async_ops)),
      ),
      h("p", { class: "help" }, `Store: ${s.store_path}`),
    ),
  );
}
