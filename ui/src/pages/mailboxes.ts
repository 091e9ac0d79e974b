import { call } from "../api";
import { whatToDo } from "../hints";
import type { Mailbox, MailboxInput, SignInStatus, TestReport } from "../bindings";
import { fieldValue, h } from "../dom";
import { changedFields, type Values } from "../forms";
import { historyPanel } from "./mailboxHistory";
import { empty, field, healthBadge, link, messageArea, page, severityBadge, showError, showMessage, table, when, type FieldSpec } from "../ui";

export const MAILBOX_FIELDS: FieldSpec[] = [
  { name: "username", label: "User name", help: "Empty: the email address" },
  { name: "password", label: "Password", type: "password", help: "Stored encrypted; never shown again" },
  { name: "incoming", label: "Incoming email", type: "select", options: ["", "server-side", "forward", "none"] },
  { name: "outgoing", label: "Outgoing email", type: "select", options: ["", "server-side", "none"] },
  { name: "act", label: "Appointments, contacts and tasks", type: "select", options: ["", "server-side", "none"] },
  { name: "track", label: "Track incoming email", type: "select", options: ["", "all", "responses", "crm-records", "email-enabled", "none"] },
  { name: "process_from", label: "Process email received after", type: "datetime" },
  { name: "delete_after_processing", label: "Delete email from the server once tracked (queues and forward mailboxes)", type: "checkbox" },
  { name: "forward_mailbox", label: "This is a forward mailbox", type: "checkbox" },
];

export function mailboxValues(m: Mailbox): Values {
  return {
    profile: m.profile,
    username: m.username ?? "",
    password: "",
    incoming: m.incoming_method,
    outgoing: m.outgoing_method,
    act: m.act_method,
    track: m.track,
    process_from: m.process_from ?? "",
    delete_after_processing: m.delete_after_processing ? "true" : "false",
    forward_mailbox: m.is_forward_mailbox ? "true" : "false",
  };
}

export function toMailboxForm(values: Values, original: Values | null): MailboxInput {
  const v = changedFields(values, original);
  const flag = (x: string | null) => (x === null ? null : x === "true");
  return {
    profile: v("profile"),
    username: v("username"),
    password: values.password ? values.password : null,
    incoming: v("incoming"),
    outgoing: v("outgoing"),
    act: v("act"),
    track: v("track"),
    process_from: v("process_from"),
    delete_after_processing: original === null && values.delete_after_processing === "false" ? null : flag(v("delete_after_processing")),
    forward_mailbox: original === null && values.forward_mailbox === "false" ? null : flag(v("forward_mailbox")),
    track_folders: null,
  };
}

function readValues(form: HTMLFormElement): Values {
  const values: Values = { profile: fieldValue(form, "profile") };
  for (const s of MAILBOX_FIELDS) values[s.name] = fieldValue(form, s.name);
  return values;
}

/** The mailbox form (add when `m` is null). */
async function mailboxForm(m: Mailbox | null, msg: HTMLElement): Promise<HTMLFormElement> {
  const profiles = await call("profiles_list");
  const original = m ? mailboxValues(m) : null;
  const specs: FieldSpec[] = [
    ...(m
      ? []
      : [
          { name: "email", label: "Email address", type: "email" as const, required: true },
          { name: "owner_kind", label: "Owner", type: "select" as const, options: ["user", "queue"], help: "A user or queue with this address is created if there is none" },
          { name: "owner_name", label: "Owner's display name" },
        ]),
    { name: "profile", label: "Email server profile", type: "select", options: profiles.map((p) => p.name), value: original?.profile },
    ...MAILBOX_FIELDS.map((f) => ({ ...f, value: original?.[f.name] ?? (f.type === "checkbox" ? "false" : "") })),
  ];
  const form = h(
    "form",
    { id: "mailbox-form", "aria-label": m ? `Edit mailbox ${m.email}` : "New mailbox" },
    specs.map((s) => field(s, "mailbox")),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, m ? "Save mailbox" : "Add mailbox")),
  );
  // A mailbox of an OAuth2 profile signs in on its page; it has no password.
  const profileSelect = form.elements.namedItem("profile") as HTMLSelectElement | null;
  const passwordBox = (form.elements.namedItem("password") as HTMLInputElement | null)?.closest(".field") as HTMLElement | null;
  const showPassword = () => {
    const p = profiles.find((x) => x.name === profileSelect?.value);
    if (passwordBox) passwordBox.hidden = p?.auth === "oauth2";
  };
  profileSelect?.addEventListener("change", showPassword);
  showPassword();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      if (m) {
        await call("mailbox_update", { email: m.email, form: toMailboxForm(readValues(form), original) });
        showMessage(msg, `Mailbox ${m.email} saved.`);
      } else {
        const email = fieldValue(form, "email");
        const kind = fieldValue(form, "owner_kind");
        const name = fieldValue(form, "owner_name") || email;
        const known = kind === "queue" ? await call("queues_list") : await call("users_list");
        if (!known.some((p) => p.email.toLowerCase() === email.toLowerCase())) {
          await call(kind === "queue" ? "queue_add" : "user_add", { email, name });
        }
        const added = await call("mailbox_add", { email, form: toMailboxForm(readValues(form), null) });
        location.hash = `#/mailboxes/${encodeURIComponent(added.email)}`;
      }
    } catch (e) {
      showError(msg, e, form);
    }
  });
  return form;
}

