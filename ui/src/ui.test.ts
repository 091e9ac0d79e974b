// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { h } from "./dom";
import { emailFrame, emailSrcdoc, EMAIL_CSP } from "./emailFrame";
import { showError, messageArea, field } from "./ui";

describe("email HTML", () => {
  it("is wrapped with its own CSP that forbids scripts and remote loads", () => {
    const doc = emailSrcdoc('<p>Hi</p><script>parent.pwned = 1</script><img src="https://tracker.example/x.gif">');
    expect(doc.indexOf("Content-Security-Policy")).toBeLessThan(doc.indexOf("<p>Hi"));
    expect(EMAIL_CSP).toContain("default-src 'none'");
    expect(EMAIL_CSP).toContain("script-src 'none'");
    expect(EMAIL_CSP).not.toMatch(/https?:/);
  });

  it("loses what the CSP does not cover: preconnect, meta refresh, base, frames, ping", () => {
    const doc = emailSrcdoc(
      '<html><head><meta http-equiv="refresh" content="0;url=http://x.test/r">' +
        '<link rel="preconnect" href="http://x.test/"><link rel="dns-prefetch" href="//x.test">' +
        '<base href="http://x.test/"></head><body bgcolor="#eee"><p id="keep">Hi</p>' +
        '<a href="http://x.test/a" ping="http://x.test/p">a</a><iframe src="http://x.test/f"></iframe>' +
        '<template shadowrootmode="open"><link rel="preconnect" href="http://x.test/"></template>' +
        '<svg><link rel="preconnect" href="http://x.test/"/></svg><style>p{color:red}</style></body></html>',
    );
    const parsed = new DOMParser().parseFromString(doc, "text/html");
    const ours = parsed.head.querySelectorAll("meta, base");
    expect(ours[0]?.getAttribute("content")).toBe(EMAIL_CSP);
    expect(parsed.querySelectorAll("link, meta, base, iframe, template, [ping]").length).toBe(ours.length);
    expect(ours.length).toBe(3);
    expect(doc).not.toContain("x.test/r");
    expect(doc).not.toContain("preconnect");
    expect(parsed.getElementById("keep")?.textContent).toBe("Hi");
    expect(parsed.querySelector("a")?.getAttribute("href")).toBe("http://x.test/a");
    expect(parsed.querySelector("style")?.textContent).toBe("p{color:red}");
    expect(parsed.body.getAttribute("bgcolor")).toBe("#eee");
  });

  it("leaves a clean email exactly as it came", () => {
    const html = "<p>Hi <b>there</b></p><img src=\"data:image/png;base64,AA==\">";
    expect(emailSrcdoc(html)).toContain(`<body>${html}</body>`);
  });

  it("goes only into a fully sandboxed iframe, never the app's DOM", () => {
    const host = h("div", {});
    host.appendChild(emailFrame("<b id='inside'>x</b><script>window.top.pwned=1</script>", "Body"));
    const frame = host.querySelector("iframe")!;
    expect(frame.getAttribute("sandbox")).toBe("");
    expect(frame.srcdoc).toContain('<b id="inside">x</b>');
    expect(frame.srcdoc).not.toContain("<script");
    expect(host.querySelector("#inside")).toBeNull();
    expect(host.querySelector("script")).toBeNull();
  });
});

describe("dom builder", () => {
  it("puts text as text, never as markup", () => {
    const el = h("p", {}, "<img src=x onerror=alert(1)>");
    expect(el.querySelector("img")).toBeNull();
    expect(el.textContent).toBe("<img src=x onerror=alert(1)>");
  });

  it("labels every field control", () => {
    const f = field({ name: "incoming_host", label: "Incoming host", help: "the host" }, "p");
    const input = f.querySelector("input")!;
    const label = f.querySelector("label")!;
    expect(label.getAttribute("for")).toBe(input.id);
    expect(input.getAttribute("aria-describedby")).toBe(`${input.id}-help`);
  });
});

describe("showError", () => {
  it("marks the field a validation error names", () => {
    const form = h("form", {}, field({ name: "incoming_host", label: "Host" }, "p"), field({ name: "timeout", label: "T" }, "p"));
    document.body.appendChild(form);
    const area = messageArea();
    showError(area, { kind: "invalid", field: "incoming-host", message: "must not be empty" }, form);
    const input = form.querySelector("#p-incoming_host")!;
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(form.querySelector(".field-error")!.textContent).toContain("must not be empty");
    expect(area.textContent).toBe("✖ incoming-host: must not be empty");
    showError(area, { kind: "invalid", field: "timeout", message: "too big" }, form);
    expect(input.hasAttribute("aria-invalid")).toBe(false);
    expect(form.querySelectorAll(".field-error").length).toBe(1);
  });
});
