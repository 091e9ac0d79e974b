import { call } from "../api";
import { whatToDo } from "../hints";
import { fieldValue, h } from "../dom";
import { empty, field, messageArea, page, severityBadge, showError, showMessage, table, when } from "../ui";

export async function alertsPage(): Promise<HTMLElement> {
  const [mailboxes, profiles] = await Promise.all([call("mailboxes_list"), call("profiles_list")]);
  const msg = messageArea();
  const results = h("div", { id: "alert-results" });
  const filter = h(
    "form",
    { class: "filters", "aria-label": "Filter alerts" },
    field({ name: "severity", label: "Severity", type: "select", options: ["", "error", "warning", "info"] }, "alerts"),
    field({ name: "mailbox", label: "Mailbox", type: "select", options: ["", ...mailboxes.map((m) => m.mailbox.email)] }, "alerts"),
    field({ name: "profile", label: "Profile", type: "select", options: ["", ...profiles.map((p) => p.name)] }, "alerts"),
    field({ name: "all", label: "Include acknowledged", type: "checkbox" }, "alerts"),
    h("div", { class: "toolbar" }, h("button", { type: "submit" }, "Filter")),
  );
  const load = async () => {
    const get = (n: string) => fieldValue(filter, n) || null;
    try {
      const list = await call("alerts_list", {
        filter: { severity: get("severity"), mailbox: get("mailbox"), profile: get("profile"), all: fieldValue(filter, "all") === "true" },
      });
      const ack = (id: number | null, label: string) =>
        h(
          "button",
          {
            type: "button",
            "aria-label": label,
            onclick: async () => {
              try {
                const n = await call("alert_ack", { id });
                showMessage(msg, `${n} alert${n === 1 ? "" : "s"} acknowledged.`);
                await load();
              } catch (e) {
                showError(msg, e);
              }
            },
          },
          "Acknowledge",
        );
      results.replaceChildren(
        list.length
          ? table(
              ["Severity", "Code", "Mailbox / profile", "Message", "What to do", "Seen", ""],
              list.map((a) => [
                severityBadge(a.severity),
                h("code", {}, a.code),
                a.mailbox ?? a.profile ?? a.scope,
                a.message,
                whatToDo(a.hint, a.action),
                `${a.count}×, last ${when(a.last_seen)}`,
                a.acknowledged ? "acknowledged" : ack(a.id, `Acknowledge alert ${a.code} ${a.mailbox ?? ""}`),
              ]),
              "Alerts",
            )
          : empty("No alerts match."),
        list.some((a) => !a.acknowledged) ? h("div", { class: "toolbar" }, ack(null, "Acknowledge all alerts")) : "",
      );
    } catch (e) {
      showError(msg, e, filter);
    }
  };
  filter.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  await load();
  return page("Alerts", h("div", { class: "panel" }, filter, msg, results));
}
