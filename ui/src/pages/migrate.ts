import { call } from "../api";
import type { MigrationPlan } from "../bindings";
import { h } from "../dom";
import { empty, field, messageArea, page, readFile, showError, showMessage, table } from "../ui";
import { testReport } from "./mailboxes";

function planView(p: MigrationPlan): HTMLElement {
  const section = (title: string, headers: string[], rows: (string | Node)[][]) =>
    h("div", {}, h("h3", {}, `${title} (${rows.length})`), rows.length ? table(headers, rows, title) : empty("None."));
  return h(
    "div",
    { id: "migration-plan" },
    section("Profiles to create", ["Name", "Kind", "From"], p.profiles_to_create.map((x) => [x.name, x.kind, x.from.join(", ")])),
    section("Profiles reused", ["Name", "Note"], p.profiles_reused.map((x) => [x.name, x.note])),
    section("Users and queues to create", ["Kind", "Email", "Name", "Why"], p.users_or_queues_to_create.map((x) => [x.kind, x.email, x.name, x.reason])),
    section("Mailboxes to create", ["Email", "Profile", "Incoming", "Outgoing"], p.mailboxes_to_create.map((x) => [x.email, x.profile, x.incoming, x.outgoing])),
    section("Mailboxes to update", ["Email", "Changes"], p.mailboxes_to_update.map((x) => [x.email, x.changes.map((c) => `${c.field}: ${c.from} → ${c.to}`).join("; ")])),
    section("Credentials to enter", ["Kind", "Name", "Action"], p.credentials_required.map((x) => [x.kind, x.name, x.action])),
    section("Not migrated", ["Item", "Why"], p.not_migrated.map((x) => [x.item, x.reason])),
    section("Warnings", ["Where", "What"], p.warnings.map((w) => [[w.file, w.line, w.path].filter((x) => x !== null).join(" "), w.message])),
  );
}

export async function migratePage(): Promise<HTMLElement> {
  const msg = messageArea();
  const out = h("div", {});
  const file = (name: string, label: string) =>
    h("div", { class: "field" }, h("label", { for: `migrate-${name}` }, label), h("input", { id: `migrate-${name}`, name, type: "file", accept: ".xml,.csv" }));
  const form = h(
    "form",
    { "aria-label": "Email Router files" },
    h("h2", {}, "1. Load the Email Router's files"),
    file("config", "Microsoft.Crm.Tools.EmailAgent.xml (required)"),
    file("state", "Microsoft.Crm.Tools.EmailAgent.SystemState.xml (optional)"),
    file("directory", "Directory CSV: CRM id, email, name (optional)"),
    field({ name: "allow_insecure", label: "Migrate profiles without SSL (as plaintext-allowed profiles)", type: "checkbox" }, "migrate"),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, "2. Preview")),
  );
  const input = (n: string) => form.elements.namedItem(n) as HTMLInputElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const config = await readFile(input("config"));
    if (!config) {
      showMessage(msg, "Choose the EmailAgent.xml file.", "bad");
      return;
    }
    const allow = input("allow_insecure").checked;
    try {
      const plan = await call("migrate_preview", {
        files: { config, state: await readFile(input("state")), directory: await readFile(input("directory")), allow_insecure: allow },
      });
      showMessage(msg, plan.profiles_to_create.length + plan.mailboxes_to_create.length + plan.mailboxes_to_update.length === 0 ? "Nothing to change: everything is in place." : "Preview ready: nothing has been written yet.");
      const apply = h("button", { type: "button" }, "3. Apply");
      apply.addEventListener("click", async () => {
        try {
          const applied = await call("migrate_apply", { allow_insecure: allow });
          showMessage(msg, "Migration applied.");
          const emails = [...applied.mailboxes_to_create.map((m) => m.email), ...applied.mailboxes_to_update.map((m) => m.email)];
          const results = h("div", {});
          out.replaceChildren(
            h("h2", {}, "4. Test & Enable the migrated mailboxes"),
            emails.length
              ? table(
                  ["Mailbox", ""],
                  emails.map((email) => [
                    email,
                    h(
                      "button",
                      {
                        type: "button",
                        "aria-label": `Test & Enable ${email}`,
                        onclick: async () => {
                          try {
                            results.replaceChildren(testReport(await call("mailbox_test_enable", { email })));
                          } catch (e) {
                            showError(msg, e);
                          }
                        },
                      },
                      "Test & Enable",
                    ),
                  ]),
                  "Migrated mailboxes",
                )
              : empty("No mailboxes were created or changed."),
            results,
          );
        } catch (e) {
          showError(msg, e);
        }
      });
      out.replaceChildren(h("h2", {}, "Preview"), planView(plan), h("div", { class: "toolbar" }, apply));
    } catch (e) {
      showError(msg, e, form);
    }
  });
  return page("Migrate from the Email Router", h("div", { class: "panel" }, form, msg), h("div", { class: "panel" }, out));
}
