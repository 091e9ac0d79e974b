import "./style.css";
import { statusSummary } from "./status";

// Placeholder until the engine bindings arrive: no mailboxes are configured.
const summary = document.getElementById("status-summary");
if (summary) {
  summary.textContent = statusSummary({ ok: 0, failing: 0 });
}
