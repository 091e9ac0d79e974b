import { call } from "../api";
import { whatToDo } from "../hints";
import type { ConnectionTest, ConnectionTestForm, Profile, ProfileInput } from "../bindings";
import { fieldValue, h } from "../dom";
import { changedFields, type Values } from "../forms";
import { badge, empty, field, link, messageArea, page, showError, showMessage, table, type FieldSpec } from "../ui";

const SEC = ["", "tls", "starttls", "none"];

export const PROFILE_FIELDS: FieldSpec[] = [
  // Exchange (EWS) cannot sync in this version: it is not offered for new
  // profiles; a migrated Exchange profile keeps its kind (see profileFields).
  { name: "kind", label: "Server kind", type: "select", options: ["imap-smtp", "pop3-smtp"] },
  { name: "incoming_host", label: "Incoming server (IMAP/POP3) host" },
  { name: "incoming_port", label: "Incoming port", type: "number", help: "Empty: the default port of the security mode" },
  { name: "incoming_security", label: "Incoming security", type: "select", options: SEC },
  { name: "outgoing_host", label: "Outgoing server (SMTP) host", help: "Empty: the incoming host" },
  { name: "outgoing_port", label: "Outgoing port", type: "number" },
  { name: "outgoing_security", label: "Outgoing security", type: "select", options: SEC },
  { name: "outgoing_auth", label: "Outgoing authentication", type: "select", options: ["", "password", "none"] },
  { name: "ews_url", label: "Exchange Web Services URL" },
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

/** The profile form's fields; the kind list keeps `exchange` only for a profile
 * that already has it (an Email Router migration), so saving it never changes
 * its kind by accident. */
export function profileFields(kind?: string): FieldSpec[] {
  if (kind !== "exchange") return PROFILE_FIELDS;
  return PROFILE_FIELDS.map((f) =>
    f.name === "kind" ? { ...f, options: [...(f.options ?? []), "exchange"], help: "Exchange (EWS) cannot sync in this version of crmsync" } : f,
  );
}

/** The kind as the profile list shows it. */
export function kindLabel(kind: string): string {
  return kind === "exchange" ? "exchange (not supported yet)" : kind;
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
    dav_url: p.dav_url ?? "",
    credentials: p.credentials,
    username: p.username ?? "",
    password: "",
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
  return {
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
    username: v("username"),
    password: values.password ? values.password : null,
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

/** Test Connection of a saved profile: optional credentials typed for the test, never stored. */
function connectionTestPanel(name: string): HTMLElement {
  const msg = messageArea();
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
  return h("div", { class: "panel" }, h("h2", {}, "Test Connection"), msg, form, result);
}

export async function profilesPage(edit?: string): Promise<HTMLElement> {
  const list = await call("profiles_list");
  const editing = edit ? list.find((p) => p.name === edit) ?? null : null;
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
    h("div", { class: "panel" }, list.length ? table(["Name", "Kind", "Incoming", "Outgoing", "Credentials", ""], rows, "Profiles") : empty("No profiles yet.")),
    editing ? connectionTestPanel(editing.name) : null,
    h("div", { class: "panel" }, h("h2", {}, editing ? `Edit ${editing.name}` : "New profile"), msg, form),
  );
}
