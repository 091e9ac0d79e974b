/**
 * Email HTML is never put into the app's DOM: it is shown in an iframe with
 * `sandbox=""` (no scripts, no forms, no same-origin, no top navigation) whose
 * document carries its own CSP: no scripts, no remote loads of any kind.
 */
export const EMAIL_CSP =
  "default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; connect-src 'none'; " +
  "img-src data:; style-src 'unsafe-inline'; font-src 'none'; form-action 'none'; base-uri 'none'";

/** The iframe `srcdoc` for an email's HTML body. */
export function emailSrcdoc(html: string): string {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${EMAIL_CSP}">`;
  // The CSP meta goes first, before anything of the email's own, so it
  // applies to every element the email declares.
  return `<!doctype html><html><head>${meta}<meta charset="utf-8"><base target="_blank"></head><body>${html}</body></html>`;
}

/** The sandboxed iframe showing `html`. */
export function emailFrame(html: string, title: string): HTMLIFrameElement {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", "");
  frame.setAttribute("referrerpolicy", "no-referrer");
  frame.setAttribute("csp", EMAIL_CSP);
  frame.title = title;
  frame.className = "email-frame";
  frame.srcdoc = emailSrcdoc(html);
  return frame;
}
