import { describe, expect, it } from "vitest";
import { changedFields, controlName, describeError, asIpcError } from "./forms";
import { healthLook, healthRank, trayLook } from "./health";
import { parseRoute, routeHash, type Route } from "./router";
import { groupOf } from "./pages/settings";
import { kindLabel, profileFields, toProfileForm } from "./pages/profiles";
import { toMailboxForm } from "./pages/mailboxes";
import type { Action, Health } from "./bindings";
import { actionWords, whatToDo } from "./hints";

const HEALTHS: Health[] = ["ok", "syncing", "warning", "error", "disabled", "not_configured"];

describe("health is shown by icon and word, not colour alone", () => {
  it("gives each health its own icon and label", () => {
    const icons = new Set(HEALTHS.map((x) => healthLook(x).icon));
    const labels = new Set(HEALTHS.map((x) => healthLook(x).label));
    expect(icons.size).toBe(HEALTHS.length);
    expect(labels.size).toBe(HEALTHS.length);
  });
  it("orders failing first", () => {
    const sorted = [...HEALTHS].sort((a, b) => healthRank(a) - healthRank(b));
    expect(sorted[0]).toBe("error");
    expect(sorted.at(-1)).toBe("ok");
  });
  it("knows every tray state", () => {
    for (const s of ["ok", "syncing", "warning", "error", "paused"]) expect(trayLook(s).label).toBeTruthy();
    expect(trayLook("paused").label).toBe("Paused");
  });
});

describe("routes", () => {
  const cases: [string, Route][] = [
    ["", { page: "dashboard" }],
    ["#/", { page: "dashboard" }],
    ["#/profiles", { page: "profiles" }],
    ["#/profiles/Office%20IMAP", { page: "profiles", edit: "Office IMAP" }],
    ["#/mailboxes", { page: "mailboxes" }],
    ["#/mailboxes/alice%40example.com", { page: "mailbox", email: "alice@example.com" }],
    ["#/activities/42", { page: "activities", id: 42 }],
    ["#/activities?mailbox=a%40b.c", { page: "activities", mailbox: "a@b.c" }],
    ["#/directory/leads", { page: "directory", tab: "leads" }],
    ["#/settings", { page: "settings" }],
    ["#/migrate", { page: "migrate" }],
    ["#/alerts", { page: "alerts" }],
  ];
  it.each(cases)("%s", (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
    expect(parseRoute(routeHash(route))).toEqual(route);
  });
  it("falls back to safe defaults", () => {
    expect(parseRoute("#/nowhere")).toEqual({ page: "dashboard" });
    expect(parseRoute("#/directory/../../etc")).toEqual({ page: "directory", tab: "users" });
    expect(parseRoute("#/activities/abc")).toEqual({ page: "activities" });
  });
});

describe("forms", () => {
  it("sends null for empty fields on add", () => {
    const v = changedFields({ a: "", b: "x" }, null);
    expect([v("a"), v("b"), v("absent")]).toEqual([null, "x", null]);
  });
  it("sends only changed fields on edit, and '' for a cleared field", () => {
    const v = changedFields({ a: "1", b: "", c: "new" }, { a: "1", b: "old", c: "" });
    expect([v("a"), v("b"), v("c")]).toEqual([null, "", "new"]);
  });
  it("maps engine field names to controls", () => {
    expect(controlName("incoming-host")).toBe("incoming_host");
    expect(controlName("line 3: email")).toBe("email");
    expect(controlName("profile 'X': name")).toBe("name");
  });
  it("describes every error kind in words", () => {
    expect(describeError({ kind: "invalid", field: "timeout", message: "0 is outside 1-600" })).toBe("timeout: 0 is outside 1-600");
    expect(describeError({ kind: "server", code: "CONNECTION_REFUSED", message: "refused", hint: "Check the port.", action: null })).toBe(
      "CONNECTION_REFUSED: refused. Check the port.",
    );
    expect(describeError({ kind: "server", code: "IMAP_AUTH_FAILED", message: "login refused", hint: "The server refused the password.", action: "enter_password" })).toMatch(
      /^IMAP_AUTH_FAILED: login refused\. The server refused the password\. On the mailbox's page/,
    );
    expect(describeError(new Error("boom"))).toBe("boom");
    expect(asIpcError("x")).toEqual({ kind: "internal", message: "x" });
  });
  it("builds the profile form the engine validates", () => {
    const values = {
      kind: "imap-smtp", incoming_host: "mail.example.com", incoming_port: "", incoming_security: "", outgoing_host: "",
      outgoing_port: "", outgoing_security: "", outgoing_auth: "", ews_url: "", dav_url: "", credentials: "",
      username: "", password: "s3cret", max_connections: "", min_poll_interval: "", timeout: "", process_from: "", allow_insecure: "false",
    };
    const f = toProfileForm(values, null);
    expect(f.kind).toBe("imap-smtp");
    expect(f.incoming_port).toBeNull();
    expect(f.password).toBe("s3cret");
    expect(f.allow_insecure).toBe(false);
    const edit = toProfileForm({ ...values, password: "", timeout: "30" }, { ...values, password: "", timeout: "60" });
    expect(edit.kind).toBeNull();
    expect(edit.timeout).toBe("30");
    expect(edit.password).toBeNull();
    expect(edit.allow_insecure).toBeNull();
  });
  it("builds the mailbox form", () => {
    const values = {
      profile: "Office", username: "", password: "pw", incoming: "", outgoing: "none", act: "", track: "all", process_from: "",
      delete_after_processing: "false", forward_mailbox: "false",
    };
    const f = toMailboxForm(values, null);
    expect(f).toMatchObject({ profile: "Office", outgoing: "none", track: "all", password: "pw", delete_after_processing: null, forward_mailbox: null, track_folders: null });
  });
});

