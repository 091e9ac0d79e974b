// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Explanation, HistoryEntry } from "./bindings";

const calls: Array<[string, unknown]> = [];
let explainAnswer: Explanation;

const run = (over: Partial<HistoryEntry>): HistoryEntry => ({
  id: 1,
  channel: "incoming",
  started_on: "2026-12-05T09:41:12.000Z",
  ended_on: "2026-12-05T09:41:13.000Z",
  result: "ok",
  code: null,
  message: null,
  processed: 4,
  created: 3,
  tracked: 3,
  not_tracked: 1,
  failed: 0,
  capped: false,
  not_tracked_reasons: [{ reason: "NOT_A_REPLY", count: 1 }],
  summary: "incoming: 3 tracked, 1 skipped (not a reply)",
  ...over,
});

vi.mock("./api", () => ({
  call: async (cmd: string, args: unknown) => {
    calls.push([cmd, args]);
    if (cmd === "mailbox_history") {
      return [
        run({}),
        run({ id: 2, started_on: "2026-12-05T09:30:00.000Z", result: "failed", code: "IMAP_AUTH_FAILED", summary: "incoming: failed [IMAP_AUTH_FAILED] login refused" }),
      ];
    }
    if (cmd === "mailbox_explain") return explainAnswer;
    throw new Error(`no fixture for ${cmd}`);
  },
  onEngineEvent: async () => () => {},
}));

const { historyPanel, timelineLine, timeOfDay } = await import("./pages/mailboxHistory");

const seen = {
  seen_on: "2026-12-05T09:41:12.500Z",
  mailbox_id: 1,
  run_id: 1,
  item_ref: "INBOX/1/7",
  message_id: "news1@ext.test",
  subject: "Weekly deals",
  sender: "news@shop.test",
  received_on: "2026-12-05T09:40:00.000Z",
  outcome: "not_tracked",
  reason: "NOT_A_REPLY",
  detail: "not a reply to CRM email",
  activity_id: null,
};

async function submit(panel: HTMLElement, text: string) {
  (panel.querySelector("#explain-query") as HTMLInputElement).value = text;
  panel.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
  await new Promise((r) => setTimeout(r, 0));
}

describe("the mailbox history", () => {
  beforeEach(() => {
    calls.length = 0;
  });

  it("reads each run as a timeline line: local time and what happened", () => {
    const e = run({});
    const local = new Date(e.started_on);
    const hhmm = `${String(local.getHours()).padStart(2, "0")}:${String(local.getMinutes()).padStart(2, "0")}`;
    expect(timeOfDay(e.started_on)).toBe(hhmm);
    expect(timelineLine(e)).toBe(`${hhmm} incoming: 3 tracked, 1 skipped (not a reply)`);
  });

  it("shows the runs newest first under their day, a failed run marked as such", async () => {
    const panel = await historyPanel("anna@example.com");
    expect(calls[0]).toEqual(["mailbox_history", { email: "anna@example.com", limit: null }]);
    const items = [...panel.querySelectorAll("li.timeline-run")];
    expect(items.map((li) => li.textContent)).toEqual([
      `${timeOfDay("2026-12-05T09:41:12.000Z")} incoming: 3 tracked, 1 skipped (not a reply)`,
      `${timeOfDay("2026-12-05T09:30:00.000Z")} incoming: failed [IMAP_AUTH_FAILED] login refused`,
    ]);
    expect(items[1]?.getAttribute("data-result")).toBe("failed");
    expect(panel.querySelectorAll("li.timeline-day").length).toBe(1);
  });

  it("looks an email up by Message-ID or by subject and answers in words", async () => {
    const panel = await historyPanel("anna@example.com");
    explainAnswer = { mailbox: "anna@example.com", found: [{ ...seen, answer: "the email \"Weekly deals\" was seen on 2026-12-05 09:41 UTC and not tracked: not a reply to CRM email." }], unidentified: [], retention_days: 30 };
    await submit(panel, "<news1@ext.test>");
    expect(calls.at(-1)).toEqual(["mailbox_explain", { email: "anna@example.com", message_id: "<news1@ext.test>", subject: null }]);
    expect(panel.querySelector("#explain-answers")!.textContent).toContain("not tracked: not a reply to CRM email");
    await submit(panel, "Weekly deals");
    expect(calls.at(-1)).toEqual(["mailbox_explain", { email: "anna@example.com", message_id: null, subject: "Weekly deals" }]);
  });

  it("says when nothing was seen, and lists what was seen without headers", async () => {
    const panel = await historyPanel("anna@example.com");
    explainAnswer = {
      mailbox: "anna@example.com",
      found: [],
      unidentified: [{ ...seen, message_id: null, subject: null, outcome: "failed", reason: "MESSAGE_TOO_LARGE", answer: "the email at INBOX/1/9 was seen on 2026-12-05 09:41 UTC and could not be tracked: too large." }],
      retention_days: 30,
    };
    await submit(panel, "huge@ext.test");
    const text = panel.querySelector("#explain-answers")!.textContent!;
    expect(text).toContain("no such email in the last 30 days");
    expect(text).toContain("could not be tracked: too large");
  });
});
