/** Mailbox health counts, as the engine reports them. */
export interface MailboxCounts {
  /** Enabled mailboxes whose last cycle succeeded. */
  ok: number;
  /** Mailboxes with an open failure alert. */
  failing: number;
}

function mailboxes(n: number): string {
  return n === 1 ? "1 mailbox" : `${n} mailboxes`;
}

/**
 * One-line health summary, e.g. "12 mailboxes OK · 1 failing".
 *
 * The desktop shell uses the same wording for the tray tooltip
 * (`tooltip_summary` in src-tauri/src/shell.rs); both are tested against
 * status-cases.json so they cannot drift apart.
 */
export function statusSummary(counts: MailboxCounts, paused = false): string {
  const { ok, failing } = counts;
  let summary: string;
  if (ok === 0 && failing === 0) {
    summary = "No mailboxes";
  } else if (failing === 0) {
    summary = `${mailboxes(ok)} OK`;
  } else if (ok === 0) {
    summary = `${mailboxes(failing)} failing`;
  } else {
    summary = `${mailboxes(ok)} OK · ${failing} failing`;
  }
  return paused ? `Paused · ${summary}` : summary;
}
