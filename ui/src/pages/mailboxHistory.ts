// The mailbox page's history: the timeline of sync runs and the
// "why was this email not tracked?" search.
import { call } from "../api";
import type { Explanation, HistoryEntry } from "../bindings";
import { h, replace } from "../dom";
import { empty, messageArea, showError } from "../ui";

/** Local time of day of a stored time, e.g. "09:41". */
export function timeOfDay(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** Local date of a stored time, e.g. "2026-12-05". */
function dayOf(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso.slice(0, 10);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** One line of the timeline: "09:41 incoming: 3 tracked, 1 skipped (not a reply)". */
export function timelineLine(e: HistoryEntry): string {
  return `${timeOfDay(e.started_on)} ${e.summary}`;
}

/** The runs, newest first, grouped under their (local) day. */
export function timeline(entries: HistoryEntry[]): HTMLElement {
  if (!entries.length) return empty("No sync run recorded yet.");
  const list = h("ol", { class: "timeline", "aria-label": "Sync runs, newest first" });
  let day = "";
  for (const e of entries) {
    const d = dayOf(e.started_on);
    if (d !== day) {
      day = d;
      list.append(h("li", { class: "timeline-day" }, h("strong", {}, d)));
    }
    const tone = e.result === "failed" ? "bad" : e.result === null ? "warn" : "ok";
    list.append(h("li", { class: `timeline-run ${tone}`, "data-result": e.result ?? "running" }, timelineLine(e)));
  }
  return list;
}

/** The answers of an explain lookup, in words. */
export function explanation(x: Explanation): HTMLElement {
  if (x.found.length) {
    return h("ul", { class: "explain-answers" }, x.found.map((f) => h("li", {}, f.answer)));
  }
  return h(
    "div",
    {},
    h("p", {}, `This mailbox has seen no such email in the last ${x.retention_days} days.`),
    x.unidentified.length
      ? h(
          "div",
          {},
          h("p", {}, "These emails were seen without their headers (not downloaded), so they cannot be found by Message-ID or subject:"),
          h("ul", { class: "explain-answers" }, x.unidentified.map((f) => h("li", {}, f.answer))),
        )
      : null,
  );
}

/** The History panel: the timeline and the search box. */
export async function historyPanel(email: string): Promise<HTMLElement> {
  const runs = await call("mailbox_history", { email, limit: null });
  const msg = messageArea();
  const answers = h("div", { id: "explain-answers", "aria-live": "polite" });
  const input = h("input", { type: "search", id: "explain-query", name: "query", placeholder: "Message-ID or words of the subject" });
  const form = h(
    "form",
    {
      class: "toolbar",
      role: "search",
      "aria-label": "Why was this email not tracked?",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const q = input.value.trim();
        // A Message-ID has an @ and no spaces; anything else is subject words.
        const byId = /^<?[^\s<>]+@[^\s<>]+>?$/.test(q);
        try {
          const x = await call("mailbox_explain", { email, message_id: byId ? q : null, subject: byId ? null : q });
          replace(answers, explanation(x));
        } catch (e) {
          showError(msg, e);
        }
      },
    },
    h("label", { for: "explain-query" }, "Why was this email not tracked?"),
    input,
    h("button", { type: "submit" }, "Look up"),
  );
  return h(
    "div",
    { class: "panel", role: "region", "aria-label": "History" },
    h("h2", {}, "History"),
    timeline(runs),
    form,
    msg,
    answers,
  );
}
