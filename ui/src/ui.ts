// Small shared building blocks of the pages.
import { h, type Child } from "./dom";
import { asIpcError, controlName, describeError } from "./forms";
import { healthLook, severityLook, type HealthLook } from "./health";
import type { Health } from "./bindings";

export function badge(look: HealthLook): HTMLElement {
  return h(
    "span",
    { class: `badge tone-${look.tone}` },
    h("span", { class: "badge-icon", "aria-hidden": "true" }, look.icon),
    " ",
    look.label,
  );
}

export const healthBadge = (x: Health) => badge(healthLook(x));
export const severityBadge = (s: string) => badge(severityLook(s));

export function page(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "page", "aria-labelledby": "page-title" }, h("h1", { id: "page-title", tabindex: "-1" }, title), ...children);
}

/** A status line for results and errors (announced by screen readers). */
export function messageArea(): HTMLElement {
  return h("p", { class: "message", role: "status", "aria-live": "polite" });
}

export function showMessage(area: HTMLElement, text: string, tone: "ok" | "bad" = "ok"): void {
  area.className = `message tone-${tone}`;
  area.textContent = (tone === "ok" ? "✔ " : "✖ ") + text;
}

/** Shows a command error: marks the form field it names, or the message area. */
export function showError(area: HTMLElement, e: unknown, form?: HTMLFormElement): void {
  const err = asIpcError(e);
  if (form) {
    for (const el of Array.from(form.querySelectorAll("[aria-invalid]"))) el.removeAttribute("aria-invalid");
    for (const el of Array.from(form.querySelectorAll(".field-error"))) el.remove();
    if (err.kind === "invalid") {
      const control = form.elements.namedItem(controlName(err.field));
      if (control instanceof HTMLElement) {
        control.setAttribute("aria-invalid", "true");
        const id = `${control.id || controlName(err.field)}-error`;
        const note = h("span", { class: "field-error", id }, `✖ ${err.message}`);
        control.setAttribute("aria-describedby", id);
        control.insertAdjacentElement("afterend", note);
        control.focus();
      }
    }
  }
  showMessage(area, describeError(err), "bad");
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: "text" | "password" | "number" | "email" | "checkbox" | "select" | "datetime" | undefined;
  options?: string[] | undefined;
  /** The words shown for some options (the value is sent). */
  optionLabels?: Record<string, string> | undefined;
  value?: string | undefined;
  help?: string | undefined;
  required?: boolean | undefined;
}

/** A labelled control. */
export function field(spec: FieldSpec, idPrefix: string): HTMLElement {
  const id = `${idPrefix}-${spec.name}`;
  let control: HTMLElement;
  if (spec.type === "select") {
    control = h(
      "select",
      { id, name: spec.name },
      (spec.options ?? []).map((o) => h("option", { value: o, selected: o === spec.value }, spec.optionLabels?.[o] ?? (o === "" ? "(default)" : o))),
    );
  } else if (spec.type === "checkbox") {
    control = h("input", { id, name: spec.name, type: "checkbox", checked: spec.value === "true" });
  } else {
    control = h("input", {
      id,
      name: spec.name,
      type: spec.type === "datetime" ? "text" : (spec.type ?? "text"),
      value: spec.value ?? "",
      required: spec.required,
      autocomplete: spec.type === "password" ? "new-password" : "off",
      placeholder: spec.type === "datetime" ? "2024-01-31T00:00:00Z" : null,
    });
  }
  const help = spec.help ? h("span", { class: "help", id: `${id}-help` }, spec.help) : null;
  if (help) control.setAttribute("aria-describedby", `${id}-help`);
  return h("div", { class: `field ${spec.type === "checkbox" ? "field-check" : ""}` }, h("label", { for: id }, spec.label), control, help);
}

export function table(headers: string[], rows: Child[][], caption: string): HTMLElement {
  return h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))),
  );
}

export function empty(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}

export function link(href: string, text: string): HTMLAnchorElement {
  return h("a", { href }, text);
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** Reads a picked file as text. */
export function readFile(input: HTMLInputElement): Promise<{ name: string; content: string } | null> {
  const f = input.files?.[0];
  if (!f) return Promise.resolve(null);
  return f.text().then((content) => ({ name: f.name, content }));
}
