// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import type { TestReport } from "./bindings";
import { parseRoute, routeHash } from "./router";
import { fieldApplies, PROFILE_FIELDS, profileValues, toProfileForm } from "./pages/profiles";
import { needsSignIn, signInLabel, signInState, testReport } from "./pages/mailboxes";
import { actionWords } from "./hints";

const blank = () => Object.fromEntries(PROFILE_FIELDS.map((f) => [f.name, f.type === "checkbox" ? "false" : ""]));

describe("the profile form's sign-in choice", () => {
  it("sends a Microsoft 365 profile as the preset, oauth2 and its client, without a password", () => {
    const f = toProfileForm({ ...blank(), kind: "imap-smtp", auth: "microsoft", preset: "microsoft", oauth_client_id: "app-id", oauth_tenant: "contoso.onmicrosoft.com", password: "ignored", oauth_token_url: "http://hidden" }, null);
    expect(f.auth).toBe("oauth2");
    expect(f.preset).toBe("microsoft");
    expect(f.oauth_provider).toBe("microsoft");
    expect(f.oauth_client_id).toBe("app-id");
    expect(f.oauth_tenant).toBe("contoso.onmicrosoft.com");
    expect(f.password).toBeNull();
    expect(f.oauth_token_url, "custom URLs only for 'other'").toBeUndefined();
    expect(f.oauth_client_secret).toBeUndefined();
  });
  it("sends the endpoints of another provider and nothing OAuth2 for a password profile", () => {
    const f = toProfileForm({ ...blank(), kind: "imap-smtp", auth: "custom", oauth_client_id: "c", oauth_token_url: "https://id.example/token", oauth_authorize_url: "https://id.example/auth", oauth_scopes: "mail", oauth_client_secret: "s" }, null);
    expect([f.oauth_provider, f.oauth_token_url, f.oauth_authorize_url, f.oauth_scopes, f.oauth_client_secret]).toEqual(["custom", "https://id.example/token", "https://id.example/auth", "mail", "s"]);
    const p = toProfileForm({ ...blank(), kind: "imap-smtp", auth: "password", password: "pw", oauth_client_id: "left over" }, null);
    expect(p.auth).toBeUndefined();
    expect(p.oauth_client_id).toBeUndefined();
    expect(p.password).toBe("pw");
  });
  it("switching an existing profile to Google sends the choice whole; an unchanged one sends nothing", () => {
    const base = { ...blank(), kind: "imap-smtp", auth: "password" };
    const f = toProfileForm({ ...base, auth: "google", oauth_client_id: "g-id" }, base);
    expect([f.auth, f.oauth_provider, f.oauth_client_id]).toEqual(["oauth2", "google", "g-id"]);
    const same = { ...base, auth: "google", oauth_client_id: "g-id" };
    const u = toProfileForm(same, same);
    expect([u.auth, u.oauth_provider, u.oauth_client_id]).toEqual([undefined, undefined, undefined]);
  });
  it("shows the tenant for Microsoft only, URLs for other providers only, the password for passwords only", () => {
    expect(fieldApplies("oauth_tenant", "microsoft")).toBe(true);
    expect(fieldApplies("oauth_tenant", "google")).toBe(false);
    expect(fieldApplies("oauth_token_url", "microsoft")).toBe(false);
    expect(fieldApplies("oauth_token_url", "custom")).toBe(true);
    expect(fieldApplies("password", "google")).toBe(false);
    expect(fieldApplies("incoming_host", "google")).toBe(true);
  });
  it("reads a saved profile's choice back, never its secret", () => {
    const v = profileValues({
      id: 1, has_password: false, has_client_secret: true, created_on: "", modified_on: "", name: "M", kind: "imap-smtp",
      incoming: null, outgoing: null, outgoing_auth: "password", ews_url: null, graph_url: null, dav_url: null, credentials: "mailbox", username: null,
      max_connections: 1, min_poll_interval: 60, timeout: 60, process_from: null, allow_insecure: false, auth: "oauth2",
      oauth: { provider: "microsoft", client_id: "id", tenant: "t", issuer: null, authorize_url: "a", token_url: "t", device_url: null, scopes: [] },
    });
    expect([v.auth, v.oauth_client_id, v.oauth_tenant, v.oauth_client_secret, v.oauth_token_url]).toEqual(["microsoft", "id", "t", "", ""]);
  });
});

describe("the mailbox's sign-in", () => {
  it("names the provider on the button and tells the state without a token", () => {
    expect(signInLabel("microsoft")).toBe("Sign in with Microsoft");
    expect(signInLabel("google")).toBe("Sign in with Google");
    expect(signInLabel("custom")).toBe("Sign in");
    const s = { provider: "microsoft", app_only: false, signed_in: true, access_valid_until: "2026-01-05T10:30:00Z", can_refresh: true };
    expect(signInState(s)).toMatch(/^Signed in; the current access token is valid until .+, and renews itself\.$/);
    expect(signInState({ ...s, signed_in: false, access_valid_until: null })).toMatch(/^Not signed in/);
    expect(signInState({ ...s, app_only: true })).toMatch(/^App-only access/);
  });
  it("offers the sign-in in a Test & Enable result that asks for it", () => {
    const r: TestReport = {
      mailbox: "a@x", overall: "failure",
      channels: [{ channel: "incoming", status: "failure", enabled: false, code: "OAUTH_SIGN_IN_REQUIRED", message: "not signed in", hint: "Sign in.", action: "sign_in" }],
    } as TestReport;
    expect(needsSignIn(r)).toBe(true);
    const el = testReport(r, () => Object.assign(document.createElement("button"), { textContent: "Sign in with Microsoft" }));
    expect(el.querySelector("button")?.textContent).toBe("Sign in with Microsoft");
    const ok = { ...r, overall: "success", channels: [{ ...r.channels[0]!, status: "success", code: null, action: null }] } as TestReport;
    expect(testReport(ok, () => document.createElement("button")).querySelector("button")).toBeNull();
  });
  it("a sign-in notification's route focuses the button; the window's words name no command", () => {
    expect(parseRoute("#/mailboxes/a%40x?sign-in")).toEqual({ page: "mailbox", email: "a@x", signIn: true });
    expect(routeHash({ page: "mailbox", email: "a@x", signIn: true })).toBe("#/mailboxes/a%40x?sign-in");
    expect(actionWords("sign_in")).toContain("Sign in");
    expect(actionWords("sign_in")).not.toMatch(/crmsync |--/);
  });
});
