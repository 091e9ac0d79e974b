// @vitest-environment happy-dom
// Keyboard navigation and labelled controls (issue 6, item 5): every page is
// rendered with realistic data, and every interactive control on it must have
// an accessible name and be reachable with Tab — no positive tabindex, no
// native control taken out of the tab order, no clickable element that is not
// a control, no duplicate ids (a label[for] would point at the wrong one).
import { describe, expect, it, vi } from "vitest";
import type {
  ActivityView,
  Alert,
  ConnectionTest,
  Entry,
  HistoryEntry,
  Mailbox,
  MailboxDetail,
  MailboxRow,
  Principal,
  Profile,
  StatusView,
  TestReport,
} from "./bindings";

// Record which elements get click handlers: a clickable element that is not a
// control cannot be reached or activated from the keyboard.
// (Patched where the DOM's elements get addEventListener from: the DOM
// implementation's own EventTarget, which need not be the global one.)
const clickable = new WeakSet<EventTarget>();
let owner: EventTarget | null = Object.getPrototypeOf(document.createElement("div"));
while (owner && !Object.prototype.hasOwnProperty.call(owner, "addEventListener")) owner = Object.getPrototypeOf(owner);
const target = owner!;
const addEventListener = target.addEventListener;
target.addEventListener = function (this: EventTarget, type: string, ...rest: [EventListenerOrEventListenerObject | null, (boolean | AddEventListenerOptions)?]) {
  if (type === "click" || type === "mousedown" || type === "mouseup") clickable.add(this);
  return addEventListener.call(this, type, ...rest);
};

const T = "2026-01-05T09:30:00Z";
const profile: Profile = {
  id: 1,
  has_password: false,
  has_client_secret: false,
  created_on: T,
  modified_on: T,
  name: "Office",
  kind: "imap-smtp",
  incoming: { host: "mail.example.com", port: 993, security: "tls" },
  outgoing: { host: "mail.example.com", port: 587, security: "starttls" },
  outgoing_auth: "password",
  ews_url: null,
  graph_url: null,
  dav_url: "https://dav.example.com/",
  credentials: "mailbox",
  username: null,
  max_connections: 10,
  min_poll_interval: 60,
  timeout: 60,
  process_from: null,
  allow_insecure: false,
  auth: "password",
  oauth: null,
};
const mailbox: Mailbox = {
  id: 1,
  profile: "Office",
  has_password: true,
  credentials_required: false,
  approval: "approved",
  incoming: { enabled: true, status: "success" },
  outgoing: { enabled: false, status: "failure" },
  act: { enabled: false, status: "not-run" },
  last_test_on: T,
  first_enabled_on: T,
  telemetry: {
    processing_state: "idle",
    last_sync_started: T,
    last_sync_succeeded: T,
    next_poll: T,
    items_processed: 12,
    items_failed: 1,
    transient_failures: 0,
    last_error: { code: "SMTP_AUTH_FAILED", message: "rejected", at: T },
    average_duration_ms: 40,
    disabled_reason: null,
  },
  created_on: T,
  modified_on: T,
  email: "anna@example.com",
  owner: { type: "user", id: 1, name: "Anna" },
  profile_id: 1,
  username: null,
  incoming_method: "server-side",
  outgoing_method: "server-side",
  act_method: "none",
  track: "all",
  process_from: null,
  delete_after_processing: false,
  is_forward_mailbox: false,
  track_folders: [],
} as unknown as Mailbox;
const row: MailboxRow = { mailbox, health: "error" };
const alert: Alert = {
  id: 7,
  severity: "error",
  scope: "mailbox",
  mailbox: "anna@example.com",
  profile: null,
  activity_id: null,
  item_ref: null,
  code: "SMTP_AUTH_FAILED",
  message: "SMTP server mail.example.com:587 rejected the login of anna@example.com",
  hint: "Update the password.",
  action: "enter_password",
  first_seen: T,
  last_seen: T,
  count: 2,
  acknowledged: false,
};
const status: StatusView = {
  summary: "0 mailboxes OK · 1 failing",
  tray: "error",
  paused: false,
  counts: { ok: 0, syncing: 0, warning: 0, error: 1, disabled: 0, not_configured: 0 },
  mailboxes: [row],
  recent_alerts: [alert],
  queues: { mailboxes: 0, outgoing: 0, async_ops: 0 },
  profiles: 1,
  store_path: "/srv/crm/crmsync.db",
  engine_problem: null,
};
const activity: ActivityView = {
  id: 3,
  type: "email",
  direction: "incoming",
  status: "received",
  subject: "Quote",
  message_id: "<m@example.com>",
  in_reply_to: null,
  tracking_token: null,
  correlation_method: null,
  regarding: null,
  from: { address: "bob@example.org", name: "Bob", resolved: null },
  to: [{ address: "anna@example.com", name: null, resolved: null }],
  cc: [],
  bcc: [],
  received_on: T,
  receiving_mailboxes: ["anna@example.com"],
  attachments: [],
  flags: [],
  delivery_attempts: null,
  last_error: null,
  sent_on: null,
  sender_mailbox: null,
  body_text: "Hello",
  body_html: "<p>Hello</p>",
  created_on: T,
};
const users: Principal[] = [{ id: 1, email: "anna@example.com", name: "Anna" }];
const settings: Entry[] = [
  { key: "notifications.muted", value: false, default: false, is_default: true, help: "Mute notifications" },
  { key: "polling.interval", value: 60, default: 60, is_default: true, help: "Seconds" },
];
const report: TestReport = {
  mailbox: "anna@example.com",
  overall: "failure",
  channels: [{ channel: "incoming", status: "failure", enabled: false, code: "IMAP_AUTH_FAILED", message: "rejected", hint: "Update the password.", action: "enter_password" }],
};
const connectionTest: ConnectionTest = {
  profile: "Office",
  ok: false,
  login_as: null,
  servers: [
    { proto: "IMAP", role: "incoming", host: "mail.example.com", port: 993, security: "tls", ok: false, login: false, code: "TLS_CERT_INVALID", message: "not trusted", hint: "Install the CA.", action: null, elapsed_ms: 12 },
  ],
};

