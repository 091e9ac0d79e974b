import { call } from "../api";
import { whatToDo } from "../hints";
import type { ConnectionTest, ConnectionTestForm, Profile, ProfileInput, ProfileTest } from "../bindings";
import { fieldValue, h } from "../dom";
import { changedFields, type Values } from "../forms";
import { badge, empty, field, link, messageArea, page, showError, showMessage, table, when, type FieldSpec } from "../ui";

const SEC = ["", "tls", "starttls", "none"];

/** How the mailboxes sign in, in the admin's words; the value is the provider (or "password"). */
export const SIGN_IN_CHOICES: Record<string, string> = {
  password: "Password",
  microsoft: "Sign in with Microsoft 365",
  google: "Sign in with Google",
  custom: "Other OAuth2 provider",
};

/** The provider presets that fill the server settings (the engine's `preset`). */
export const PRESET_CHOICES: Record<string, string> = {
  "": "Enter them below",
  microsoft: "Microsoft 365 (outlook.office365.com, smtp.office365.com)",
  google: "Google (imap.gmail.com, smtp.gmail.com)",
};

/** The server kinds offered, in the admin's words. */
export const KIND_CHOICES: Record<string, string> = {
  "imap-smtp": "IMAP + SMTP",
  "pop3-smtp": "POP3 + SMTP",
  exchange: "Exchange Server 2010–2019 / Subscription Edition (Exchange Web Services)",
  microsoft365: "Microsoft 365 (Microsoft Graph; sign in with Microsoft)",
};

/** Fields shown only for some sign-in choices. */
const ONLY_FOR: Record<string, string[]> = {
  oauth_client_id: ["microsoft", "google", "custom"],
  oauth_client_secret: ["microsoft", "google", "custom"],
  oauth_tenant: ["microsoft"],
  oauth_issuer: ["custom"],
  oauth_authorize_url: ["custom"],
  oauth_token_url: ["custom"],
  oauth_device_url: ["custom"],
  oauth_scopes: ["custom"],
  username: ["password"],
  password: ["password"],
};

/** Whether field `name` applies to the sign-in choice `auth`. */
export function fieldApplies(name: string, auth: string): boolean {
  return ONLY_FOR[name]?.includes(auth) ?? true;
}

export const PROFILE_FIELDS: FieldSpec[] = [
  { name: "kind", label: "Server kind", type: "select", options: ["imap-smtp", "pop3-smtp", "exchange", "microsoft365"], optionLabels: KIND_CHOICES },
  { name: "auth", label: "How mailboxes sign in", type: "select", options: Object.keys(SIGN_IN_CHOICES), optionLabels: SIGN_IN_CHOICES },
  { name: "preset", label: "Server settings", type: "select", options: Object.keys(PRESET_CHOICES), optionLabels: PRESET_CHOICES, help: "A provider fills the hosts, ports and security you leave empty below" },
  { name: "oauth_client_id", label: "Application (client) ID", help: "From the app registration of your office (see the OAuth2 guide)" },
  { name: "oauth_client_secret", label: "Client secret", type: "password", help: "Only for app-only access or a Google desktop client. Stored encrypted; never shown again" },
  { name: "oauth_tenant", label: "Directory (tenant) ID or domain", help: "Empty: any organization's accounts" },
  { name: "oauth_issuer", label: "Issuer URL" },
  { name: "oauth_authorize_url", label: "Authorization endpoint URL", help: "Empty: the issuer URL + /authorize" },
  { name: "oauth_token_url", label: "Token endpoint URL" },
  { name: "oauth_device_url", label: "Device authorization endpoint URL (optional)" },
  { name: "oauth_scopes", label: "Scopes", help: "Space separated, e.g. the IMAP and SMTP scopes and offline_access" },
  { name: "incoming_host", label: "Incoming server (IMAP/POP3) host" },
  { name: "incoming_port", label: "Incoming port", type: "number", help: "Empty: the default port of the security mode" },
  { name: "incoming_security", label: "Incoming security", type: "select", options: SEC },
  { name: "outgoing_host", label: "Outgoing server (SMTP) host", help: "Empty: the incoming host" },
  { name: "outgoing_port", label: "Outgoing port", type: "number" },
  { name: "outgoing_security", label: "Outgoing security", type: "select", options: SEC },
  { name: "outgoing_auth", label: "Outgoing authentication", type: "select", options: ["", "password", "none"] },
  { name: "ews_url", label: "Exchange Web Services URL" },
  { name: "graph_url", label: "Microsoft Graph URL (Microsoft 365 only)", help: "Empty: https://graph.microsoft.com/v1.0" },
  { name: "dav_url", label: "CalDAV/CardDAV URL" },
  { name: "credentials", label: "Whose credentials", type: "select", options: ["", "mailbox", "profile"] },
  { name: "username", label: "Profile user name" },
  { name: "password", label: "Profile password", type: "password", help: "Stored encrypted; never shown again" },
  { name: "max_connections", label: "Max concurrent connections", type: "number" },
  { name: "min_poll_interval", label: "Minimum poll interval (s)", type: "number" },
  { name: "timeout", label: "Timeout (s)", type: "number" },
  { name: "process_from", label: "Process email received after", type: "datetime" },
  { name: "allow_insecure", label: "Allow connections without TLS (only on a trusted network)", type: "checkbox" },
];

