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

  it("goes only into a fully sandboxed iframe, never the app's DOM", () => {
    const host = h("div", {});
    host.appendChild(emailFrame("<b id='inside'>x</b><script>window.top.pwned=1</script>", "Body"));
    const frame = host.querySelector("iframe")!;
    expect(frame.getAttribute("sandbox")).toBe("");
    expect(frame.srcdoc).toContain("<b id='inside'>");
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
