// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import type { ConnectionTest, ServerCheck } from "./bindings";
import { connectionTestReport, lastTestLine } from "./pages/profiles";

const imap: ServerCheck = {
  proto: "IMAP",
  role: "incoming",
  host: "mail.example.com",
  port: 993,
  security: "tls",
  ok: true,
  login: true,
  code: null,
  message: "IMAP mail.example.com:993 answered over TLS; login as anna@example.com and INBOX (3 messages) OK",
  hint: null,
  action: null,
  elapsed_ms: 41,
};
const smtp: ServerCheck = {
  ...imap,
  proto: "SMTP",
  role: "outgoing",
  port: 2525,
  security: "starttls",
  ok: false,
  code: "CONNECTION_REFUSED",
  message: "cannot connect to SMTP server mail.example.com:2525: connection refused",
  hint: "Nothing answers on that host and port. Check the port, and that the mail server is running; crmsync retries by itself.",
  action: null,
  elapsed_ms: 2,
};

function rows(t: ConnectionTest): string[][] {
  const el = connectionTestReport(t);
  return Array.from(el.querySelectorAll("tbody tr")).map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent ?? ""));
}

describe("Test Connection result", () => {
  it("shows one row per server with an icon and a word for the result, not colour alone", () => {
    const t: ConnectionTest = { profile: "Office", ok: false, login_as: "anna@example.com", servers: [imap, smtp] };
    const [ok, failed] = rows(t);
    expect(ok![0]).toBe("✔ OK");
    expect(ok![1]).toBe("IMAP mail.example.com:993");
    expect(ok![4]).toBe("tested");
    expect(ok![5]).toBe("41 ms");
    expect(failed![0]).toBe("✖ Failed");
    expect(failed![1]).toBe("SMTP mail.example.com:2525");
    expect(failed![3]).toBe("starttls");
    expect(failed![6]).toBe(`CONNECTION_REFUSED: ${smtp.message}`);
    expect(failed![7]).toBe(smtp.hint);
    const el = connectionTestReport(t);
    expect(el.getAttribute("aria-label")).toBe("Test Connection result");
    expect(el.querySelector("h2")!.textContent).toBe("Test Connection: ✖ 1 of 2 servers failed");
    // The icon is decoration for screen readers; the word carries the meaning.
    expect(el.querySelector(".badge-icon")!.getAttribute("aria-hidden")).toBe("true");
  });

  it("says whether the login was tested when everything passed", () => {
    const connectionOnly = { ...imap, login: false, message: "IMAP mail.example.com:993 answered over TLS; login not tested" };
    const el = connectionTestReport({ profile: "Office", ok: true, login_as: null, servers: [connectionOnly] });
    expect(el.querySelector("h2")!.textContent).toBe("Test Connection: ✔ every server answered (login not tested)");
    expect(rows({ profile: "Office", ok: true, login_as: null, servers: [connectionOnly] })[0]![4]).toBe("not tested");
    const logged = connectionTestReport({ profile: "Office", ok: true, login_as: "anna@example.com", servers: [imap] });
    expect(logged.querySelector("h2")!.textContent).toBe("Test Connection: ✔ every server answered; login as anna@example.com OK");
  });
});

describe("last Test Connection", () => {
  it("says when it ran, whether it passed and what each server said", () => {
    const text = lastTestLine({ on: "2026-11-26T09:41:00.000Z", ok: false, message: "connection only; outgoing SMTP mail.example.com:2525 CONNECTION_REFUSED: refused" }).textContent!;
    expect(text).toContain("✖ failed");
    expect(text).toContain("SMTP mail.example.com:2525 CONNECTION_REFUSED");
    expect(lastTestLine({ on: "2026-11-26T09:41:00.000Z", ok: true, message: "connection only" }).textContent).toContain("✔ every server passed");
  });

  it("says when none ran", () => {
    expect(lastTestLine(null).textContent).toBe("Not tested yet.");
  });
});