const answers: Record<string, unknown> = {
  status,
  profiles_list: [profile],
  mailboxes_list: [row],
  mailbox_show: { mailbox, health: "error", alerts: [alert], sign_in: null } satisfies MailboxDetail,
  mailbox_history: [
    { id: 1, channel: "incoming", started_on: T, ended_on: T, result: "ok", code: null, message: null, processed: 4, created: 3, tracked: 3, not_tracked: 1, failed: 0, capped: false, not_tracked_reasons: [{ reason: "NOT_A_REPLY", count: 1 }], summary: "incoming: 3 tracked, 1 skipped (not a reply)" },
  ] satisfies HistoryEntry[],
  alerts_list: [alert],
  activities_list: [activity],
  activity_show: activity,
  users_list: users,
  queues_list: [{ id: 2, email: "support@example.com", name: "Support" }],
  contacts_list: [{ id: 1, first_name: "Bob", last_name: "Baker", email: "bob@example.org", company: "B Ltd", phone: null }],
  accounts_list: [{ id: 1, name: "B Ltd", email: null, phone: null }],
  leads_list: [{ id: 1, first_name: "Cy", last_name: null, email: "cy@example.net", company: null, phone: null }],
  settings_list: settings,
  profile_test: connectionTest,
  profile_last_test: { on: T, ok: false, message: "connection only; incoming IMAP mail.example.com:993 TLS_CERT_INVALID: not trusted" },
};
vi.mock("./api", () => ({
  call: async (cmd: string) => {
    if (!(cmd in answers)) throw new Error(`no fixture for ${cmd}`);
    return answers[cmd];
  },
  onEngineEvent: async () => () => {},
}));

const { dashboardPage } = await import("./pages/dashboard");
const { profilesPage, connectionTestReport } = await import("./pages/profiles");
const { mailboxesPage, mailboxPage, testReport } = await import("./pages/mailboxes");
const { alertsPage } = await import("./pages/alerts");
const { activitiesPage } = await import("./pages/activities");
const { directoryPage } = await import("./pages/directory");
const { settingsPage } = await import("./pages/settings");
const { migratePage } = await import("./pages/migrate");

