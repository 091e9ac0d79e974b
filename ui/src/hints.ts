import type { Action } from "./bindings";

/** How to do `action` in this window (the CLI says it with its commands). */
export function actionWords(action: Action | null | undefined): string {
  switch (action) {
    case "enter_password":
      return "On the mailbox's page (or the profile's, when the profile logs in for every mailbox), enter the current password and press Test & Enable.";
    case "approve_mailbox":
      return "Press Approve on the mailbox's page.";
    case "enable_mailbox":
      return "Press Enable on the mailbox's page to enable it now.";
    case "confirm_mass_delete":
      return "Confirming held deletes is not in this window yet; ask whoever runs crmsync on the server to confirm them, or restore the items.";
    case "add_forward_mailbox":
      return "On the Mailboxes page, add a mailbox for that user whose incoming email comes through the forward mailbox.";
    case "sign_in":
      return "On the mailbox's page, press Sign in (Sign in with Microsoft or Google), sign in with the mailbox's account in the browser that opens, then press Test & Enable.";
    default:
      return "";
  }
}

/** The hint, followed by this window's words for its action. */
export function whatToDo(hint: string | null | undefined, action: Action | null | undefined): string {
  return [hint ?? "", actionWords(action)].filter((s) => s).join(" ");
}