export async function mailboxesPage(): Promise<HTMLElement> {
  const list = await call("mailboxes_list");
  const msg = messageArea();
  const rows = list.map((r) => [
    healthBadge(r.health),
    link(`#/mailboxes/${encodeURIComponent(r.mailbox.email)}`, r.mailbox.email),
    `${r.mailbox.owner.name} (${r.mailbox.owner.type})`,
    r.mailbox.profile,
    r.mailbox.approval,
    [r.mailbox.incoming.enabled ? "incoming" : "", r.mailbox.outgoing.enabled ? "outgoing" : "", r.mailbox.act.enabled ? "ACT" : ""].filter(Boolean).join(", ") || "none",
  ]);
  return page(
    "Mailboxes",
    h("div", { class: "panel" }, list.length ? table(["Health", "Mailbox", "Owner", "Profile", "Approval", "Enabled"], rows, "Mailboxes") : empty("No mailboxes yet.")),
    h("div", { class: "panel" }, h("h2", {}, "New mailbox"), msg, await mailboxForm(null, msg)),
  );
}

/** The sign-in button's words for a provider. */
export function signInLabel(provider: string): string {
  return provider === "microsoft" ? "Sign in with Microsoft" : provider === "google" ? "Sign in with Google" : "Sign in";
}

/** The sign-in state in words: never a token, only whether and until when. */
export function signInState(s: SignInStatus): string {
  if (s.app_only) return "App-only access: the profile's application signs in for every mailbox; this mailbox needs no sign-in of its own.";
  if (!s.signed_in) return "Not signed in. Press the button to sign this mailbox in with its account in your browser.";
  const until = s.access_valid_until ? `; the current access token is valid until ${when(s.access_valid_until)}` : "";
  const renews = s.can_refresh ? ", and renews itself" : "";
  return `Signed in${until}${renews}.`;
}

/** Whether a Test & Enable result asks for a new sign-in. */
export function needsSignIn(r: TestReport): boolean {
  return r.channels.some((c) => c.action === "sign_in" || c.code === "OAUTH_SIGN_IN_REQUIRED");
}

export function testReport(r: TestReport, signIn?: () => HTMLElement): HTMLElement {
  return h(
    "div",
    { class: "panel", id: "test-report", role: "region", "aria-label": "Test & Enable result" },
    h("h2", {}, `Test & Enable: ${r.overall === "success" ? "✔ passed" : r.overall === "failure" ? "✖ failed" : "○ nothing to test"}`),
    table(
      ["Channel", "Result", "Enabled", "Details", "What to do"],
      r.channels.map((c) => [c.channel, c.status, c.enabled ? "yes" : "no", (c.code ? `${c.code}: ` : "") + c.message, whatToDo(c.hint, c.action)]),
      "Channels",
    ),
    signIn && needsSignIn(r) ? h("div", { class: "toolbar" }, signIn()) : null,
  );
}

/** The last Test & Enable result, shown again when the page re-renders with the new status. */
let lastReport: TestReport | null = null;

/** The "Sign in with …" button: runs the browser sign-in (the engine's
 * loopback flow), then re-renders the page with the new state. */
function signInButton(email: string, provider: string, msg: HTMLElement, id?: string): HTMLElement {
  const label = signInLabel(provider);
  return h(
    "button",
    {
      type: "button",
      id: id ?? null,
      onclick: async (ev: Event) => {
        const b = ev.currentTarget as HTMLButtonElement;
        b.disabled = true;
        b.setAttribute("aria-busy", "true");
        b.textContent = "Waiting for the browser…";
        showMessage(msg, "Finish the sign-in in the browser window that opened; crmsync waits up to 5 minutes.");
        try {
          await call("mailbox_sign_in", { email });
          showMessage(msg, "Signed in. Press Test & Enable to start syncing.", "ok");
          lastReport = null;
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        } catch (e) {
          showError(msg, e);
        } finally {
          b.disabled = false;
          b.removeAttribute("aria-busy");
          b.textContent = label;
        }
      },
    },
    label,
  );
}