const NATIVE = new Set(["A", "BUTTON", "INPUT", "SELECT", "TEXTAREA", "SUMMARY", "IFRAME"]);
const INTERACTIVE = "a, button, input:not([type=hidden]), select, textarea, iframe, summary, [tabindex], [role=button], [role=link], [role=tab], [role=checkbox], [contenteditable]";

function text(el: Element | null): string {
  return (el?.textContent ?? "").replace(/\s+/g, " ").trim();
}

/** A simplified accessible name: aria-labelledby, aria-label, label, own text, title. */
function accessibleName(el: Element): string {
  const doc = el.ownerDocument;
  const labelledby = el.getAttribute("aria-labelledby");
  if (labelledby) return labelledby.split(/\s+/).map((id) => text(doc.getElementById(id))).join(" ").trim();
  const aria = el.getAttribute("aria-label")?.trim();
  if (aria) return aria;
  if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement || el instanceof HTMLTextAreaElement) {
    if (el instanceof HTMLInputElement && ["submit", "button", "reset"].includes(el.type)) return el.value.trim();
    const byFor = el.id ? Array.from(doc.querySelectorAll("label")).filter((l) => l.getAttribute("for") === el.id) : [];
    const wrapping = el.closest("label");
    return [...byFor, ...(wrapping ? [wrapping] : [])].map(text).join(" ").trim() || (el.getAttribute("title") ?? "");
  }
  if (el instanceof HTMLIFrameElement) return el.title.trim();
  return text(el) || (el.getAttribute("title") ?? "");
}

