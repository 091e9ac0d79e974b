import { call } from "../api";
import type { Entry } from "../bindings";
import { h } from "../dom";
import { messageArea, page, showError, showMessage } from "../ui";

/** Settings grouped by the first part of their key, in the page's order. */
export const GROUPS: [string, string][] = [
  ["tracking_token", "Tracking token"],
  ["email", "Email"],
  ["correlation", "Correlation"],
  ["resolution", "Address resolution"],
  ["incoming", "Tracking defaults"],
  ["polling", "Polling"],
  ["backoff", "Backoff"],
  ["recovery", "Recovery"],
  ["outgoing", "Outgoing email"],
  ["queue", "Queue limits"],
  ["attachments", "Attachments"],
  ["alerts", "Alerts"],
  ["notifications", "Notifications"],
  ["act", "Appointments, contacts and tasks"],
];

export function groupOf(key: string): string {
  const head = key.split(".")[0];
  return GROUPS.find(([k]) => k === head)?.[1] ?? "Other";
}

function valueText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function row(e: Entry, msg: HTMLElement): HTMLElement {
  const id = `setting-${e.key.replace(/\./g, "-")}`;
  const isBool = typeof e.value === "boolean";
  const control = isBool
    ? h("input", { id, type: "checkbox", name: e.key, checked: e.value === true, "aria-describedby": `${id}-help` })
    : h("input", { id, type: "text", name: e.key, value: valueText(e.value), "aria-describedby": `${id}-help` });
  const save = async () => {
    const value = isBool ? String((control as HTMLInputElement).checked) : (control as HTMLInputElement).value;
    try {
      const saved = await call("setting_set", { key: e.key, value });
      showMessage(msg, `${saved.key} = ${valueText(saved.value)}`);
      control.removeAttribute("aria-invalid");
    } catch (err) {
      control.setAttribute("aria-invalid", "true");
      showError(msg, err);
    }
  };
  if (isBool) control.addEventListener("change", save);
  const form = h(
    "form",
    { class: "setting", "aria-label": e.key },
    h("label", { for: id }, h("code", {}, e.key)),
    control,
    isBool ? null : h("button", { type: "submit" }, "Save"),
    h("span", { class: "help", id: `${id}-help` }, `${e.help} (default ${valueText(e.default)})`),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void save();
  });
  return form;
}

export async function settingsPage(): Promise<HTMLElement> {
  const entries = await call("settings_list");
  const msg = messageArea();
  const groups = new Map<string, Entry[]>();
  for (const e of entries) {
    const g = groupOf(e.key);
    groups.set(g, [...(groups.get(g) ?? []), e]);
  }
  return page(
    "Settings",
    msg,
    [...groups].map(([title, list]) => h("fieldset", { class: "panel" }, h("legend", {}, title), list.map((e) => row(e, msg)))),
  );
}