export async function mailboxPage(email: string): Promise<HTMLElement> {
  const d = await call("mailbox_show", { email });
  const m = d.mailbox;
  const msg = messageArea();
  const reportArea = h("div", {});
  const signIn = d.sign_in;
  const signInHere = signIn && !signIn.app_only ? () => signInButton(email, signIn.provider, msg) : undefined;
  if (lastReport?.mailbox === m.email) {
    const r = lastReport;
    reportArea.replaceChildren(testReport(r, signInHere));
    showMessage(msg, r.overall === "success" ? "Test & Enable passed; the mailbox is enabled." : "Test & Enable failed; see below.", r.overall === "success" ? "ok" : "bad");
  } else {
    // Live refreshes of the same mailbox keep the result; another mailbox drops it.
    lastReport = null;
  }
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const action = (label: string, run: () => Promise<unknown>, done: string) =>
    h(
      "button",
      {
        type: "button",
        onclick: async (ev: Event) => {
          const b = ev.currentTarget as HTMLButtonElement;
          b.disabled = true;
          b.setAttribute("aria-busy", "true");
          try {
            const r = await run();
            showMessage(msg, done);
            // Re-render with the new status; a Test & Enable result stays shown.
            if (r && typeof r === "object" && "channels" in r) lastReport = r as TestReport;
            rerender();
          } catch (e) {
            showError(msg, e);
          } finally {
            b.disabled = false;
            b.removeAttribute("aria-busy");
          }
        },
      },
      label,
    );
  const t = m.telemetry;
  const telemetry = h(
    "dl",
    { class: "telemetry" },
    ([
      ["Health", healthBadge(d.health)],
      ["Owner", `${m.owner.name} (${m.owner.type})`],
      ["Profile", link(`#/profiles/${encodeURIComponent(m.profile)}`, m.profile)],
      ["Approval", m.approval],
      ["Incoming", `${m.incoming_method}; ${m.incoming.enabled ? "enabled" : "disabled"}; last test ${m.incoming.status}`],
      ["Outgoing", `${m.outgoing_method}; ${m.outgoing.enabled ? "enabled" : "disabled"}; last test ${m.outgoing.status}`],
      ["Appointments, contacts, tasks", `${m.act_method}; ${m.act.enabled ? "enabled" : "disabled"}; last test ${m.act.status}`],
      ["Last Test & Enable", when(m.last_test_on)],
      ["Processing", t.processing_state],
      ["Last sync started", when(t.last_sync_started)],
      ["Last successful sync", when(t.last_sync_succeeded)],
      ["Next poll", when(t.next_poll)],
      ["Items processed / failed", `${t.items_processed} / ${t.items_failed}`],
      ["Consecutive transient failures", String(t.transient_failures)],
      ["Average duration", t.average_duration_ms === null ? "—" : `${t.average_duration_ms} ms`],
      ["Last error", t.last_error ? `${t.last_error.code}: ${t.last_error.message} (${when(t.last_error.at)})` : "none"],
      signIn ? ["Sign-in", signIn.signed_in ? "signed in" : signIn.app_only ? "app-only" : "required"] : ["Password", m.has_password ? "stored" : m.credentials_required ? "required" : "none"],
    ] as const).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
  const alerts = d.alerts.length
    ? table(
        ["Severity", "Code", "Message", "What to do", "Seen", "Status"],
        d.alerts.map((a) => [severityBadge(a.severity), a.code, a.message, whatToDo(a.hint, a.action), `${a.count}× , last ${when(a.last_seen)}`, a.acknowledged ? "acknowledged" : "open"]),
        "Alerts of this mailbox",
      )
    : empty("No alerts.");
  return page(
    `Mailbox ${m.email}`,
    h(
      "div",
      { class: "panel" },
      h(
        "div",
        { class: "toolbar" },
        action("✔ Test & Enable", () => call("mailbox_test_enable", { email }), "Tested."),
        action("Approve", () => call("mailbox_approve", { email, approve: true }), "Approved."),
        action("Reject", () => call("mailbox_approve", { email, approve: false }), "Rejected."),
        action("Enable", () => call("mailbox_set_enabled", { email, enabled: true }), "Enabled."),
        action("Disable", () => call("mailbox_set_enabled", { email, enabled: false }), "Disabled."),
        link(`#/activities?mailbox=${encodeURIComponent(email)}`, "Activities"),
      ),
      msg,
    ),
    reportArea,
    signIn
      ? h(
          "div",
          { class: "panel", id: "sign-in-panel", role: "region", "aria-label": "Sign-in" },
          h("h2", {}, "Sign-in"),
          h("p", { id: "sign-in-state" }, signInState(signIn)),
          signIn.app_only
            ? null
            : h(
                "div",
                { class: "toolbar" },
                signInButton(email, signIn.provider, msg, "sign-in-button"),
                signIn.signed_in ? action("Sign out", () => call("mailbox_sign_out", { email }), "Signed out; the tokens are removed.") : null,
              ),
        )
      : null,
    h("div", { class: "panel" }, h("h2", {}, "Status"), telemetry),
    h("div", { class: "panel" }, h("h2", {}, "Alerts"), alerts),
    await historyPanel(email),
    h("div", { class: "panel" }, h("h2", {}, "Settings"), await mailboxForm(m, msg)),
  );
}