/** The profile form's fields (the same for every kind; the server fields of
 * the other kinds are left empty). */
export function profileFields(_kind?: string): FieldSpec[] {
  return PROFILE_FIELDS;
}

/** The kind as the profile list shows it. */
export function kindLabel(kind: string): string {
  return KIND_CHOICES[kind] ?? kind;
}

/** The editable values of a profile as form text. */
export function profileValues(p: Profile): Values {
  return {
    kind: p.kind,
    incoming_host: p.incoming?.host ?? "",
    incoming_port: p.incoming ? String(p.incoming.port) : "",
    incoming_security: p.incoming?.security ?? "",
    outgoing_host: p.outgoing?.host ?? "",
    outgoing_port: p.outgoing ? String(p.outgoing.port) : "",
    outgoing_security: p.outgoing?.security ?? "",
    outgoing_auth: p.outgoing_auth,
    ews_url: p.ews_url ?? "",
    graph_url: p.graph_url ?? "",
    dav_url: p.dav_url ?? "",
    credentials: p.credentials,
    username: p.username ?? "",
    password: "",
    auth: p.auth === "oauth2" ? (p.oauth?.provider ?? "custom") : "password",
    preset: "",
    oauth_client_id: p.oauth?.client_id ?? "",
    oauth_client_secret: "",
    oauth_tenant: p.oauth?.tenant ?? "",
    oauth_issuer: p.oauth?.provider === "custom" ? (p.oauth.issuer ?? "") : "",
    oauth_authorize_url: p.oauth?.provider === "custom" ? p.oauth.authorize_url : "",
    oauth_token_url: p.oauth?.provider === "custom" ? p.oauth.token_url : "",
    oauth_device_url: p.oauth?.provider === "custom" ? (p.oauth.device_url ?? "") : "",
    oauth_scopes: p.oauth?.provider === "custom" ? p.oauth.scopes.join(" ") : "",
    max_connections: String(p.max_connections),
    min_poll_interval: String(p.min_poll_interval),
    timeout: String(p.timeout),
    process_from: p.process_from ?? "",
    allow_insecure: p.allow_insecure ? "true" : "false",
  };
}

/** Form text → the command's form (see `changedFields`). */
export function toProfileForm(values: Values, original: Values | null): ProfileInput {
  const v = changedFields(values, original);
  const insecure = v("allow_insecure");
  const choice = values.auth || "password";
  const oauth = choice !== "password";
  // A field that does not apply to the choice is not sent.
  const only = (name: string) => (fieldApplies(name, choice) ? v(name) : null);
  // A new choice is sent whole (method, provider and its fields), so the
  // engine never keeps half of another provider's settings.
  const switched = original !== null && values.auth !== original.auth;
  const oauthField = (name: string) => (switched ? (fieldApplies(name, choice) ? values[name] || null : null) : only(name));
  // The OAuth2 fields are optional in the engine's input: only those given are sent.
  const given: Record<string, string | null> = {
    auth: original === null ? (oauth ? "oauth2" : null) : switched ? (oauth ? "oauth2" : "password") : null,
    preset: values.preset || null,
    oauth_provider: oauth && (original === null || switched) ? choice : null,
    oauth_client_id: oauthField("oauth_client_id"),
    oauth_client_secret: oauth && values.oauth_client_secret ? values.oauth_client_secret : null,
    oauth_tenant: oauthField("oauth_tenant"),
    oauth_issuer: oauthField("oauth_issuer"),
    oauth_authorize_url: oauthField("oauth_authorize_url"),
    oauth_token_url: oauthField("oauth_token_url"),
    oauth_device_url: oauthField("oauth_device_url"),
    oauth_scopes: oauthField("oauth_scopes"),
    graph_url: v("graph_url"),
  };
  const optional = Object.fromEntries(Object.entries(given).filter(([, x]) => x !== null)) as Partial<ProfileInput>;
  return {
    ...optional,
    kind: v("kind"),
    incoming_host: v("incoming_host"),
    incoming_port: v("incoming_port"),
    incoming_security: v("incoming_security"),
    outgoing_host: v("outgoing_host"),
    outgoing_port: v("outgoing_port"),
    outgoing_security: v("outgoing_security"),
    ews_url: v("ews_url"),
    dav_url: v("dav_url"),
    outgoing_auth: v("outgoing_auth"),
    credentials: v("credentials"),
    username: only("username"),
    password: !oauth && values.password ? values.password : null,
    max_connections: v("max_connections"),
    min_poll_interval: v("min_poll_interval"),
    timeout: v("timeout"),
    process_from: v("process_from"),
    allow_insecure: insecure === null ? null : insecure === "true",
  };
}

