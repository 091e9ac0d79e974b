import { describe, expect, it } from "vitest";
import cases from "./status-cases.json";
import { statusSummary } from "./status";

describe("statusSummary", () => {
  it("formats the example from the tray tooltip", () => {
    expect(statusSummary({ ok: 12, failing: 1 })).toBe("12 mailboxes OK · 1 failing");
  });

  // The same table is checked by the Rust tray tooltip (src-tauri/src/shell.rs).
  it.each(cases)("$ok ok, $failing failing, paused=$paused → $expected", (c) => {
    expect(statusSummary({ ok: c.ok, failing: c.failing }, c.paused)).toBe(c.expected);
  });
});
