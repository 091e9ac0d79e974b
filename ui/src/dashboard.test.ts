// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import type { StatusView } from "./bindings";

const view: StatusView = {
  summary: "No mailboxes",
  tray: "ok",
  paused: false,
  counts: { ok: 0, syncing: 0, warning: 0, error: 0, disabled: 0, not_configured: 0 },
  mailboxes: [],
  recent_alerts: [],
  queues: { mailboxes: 0, outgoing: 0, async_ops: 0 },
  profiles: 0,
  store_path: "/srv/crm/crmsync.db",
  engine_problem: null,
};
let current = view;
vi.mock("./api", () => ({ call: async () => current, onEngineEvent: async () => () => {} }));
const { dashboardPage } = await import("./pages/dashboard");

describe("dashboard", () => {
  it("offers Sync now when the engine is this window's", async () => {
    current = view;
    const page = await dashboardPage();
    expect(page.textContent).toContain("⟳ Sync now");
    expect(page.querySelector("#engine-problem")).toBeNull();
  });

  it("names the lease holder instead of the engine controls", async () => {
    const message = "The sync service is running in another process: crmsync run (pid 42 on box) since 2026-01-01T00:00:00Z.";
    current = { ...view, engine_problem: message };
    const page = await dashboardPage();
    expect(page.querySelector("#engine-problem")?.textContent).toBe(message);
    expect(page.textContent).not.toContain("⟳ Sync now");
  });
});