describe("settings page", () => {
  it("groups the settings the issue names", () => {
    expect(groupOf("tracking_token.prefix")).toBe("Tracking token");
    expect(groupOf("polling.use_idle")).toBe("Polling");
    expect(groupOf("notifications.muted")).toBe("Notifications");
    expect(groupOf("attachments.max_size_kb")).toBe("Attachments");
    expect(groupOf("queue.async_bound")).toBe("Queue limits");
  });
});

describe("the kinds of profile", () => {
  const kinds = (k?: string) => profileFields(k).find((f) => f.name === "kind")?.options ?? [];

  it("a new profile can be any kind this version syncs", () => {
    expect(kinds()).toEqual(["imap-smtp", "pop3-smtp", "exchange", "microsoft365"]);
  });

  it("Exchange is offered as a kind like the others and named in the admin's words", () => {
    expect(kinds("exchange")).toContain("exchange");
    expect(kinds(undefined)).toContain("exchange");
    expect(profileFields("exchange").find((f) => f.name === "kind")?.help ?? "").not.toMatch(/cannot sync/);
    expect(kindLabel("exchange")).toMatch(/Exchange Web Services/);
    expect(kindLabel("pop3-smtp")).toBe("POP3 + SMTP");
  });
});

describe("a Microsoft 365 profile", () => {
  it("is offered as a kind, signs in with Microsoft and sends its Graph URL, never a password", () => {
    const kind = profileFields().find((f) => f.name === "kind");
    expect(kind?.options).toContain("microsoft365");
    expect(kind?.optionLabels?.microsoft365).toMatch(/Microsoft Graph/);
    const values = {
      kind: "microsoft365", auth: "microsoft", preset: "", oauth_client_id: "app-id", graph_url: "https://graph.example.test/v1.0",
      password: "typed by mistake", incoming_host: "", dav_url: "", ews_url: "",
    };
    const f = toProfileForm(values, null);
    expect(f.kind).toBe("microsoft365");
    expect(f.auth).toBe("oauth2");
    expect(f.oauth_provider).toBe("microsoft");
    expect(f.graph_url).toBe("https://graph.example.test/v1.0");
    expect(f.password).toBeNull();
  });
});

describe("what to do is said in the window's words", () => {
  const actions: Action[] = ["enter_password", "approve_mailbox", "enable_mailbox", "confirm_mass_delete", "add_forward_mailbox"];

  it("every action has window words that name no command and no flag", () => {
    for (const a of actions) {
      const w = actionWords(a);
      expect(w.length).toBeGreaterThan(10);
      expect(w).not.toMatch(/--|`|crmsync (mailbox|profile|settings)/);
    }
  });

  it("the hint comes first, then the action; no action adds nothing", () => {
    expect(whatToDo("The server refused the password.", "enter_password")).toMatch(/^The server refused the password\. On the mailbox's page/);
    expect(whatToDo("Nothing answers.", null)).toBe("Nothing answers.");
  });
});
