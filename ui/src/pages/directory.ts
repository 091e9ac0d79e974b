import { call } from "../api";
import type { RecordKind } from "../bindings";
import { fieldValue, h } from "../dom";
import { DIRECTORY_TABS, type DirectoryTab } from "../router";
import { empty, field, link, messageArea, page, readFile, showError, showMessage, table } from "../ui";

const TITLES: Record<DirectoryTab, string> = {
  users: "Users",
  queues: "Queues",
  contacts: "Contacts",
  accounts: "Accounts",
  leads: "Leads",
};

function tabs(current: DirectoryTab): HTMLElement {
  return h(
    "nav",
    { class: "tabs", "aria-label": "Records" },
    DIRECTORY_TABS.map((t) => h("a", { href: `#/directory/${t}`, "aria-current": t === current ? "page" : null }, TITLES[t])),
  );
}

function principalForm(kind: "user" | "queue", msg: HTMLElement): HTMLFormElement {
  const form = h(
    "form",
    { "aria-label": `New ${kind}` },
    field({ name: "email", label: "Email address", type: "email", required: true }, kind),
    field({ name: "name", label: "Display name", required: true }, kind),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, `Add ${kind}`)),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const args = { email: fieldValue(form, "email"), name: fieldValue(form, "name") };
      const p = kind === "user" ? await call("user_add", args) : await call("queue_add", args);
      showMessage(msg, `Added ${p.email}.`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (e) {
      showError(msg, e, form);
    }
  });
  return form;
}

function importForm(kind: RecordKind, msg: HTMLElement): HTMLFormElement {
  const columns = kind === "account" ? "name, email, phone" : "first_name, last_name, email, company, phone";
  const form = h(
    "form",
    { "aria-label": `Import ${kind}s from CSV` },
    h(
      "div",
      { class: "field" },
      h("label", { for: `import-${kind}` }, `CSV file (columns: ${columns})`),
      h("input", { id: `import-${kind}`, name: "file", type: "file", accept: ".csv,text/csv" }),
    ),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, "Import")),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = await readFile(form.elements.namedItem("file") as HTMLInputElement);
    if (!file) {
      showMessage(msg, "Choose a CSV file first.", "bad");
      return;
    }
    try {
      const r = await call("records_import", { kind, file });
      const ignored = r.ignored_columns.length ? ` Ignored columns: ${r.ignored_columns.join(", ")}.` : "";
      showMessage(msg, `Imported ${r.imported} rows.${ignored}`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (e) {
      showError(msg, e);
    }
  });
  return form;
}

const opt = (s: string | null) => s ?? "";

export async function directoryPage(tab: DirectoryTab): Promise<HTMLElement> {
  const msg = messageArea();
  let content: HTMLElement;
  let extra: HTMLElement | null = null;
  switch (tab) {
    case "users":
    case "queues": {
      const list = tab === "users" ? await call("users_list") : await call("queues_list");
      const itemsArea = h("div", {});
      content = list.length
        ? table(
            ["Email", "Name", ""],
            list.map((p) => [
              p.email,
              p.name,
              tab === "queues"
                ? h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `Show the items of queue ${p.email}`,
                      onclick: async () => {
                        try {
                          const items = await call("queue_items", { email: p.email });
                          itemsArea.replaceChildren(
                            h("h3", {}, `Items of ${p.name}`),
                            items.length
                              ? table(["Type", "Subject"], items.map((a) => [a.type, link(`#/activities/${a.id}`, a.subject)]), "Queue items")
                              : empty("The queue is empty."),
                          );
                        } catch (e) {
                          showError(msg, e);
                        }
                      },
                    },
                    "Items",
                  )
                : "",
            ]),
            TITLES[tab],
          )
        : empty(`No ${tab} yet.`);
      extra = h("div", {}, itemsArea, h("h2", {}, tab === "users" ? "New user" : "New queue"), principalForm(tab === "users" ? "user" : "queue", msg));
      break;
    }
    case "contacts": {
      const list = await call("contacts_list");
      content = list.length
        ? table(["Name", "Email", "Company", "Phone"], list.map((c) => [[opt(c.first_name), opt(c.last_name)].join(" ").trim(), opt(c.email), opt(c.company), opt(c.phone)]), "Contacts")
        : empty("No contacts yet.");
      extra = h("div", {}, h("h2", {}, "Import contacts"), importForm("contact", msg));
      break;
    }
    case "accounts": {
      const list = await call("accounts_list");
      content = list.length ? table(["Name", "Email", "Phone"], list.map((a) => [a.name, opt(a.email), opt(a.phone)]), "Accounts") : empty("No accounts yet.");
      extra = h("div", {}, h("h2", {}, "Import accounts"), importForm("account", msg));
      break;
    }
    case "leads": {
      const list = await call("leads_list");
      content = list.length
        ? table(["Name", "Email", "Company", "Phone"], list.map((l) => [[opt(l.first_name), opt(l.last_name)].join(" ").trim(), opt(l.email), opt(l.company), opt(l.phone)]), "Leads")
        : empty("No leads yet.");
      extra = h("div", {}, h("h2", {}, "Import leads"), importForm("lead", msg));
      break;
    }
  }
  return page(TITLES[tab], tabs(tab), h("div", { class: "panel" }, content, msg, extra));
}