const PASSED = { icon: "✔", label: "OK", tone: "ok" } as const;
const FAILED = { icon: "✖", label: "Failed", tone: "bad" } as const;

/** The result of Test Connection: one row per server, each with an icon and a word. */
export function connectionTestReport(t: ConnectionTest): HTMLElement {
  const failed = t.servers.filter((s) => !s.ok).length;
  const summary = t.ok
    ? `✔ every server answered${t.login_as ? `; login as ${t.login_as} OK` : " (login not tested)"}`
    : `✖ ${failed} of ${t.servers.length} ${t.servers.length === 1 ? "server" : "servers"} failed`;
  return h(
    "div",
    { class: "panel", id: "connection-test-report", role: "region", "aria-label": "Test Connection result" },
    h("h2", {}, `Test Connection: ${summary}`),
    t.servers.length
      ? table(
          ["Result", "Server", "Used for", "Security", "Login", "Time", "Details", "What to do"],
          t.servers.map((s) => [
            badge(s.ok ? PASSED : FAILED),
            `${s.proto} ${s.host}:${s.port}`,
            s.role,
            s.security,
            s.login ? "tested" : "not tested",
            `${s.elapsed_ms} ms`,
            (s.code ? `${s.code}: ` : "") + s.message,
            whatToDo(s.hint, s.action),
          ]),
          "Servers tested",
        )
      : empty("This profile names no server to test."),
  );
}

/** The kept result of the profile's last Test Connection, in one line. */
export function lastTestLine(t: ProfileTest | null): HTMLElement {
  const text = t
    ? `Last test ${when(t.on)}: ${t.ok ? "✔ every server passed" : "✖ failed"} — ${t.message}`
    : "Not tested yet.";
  return h("p", { id: "connection-last-test" }, text);
}

/** Test Connection of a saved profile: optional credentials typed for the test, never stored. */
function connectionTestPanel(name: string, last: ProfileTest | null): HTMLElement {
  const msg = messageArea();
  const lastLine = h("div", {}, lastTestLine(last));
  const result = h("div", {});
  const button = h("button", { type: "submit" }, "⇄ Test Connection");
  const form = h(
    "form",
    { id: "connection-test-form", "aria-label": `Test Connection of profile ${name}` },
    field({ name: "username", label: "Log in as (optional)", help: "Empty: check that each server answers and its TLS certificate is trusted, without logging in" }, "test"),
    field({ name: "password", label: "Password for this test", type: "password", help: "Used for this test only; never stored" }, "test"),
    h("div", { class: "toolbar" }, button),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const testForm: ConnectionTestForm = { username: fieldValue(form, "username") || null, password: (form.elements.namedItem("password") as HTMLInputElement).value || null };
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    showMessage(msg, "Testing…");
    try {
      const t = await call("profile_test", { name, form: testForm });
      result.replaceChildren(connectionTestReport(t));
      lastLine.replaceChildren(lastTestLine(await call("profile_last_test", { name })));
      showMessage(msg, t.ok ? "Test Connection passed." : "Test Connection failed; see below.", t.ok ? "ok" : "bad");
    } catch (e) {
      result.replaceChildren();
      showError(msg, e, form);
    } finally {
      (form.elements.namedItem("password") as HTMLInputElement).value = "";
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });
  return h("div", { class: "panel" }, h("h2", {}, "Test Connection"), lastLine, msg, form, result);
}

