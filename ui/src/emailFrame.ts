/**
 * Email HTML is never put into the app's DOM: it is shown in an iframe with
 * `sandbox=""` (no scripts, no forms, no same-origin, no top navigation) whose
 * document carries its own CSP: no scripts, no remote loads of any kind. What
 * neither covers is removed from the HTML first (see `DROPPED`). The desktop
 * E2E test proves in WebKit that such an email reaches no server.
 */
export const EMAIL_CSP =
  "default-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; connect-src 'none'; " +
  "img-src data:; style-src 'unsafe-inline'; font-src 'none'; form-action 'none'; base-uri 'none'";

/**
 * Elements removed from an email before it is shown, for what the CSP and the
 * sandbox do not cover: WebKit opens a connection for `<link rel=preconnect>`
 * whatever the CSP says, `<meta http-equiv=refresh>` navigates, `<template
 * shadowrootmode>` would hide elements from this scrub; the rest could only
 * load or run something.
 */
const DROPPED =
  "link, meta, base, script, noscript, template, iframe, frame, frameset, object, embed, applet, portal";

/** Attributes removed from every element (`ping` reports clicks). */
const DROPPED_ATTRIBUTES = ["ping"];

/** The frame document's own head: the CSP first, so it covers all that follows. */
const HEAD =
  `<meta http-equiv="Content-Security-Policy" content="${EMAIL_CSP}">` +
  `<meta charset="utf-8"><base target="_blank">`;

/** Removes the dropped elements and attributes, except the first `keep` of the head; true if any was there. */
function scrub(doc: Document, keep: number): boolean {
  const ours = new Set(Array.from(doc.head.children).slice(0, keep));
  let found = false;
  for (const el of Array.from(doc.querySelectorAll(DROPPED))) {
    if (ours.has(el)) continue;
    el.remove();
    found = true;
  }
  for (const name of DROPPED_ATTRIBUTES) {
    for (const el of Array.from(doc.querySelectorAll(`[${name}]`))) {
      el.removeAttribute(name);
      found = true;
    }
  }
  return found;
}

function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The iframe `srcdoc` for an email's HTML body. The returned string is one
 * this function parsed itself and found clean, so the frame parses the same
 * tree (serializing and parsing again can change HTML; it is repeated until
 * nothing changes, else the email is shown as text).
 */
export function emailSrcdoc(html: string): string {
  const keep = 3; // the elements of HEAD
  let doc = `<!doctype html><html><head>${HEAD}</head><body>${html}</body></html>`;
  let parsed = new DOMParser().parseFromString(doc, "text/html");
  for (let round = 0; round < 3; round++) {
    if (!scrub(parsed, keep)) return doc;
    doc = `<!doctype html>${parsed.documentElement.outerHTML}`;
    parsed = new DOMParser().parseFromString(doc, "text/html");
  }
  const text = escapeText(parsed.body.textContent ?? "");
  return `<!doctype html><html><head>${HEAD}</head><body><pre>${text}</pre></body></html>`;
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
