import { call } from "../api";
import type { ActivityView, PartyView } from "../bindings";
import { fieldValue, h } from "../dom";
import { emailFrame } from "../emailFrame";
import { empty, field, link, messageArea, page, showError, table, when } from "../ui";

function party(p: PartyView): string {
  const who = p.name ? `${p.name} <${p.address ?? ""}>` : (p.address ?? "");
  return p.resolved ? `${who} → ${p.resolved.type} ${p.resolved.name}` : `${who} (unresolved)`;
}

export function activityDetail(a: ActivityView): HTMLElement {
  const rows: [string, string][] = [
    ["Type", a.direction ? `${a.type} (${a.direction})` : a.type],
    ["Status", a.status ?? "—"],
    ["From", a.from ? party(a.from) : "—"],
    ["To", a.to.map(party).join("; ") || "—"],
    ["Cc", a.cc.map(party).join("; ") || "—"],
    ["Regarding", a.regarding ? `${a.regarding.type} ${a.regarding.name}` : "—"],
    ["Received", when(a.received_on)],
    ["Receiving mailboxes", a.receiving_mailboxes.join(", ") || "—"],
    ["Tracking token", a.tracking_token ?? "—"],
    ["Correlated by", a.correlation_method ?? "—"],
    ["Attachments", a.attachments.map((x) => `${x.name} (${x.size} bytes${x.saved ? "" : ", not saved"})`).join(", ") || "none"],
  ];
  const body = a.body_html
    ? emailFrame(a.body_html, `Body of “${a.subject}”`)
    : h("pre", { class: "email-text" }, a.body_text ?? "");
  return h(
    "div",
    { class: "panel", id: "activity-detail" },
    h("h2", {}, a.subject || "(no subject)"),
    h("dl", { class: "telemetry" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("h3", {}, "Body"),
    body,
  );
}

export async function activitiesPage(id?: number, mailbox?: string): Promise<HTMLElement> {
  const mailboxes = await call("mailboxes_list");
  const msg = messageArea();
  const results = h("div", { id: "activity-results" });
  const detail = h("div", {});
  const filter = h(
    "form",
    { class: "filters", "aria-label": "Filter activities" },
    field({ name: "activity_type", label: "Type", type: "select", options: ["", "email", "appointment", "task"] }, "activities"),
    field({ name: "mailbox", label: "Mailbox", type: "select", options: ["", ...mailboxes.map((m) => m.mailbox.email)], value: mailbox }, "activities"),
    field({ name: "regarding", label: "Regarding (TYPE:KEY)" }, "activities"),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, "Filter")),
  );
  const load = async () => {
    const get = (n: string) => fieldValue(filter, n) || null;
    try {
      const list = await call("activities_list", {
        filter: { activity_type: get("activity_type"), mailbox: get("mailbox"), regarding: get("regarding"), limit: null },
      });
      results.replaceChildren(
        list.length
          ? table(
              ["Type", "Subject", "From", "Regarding", "Received"],
              list.map((a) => [
                a.type,
                link(`#/activities/${a.id}`, a.subject || "(no subject)"),
                a.from ? (a.from.name ?? a.from.address ?? "") : a.to.map((p) => p.address).join(", "),
                a.regarding ? `${a.regarding.type} ${a.regarding.name}` : "—",
                when(a.received_on ?? a.created_on),
              ]),
              "Activities",
            )
          : empty("No activities yet."),
      );
    } catch (e) {
      showError(msg, e, filter);
    }
  };
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  await load();
  if (id) {
    try {
      detail.replaceChildren(activityDetail(await call("activity_show", { id })));
    } catch (e) {
      showError(msg, e);
    }
  }
  return page("Activities", h("div", { class: "panel" }, filter, msg, results), detail);
}