export async function profilesPage(edit?: string): Promise<HTMLElement> {
  const list = await call("profiles_list");
  const editing = edit ? list.find((p) => p.name === edit) ?? null : null;
  const lastTest = editing ? await call("profile_last_test", { name: editing.name }) : null;
  const original = editing ? profileValues(editing) : null;
  const msg = messageArea();
  const specs: FieldSpec[] = [
    { name: "name", label: "Profile name", required: true, value: editing?.name ?? "" },
    ...profileFields(editing?.kind).map((f) => ({ ...f, value: original?.[f.name] ?? (f.name === "allow_insecure" ? "false" : "") })),
  ];
  const form = h(
    "form",
    { id: "profile-form", "aria-label": editing ? `Edit profile ${editing.name}` : "New profile" },
    specs.map((s) => field(s, "profile")),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, editing ? "Save profile" : "Add profile"), editing ? link("#/profiles", "Cancel") : null),
  );
  if (editing) (form.elements.namedItem("name") as HTMLInputElement).readOnly = true;
  const control = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null;
  // Only the fields of the chosen sign-in are shown.
  const showFields = () => {
    const choice = control("auth")?.value ?? "password";
    for (const s of PROFILE_FIELDS) {
      const box = control(s.name)?.closest(".field") as HTMLElement | null;
      if (box) box.hidden = !fieldApplies(s.name, choice);
    }
  };
  // With a preset, an empty server field is the preset's: say so in it.
  const showPreset = () => {
    const preset = control("preset")?.value ?? "";
    for (const name of ["incoming_host", "incoming_port", "outgoing_host", "outgoing_port"]) {
      const c = control(name);
      if (c instanceof HTMLInputElement) c.placeholder = preset ? "From the preset" : "";
    }
  };
  control("preset")?.addEventListener("change", showPreset);
  control("auth")?.addEventListener("change", () => {
    // Microsoft 365 and Google come with their servers: pick the preset too.
    const choice = control("auth")!.value;
    const preset = control("preset");
    if (preset && (choice === "microsoft" || choice === "google") && !editing) preset.value = choice;
    showFields();
    showPreset();
  });
  showFields();
  showPreset();
  // The stored client secret is never sent back; say whether there is one.
  if (editing?.has_client_secret) {
    const help = form.querySelector("#profile-oauth_client_secret-help");
    if (help) help.textContent = "A client secret is stored (never shown). Type a new one to replace it";
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const values: Values = {};
    for (const s of PROFILE_FIELDS) values[s.name] = fieldValue(form, s.name);
    const name = fieldValue(form, "name");
    try {
      const saved = editing
        ? await call("profile_update", { name, form: toProfileForm(values, original) })
        : await call("profile_add", { name, form: toProfileForm(values, null) });
      showMessage(msg, `Profile ${saved.name} saved.`);
      if (!editing) {
        form.reset();
        location.hash = "#/profiles";
        window.dispatchEvent(new HashChangeEvent("hashchange"));
      }
    } catch (e) {
      showError(msg, e, form);
    }
  });
  const rows = list.map((p) => [
    link(`#/profiles/${encodeURIComponent(p.name)}`, p.name),
    kindLabel(p.kind),
    p.incoming ? `${p.incoming.host}:${p.incoming.port} (${p.incoming.security})` : p.ews_url ?? "—",
    p.outgoing ? `${p.outgoing.host}:${p.outgoing.port} (${p.outgoing.security})` : "—",
    p.auth === "oauth2" ? SIGN_IN_CHOICES[p.oauth?.provider ?? "custom"] ?? "OAuth2" : "Password",
    p.credentials,
    h(
      "button",
      {
        type: "button",
        "aria-label": `Remove profile ${p.name}`,
        onclick: async () => {
          try {
            await call("profile_remove", { name: p.name });
            showMessage(msg, `Profile ${p.name} removed.`);
            window.dispatchEvent(new HashChangeEvent("hashchange"));
          } catch (e) {
            showError(msg, e);
          }
        },
      },
      "Remove",
    ),
  ]);
  return page(
    "Email server profiles",
    h("div", { class: "panel" }, list.length ? table(["Name", "Kind", "Incoming", "Outgoing", "Sign-in", "Credentials", ""], rows, "Profiles") : empty("No profiles yet.")),
    editing ? connectionTestPanel(editing.name, lastTest) : null,
    h("div", { class: "panel" }, h("h2", {}, editing ? `Edit ${editing.name}` : "New profile"), msg, form),
  );
}