function describe_(el: Element): string {
  return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.getAttribute("name") ? ` name=${el.getAttribute("name")}` : ""}> "${text(el).slice(0, 40)}"`;
}

/** The controls the last audit checked, by their accessible names. */
let checked: string[] = [];

/** Every keyboard and labelling problem in the document. */
function audit(doc: Document): string[] {
  checked = [];
  const problems: string[] = [];
  const ids = new Map<string, number>();
  for (const el of Array.from(doc.querySelectorAll("[id]"))) ids.set(el.id, (ids.get(el.id) ?? 0) + 1);
  for (const [id, n] of ids) if (n > 1) problems.push(`id "${id}" is used ${n} times`);
  for (const attr of ["aria-labelledby", "aria-describedby", "for"]) {
    for (const el of Array.from(doc.querySelectorAll(`[${attr}]`))) {
      for (const id of el.getAttribute(attr)!.split(/\s+/).filter(Boolean)) {
        if (!doc.getElementById(id)) problems.push(`${describe_(el)}: ${attr} names a missing id "${id}"`);
      }
    }
  }
  const candidates = new Set<Element>(Array.from(doc.querySelectorAll(INTERACTIVE)));
  for (const el of Array.from(doc.querySelectorAll("*"))) if (clickable.has(el)) candidates.add(el);
  for (const el of candidates) {
    const tabindex = el.getAttribute("tabindex");
    const native = NATIVE.has(el.tagName);
    if (tabindex !== null && Number(tabindex) > 0) problems.push(`${describe_(el)}: positive tabindex ${tabindex} breaks the tab order`);
    if (native && tabindex === "-1") problems.push(`${describe_(el)}: taken out of the tab order`);
    if (el.tagName === "A" && !el.hasAttribute("href")) problems.push(`${describe_(el)}: a link without href is not focusable`);
    const role = el.getAttribute("role");
    if (clickable.has(el) && !native && !(role && tabindex !== null && Number(tabindex) >= 0)) {
      problems.push(`${describe_(el)}: clickable but not a control (no role and tabindex="0")`);
    }
    // Programmatic focus targets (headings, <main>) are not controls.
    const isControl = native || clickable.has(el) || (role !== null && role !== "region");
    if (isControl && !accessibleName(el)) problems.push(`${describe_(el)}: no accessible name`);
    if (isControl) checked.push(accessibleName(el));
  }
  // Two controls with one name cannot be told apart by a screen reader user.
  const names = new Map<string, number>();
  for (const el of Array.from(doc.querySelectorAll("input, select, textarea, button"))) {
    const n = accessibleName(el);
    if (n) names.set(n, (names.get(n) ?? 0) + 1);
  }
  for (const [n, count] of names) if (count > 1) problems.push(`${count} controls are named "${n}"`);
  return problems;
}

async function audited(build: () => Promise<HTMLElement> | HTMLElement): Promise<string[]> {
  document.body.replaceChildren();
  document.body.appendChild(await build());
  // Let pages finish what they load after the first render.
  await new Promise((r) => setTimeout(r, 0));
  return audit(document);
}

// Each page, and a control it must have (so the check is never vacuous).
const PAGES: [string, () => Promise<HTMLElement> | HTMLElement, string | null][] = [
  ["dashboard", () => dashboardPage(), "⟳ Sync now"],
  ["dashboard, first run", async () => {
    answers.status = { ...status, profiles: 0, mailboxes: [] };
    try {
      return await dashboardPage();
    } finally {
      answers.status = status;
    }
  }, "Add an email server profile"],
  ["profiles", () => profilesPage(), "Remove profile Office"],
  ["profile edit with Test Connection", () => profilesPage("Office"), "⇄ Test Connection"],
  ["Test Connection result", () => connectionTestReport(connectionTest), null],
  ["mailboxes", () => mailboxesPage(), "Add mailbox"],
  ["mailbox", () => mailboxPage("anna@example.com"), "✔ Test & Enable"],
  ["mailbox signed in with Microsoft", async () => {
    const plain = answers.mailbox_show as MailboxDetail;
    answers.mailbox_show = { ...plain, sign_in: { provider: "microsoft", app_only: false, signed_in: true, access_valid_until: T, can_refresh: true } };
    try {
      return await mailboxPage("anna@example.com");
    } finally {
      answers.mailbox_show = plain;
    }
  }, "Sign in with Microsoft"],
  ["Test & Enable result", () => testReport(report), null],
  ["alerts", () => alertsPage(), "Acknowledge all alerts"],
  ["activities with an email", () => activitiesPage(3), "Body of “Quote”"],
  ["users", () => directoryPage("users"), "Add user"],
  ["queues", () => directoryPage("queues"), "Show the items of queue support@example.com"],
  ["contacts", () => directoryPage("contacts"), "CSV file (columns: first_name, last_name, email, company, phone)"],
  ["accounts", () => directoryPage("accounts"), "Import"],
  ["leads", () => directoryPage("leads"), "Import"],
  ["settings", () => settingsPage(), "notifications.muted"],
  ["migrate", () => migratePage(), "2. Preview"],
];

describe("keyboard navigation and labelled controls", () => {
  for (const [name, build, control] of PAGES) {
    it(`every control on ${name} is labelled and reachable with Tab`, async () => {
      expect(await audited(build)).toEqual([]);
      if (control) expect(checked).toContain(control);
    });
  }

  it("the window shell: skip link, main navigation and every page route", async () => {
    document.body.replaceChildren(Object.assign(document.createElement("div"), { id: "app" }));
    await import("./main");
    await new Promise((r) => setTimeout(r, 0));
    expect(audit(document)).toEqual([]);
    const nav = document.querySelector("nav[aria-label=Main]")!;
    expect(Array.from(nav.querySelectorAll("a")).map((a) => a.getAttribute("href"))).toContain("#/profiles");
    expect(document.querySelector(".skip-link")?.getAttribute("href")).toBe("#main");
  });

  it("finds what it is meant to find", () => {
    const bad = document.createElement("div");
    bad.addEventListener("click", () => {});
    bad.textContent = "Delete";
    const unlabelled = document.createElement("input");
    const jumpy = document.createElement("button");
    jumpy.textContent = "Go";
    jumpy.setAttribute("tabindex", "3");
    document.body.replaceChildren(bad, unlabelled, jumpy);
    const problems = audit(document);
    expect(problems.some((p) => p.includes("clickable but not a control"))).toBe(true);
    expect(problems.some((p) => p.startsWith("<input") && p.includes("no accessible name"))).toBe(true);
    expect(problems.some((p) => p.includes("positive tabindex"))).toBe(true);
  });
});
