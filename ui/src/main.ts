import "./style.css";
import { call, onEngineEvent } from "./api";
import { h, replace } from "./dom";
import { describeError } from "./forms";
import { parseRoute, type Route } from "./router";
import { activitiesPage } from "./pages/activities";
import { alertsPage } from "./pages/alerts";
import { dashboardPage } from "./pages/dashboard";
import { directoryPage } from "./pages/directory";
import { mailboxesPage, mailboxPage } from "./pages/mailboxes";
import { migratePage } from "./pages/migrate";
import { profilesPage } from "./pages/profiles";
import { settingsPage } from "./pages/settings";

const NAV: [string, string, Route["page"][]][] = [
  ["#/", "Dashboard", ["dashboard"]],
  ["#/profiles", "Email server profiles", ["profiles"]],
  ["#/mailboxes", "Mailboxes", ["mailboxes", "mailbox"]],
  ["#/alerts", "Alerts", ["alerts"]],
  ["#/activities", "Activities", ["activities"]],
  ["#/directory/users", "Users, queues, records", ["directory"]],
  ["#/settings", "Settings", ["settings"]],
  ["#/migrate", "Migrate", ["migrate"]],
];

function render(route: Route): Promise<HTMLElement> {
  switch (route.page) {
    case "dashboard":
      return dashboardPage();
    case "profiles":
      return profilesPage(route.edit);
    case "mailboxes":
      return mailboxesPage();
    case "mailbox":
      return mailboxPage(route.email);
    case "alerts":
      return alertsPage();
    case "activities":
      return activitiesPage(route.id, route.mailbox);
    case "directory":
      return directoryPage(route.tab);
    case "settings":
      return settingsPage();
    case "migrate":
      return migratePage();
  }
}

const nav = h(
  "nav",
  { class: "sidebar", "aria-label": "Main" },
  h("ul", {}, NAV.map(([href, label]) => h("li", {}, h("a", { href }, label)))),
);
const main = h("main", { id: "main", tabindex: "-1" });
const live = h("p", { class: "visually-hidden", role: "status", "aria-live": "polite", id: "live" });
// Shown on every page while another process (`crmsync run`) holds the
// store's lease: the admin pages work, the syncing happens there.
const banner = h("div", { class: "engine-banner", role: "alert", id: "engine-banner" });
function setBanner(message: string | null): void {
  banner.textContent = message ?? "";
  banner.hidden = message === null;
}
setBanner(null);
call("status")
  .then((s) => setBanner(s.engine_problem))
  .catch(() => {
    /* outside Tauri (vite dev): no engine */
  });
const root = document.getElementById("app") ?? document.body;
replace(
  root,
  h("a", { class: "skip-link", href: "#main", onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, "Skip to content"),
  h("header", { class: "app-header" }, h("span", { class: "app-name" }, "crmsync")),
  banner,
  h("div", { class: "layout" }, nav, main),
  live,
);

let generation = 0;
async function show(focus: boolean): Promise<void> {
  const route = parseRoute(location.hash);
  for (const a of Array.from(nav.querySelectorAll("a"))) {
    const entry = NAV.find(([href]) => href === a.getAttribute("href"));
    if (entry?.[2].includes(route.page)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const mine = ++generation;
  try {
    const content = await render(route);
    if (mine !== generation) return;
    // Keep the focused control when a live refresh re-renders the same page.
    replace(main, content);
    document.title = `${content.querySelector("h1")?.textContent ?? ""} — crmsync`;
    // A sign-in notification's route focuses the Sign in button.
    const target = route.page === "mailbox" && route.signIn ? "#sign-in-button" : "h1";
    if (focus || target !== "h1") (content.querySelector<HTMLElement>(target) ?? content.querySelector<HTMLElement>("h1"))?.focus();
  } catch (e) {
    if (mine !== generation) return;
    replace(main, h("section", { class: "page" }, h("h1", { tabindex: "-1" }, "Something went wrong"), h("p", { role: "alert" }, `✖ ${describeError(e)}`)));
  }
}

window.addEventListener("hashchange", () => void show(true));
void show(false);

// Live updates: pages that show engine state re-render on engine events,
// unless the admin is typing in a form.
const LIVE: Route["page"][] = ["dashboard", "mailboxes", "mailbox", "alerts"];
let pending: number | undefined;
void onEngineEvent((e) => {
  if (e.type === "navigate") {
    location.hash = e.route;
    return;
  }
  if (e.type === "mailbox_status_changed") live.textContent = `${e.mailbox}: ${e.health}`;
  if (e.type === "engine_unavailable") setBanner(e.message);
  if (e.type === "engine_started") setBanner(null);
  const page = parseRoute(location.hash).page;
  const typing = document.activeElement instanceof HTMLInputElement || document.activeElement instanceof HTMLSelectElement;
  if (!LIVE.includes(page) || typing) return;
  clearTimeout(pending);
  pending = window.setTimeout(() => void show(false), 300);
}).catch(() => {
  /* outside Tauri (vite dev): no events */
});
