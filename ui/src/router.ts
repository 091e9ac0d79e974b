/** The pages of the app and their hash routes (`#/mailboxes/alice@example.com`). */
export type Route =
  | { page: "dashboard" }
  | { page: "profiles"; edit?: string }
  | { page: "mailboxes" }
  | { page: "mailbox"; email: string; signIn?: boolean }
  | { page: "alerts" }
  | { page: "activities"; id?: number; mailbox?: string }
  | { page: "directory"; tab: DirectoryTab }
  | { page: "settings" }
  | { page: "migrate" };

export type DirectoryTab = "users" | "queues" | "contacts" | "accounts" | "leads";
export const DIRECTORY_TABS: DirectoryTab[] = ["users", "queues", "contacts", "accounts", "leads"];

export function parseRoute(hash: string): Route {
  const [path = "", query = ""] = hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").map((p) => decodeURIComponent(p));
  const [head, arg] = parts;
  switch (head) {
    case "profiles":
      return arg ? { page: "profiles", edit: arg } : { page: "profiles" };
    case "mailboxes":
      // `?sign-in` (a sign-in notification's action) focuses the Sign in button.
      if (arg && params.has("sign-in")) return { page: "mailbox", email: arg, signIn: true };
      return arg ? { page: "mailbox", email: arg } : { page: "mailboxes" };
    case "alerts":
      return { page: "alerts" };
    case "activities": {
      const id = Number(arg);
      const mailbox = params.get("mailbox") ?? undefined;
      if (arg && Number.isInteger(id) && id > 0) return { page: "activities", id };
      return mailbox ? { page: "activities", mailbox } : { page: "activities" };
    }
    case "directory":
      return { page: "directory", tab: arg && (DIRECTORY_TABS as string[]).includes(arg) ? (arg as DirectoryTab) : "users" };
    case "settings":
      return { page: "settings" };
    case "migrate":
      return { page: "migrate" };
    default:
      return { page: "dashboard" };
  }
}

export function routeHash(r: Route): string {
  switch (r.page) {
    case "dashboard":
      return "#/";
    case "profiles":
      return r.edit ? `#/profiles/${encodeURIComponent(r.edit)}` : "#/profiles";
    case "mailboxes":
      return "#/mailboxes";
    case "mailbox":
      return `#/mailboxes/${encodeURIComponent(r.email)}${r.signIn ? "?sign-in" : ""}`;
    case "activities":
      if (r.id) return `#/activities/${r.id}`;
      return r.mailbox ? `#/activities?mailbox=${encodeURIComponent(r.mailbox)}` : "#/activities";
    case "directory":
      return `#/directory/${r.tab}`;
    default:
      return `#/${r.page}`;
  }
}
