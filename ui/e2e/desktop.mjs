// Desktop end-to-end test in real WebKit (tauri-driver + WebKitWebDriver).
// Started by session.sh; the Rust test (src-tauri/tests/e2e.rs) owns Dovecot
// and changes the password when asked through files in $E2E_OUT/control.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Builder, By, Key } from "selenium-webdriver";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing ${k}`);
  return v;
};
const OUT = env("E2E_OUT");
const SHOTS = join(OUT, "screenshots");
mkdirSync(SHOTS, { recursive: true });
mkdirSync(join(OUT, "control"), { recursive: true });
const user = env("E2E_USER");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const step = (s) => console.log(`e2e: ${s}`);

const driver = await new Builder()
  .usingServer(env("E2E_DRIVER_URL"))
  .withCapabilities({
    browserName: "wry",
    "tauri:options": { application: env("E2E_APP"), args: ["--db", env("E2E_DB")] },
  })
  .build();

async function waitFor(what, fn, timeout = 20000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

const text = () => driver.executeScript("return document.querySelector('main').innerText");
async function go(hash, title) {
  await driver.executeScript("location.hash = arguments[0]", hash);
  await waitFor(`page ${title}`, async () => (await driver.executeScript("return document.querySelector('main h1')?.textContent")) === title);
}
async function shot(name) {
  writeFileSync(join(SHOTS, `${name}.png`), Buffer.from(await driver.takeScreenshot(), "base64"));
}
async function type(form, name, value) {
  const el = await driver.findElement(By.css(`${form} [name="${name}"]`));
  await el.clear();
  await el.sendKeys(value);
}
async function choose(form, name, value) {
  await driver.executeScript(
    "const el = document.querySelector(arguments[0]); el.value = arguments[1]; el.dispatchEvent(new Event('change'));",
    `${form} [name="${name}"]`,
    value,
  );
}
const submit = (form) => driver.findElement(By.css(`${form} button[type=submit]`)).click();
const button = (label) => driver.findElement(By.xpath(`//main//button[normalize-space()='${label}']`));

try {
  step("first run: the dashboard guides the admin");
  await go("#/", "Dashboard");
  await waitFor("first-run guide", async () => (await text()).includes("Add an email server profile"));
  await shot("dashboard-first-run");

  step("settings: poll every 2 s so the test is quick");
  await go("#/settings", "Settings");
  const poll = "form[aria-label='polling.active_interval_secs']";
  await type(poll, "polling.active_interval_secs", "2");
  await submit(poll);
  await waitFor("setting saved", async () => (await text()).includes("polling.active_interval_secs = 2"));
  await shot("settings");

  step("profile: a validation error marks its field");
  await go("#/profiles", "Email server profiles");
  const pf = "#profile-form";
  await type(pf, "name", "Harness Dovecot");
  await choose(pf, "kind", "imap-smtp");
  await submit(pf);
  await waitFor("incoming-host marked invalid", async () =>
    (await driver.findElement(By.css(`${pf} [name=incoming_host]`)).getAttribute("aria-invalid")) === "true",
  );
  step("profile: create it against the harness's Dovecot");
  await type(pf, "incoming_host", env("E2E_IMAP_HOST"));
  await type(pf, "incoming_port", env("E2E_IMAP_PORT"));
  await choose(pf, "incoming_security", "none");
  await choose(pf, "outgoing_security", "none");
  await driver.findElement(By.css(`${pf} [name=allow_insecure]`)).click();
  await submit(pf);
  await waitFor("profile listed", async () => (await text()).includes("Profile Harness Dovecot saved") || (await driver.findElements(By.linkText("Harness Dovecot"))).length > 0);
  await go("#/profiles", "Email server profiles");
  await waitFor("profile in the list", async () => (await driver.findElements(By.linkText("Harness Dovecot"))).length > 0);
  await shot("profiles");

  step("profile: Test Connection, driven from the keyboard");
  await driver.findElement(By.linkText("Harness Dovecot")).sendKeys(Key.ENTER);
  const tf = "#connection-test-form";
  await waitFor("Test Connection form", async () => (await driver.findElements(By.css(tf))).length > 0);
  const lastTest = async () => driver.findElement(By.css("#connection-last-test")).getText();
  if ((await lastTest()) !== "Not tested yet.") throw new Error(`before any test: ${await lastTest()}`);
  await type(tf, "username", user);
  await type(tf, "password", env("E2E_PASSWORD"));
  await driver.findElement(By.css(`${tf} [name=password]`)).sendKeys(Key.ENTER);
  const imapRow = await waitFor(
    "the IMAP server's row",
    async () => {
      const rows = await driver.findElements(By.css("#connection-test-report tr"));
      for (const r of rows) {
        const t = await r.getText();
        if (t.includes(`:${env("E2E_IMAP_PORT")}`)) return t;
      }
      return null;
    },
    30000,
  );
  if (!imapRow.includes("OK") || !imapRow.includes("tested")) throw new Error(`IMAP row: ${imapRow}`);
  const typed = await driver.findElement(By.css(`${tf} [name=password]`)).getAttribute("value");
  if (typed !== "") throw new Error("the test password stayed in the form");
  // The result is kept on the profile and shown with it.
  await waitFor("the kept result", async () => (await lastTest()).includes(`IMAP ${env("E2E_IMAP_HOST")}:${env("E2E_IMAP_PORT")} ok`));
  await shot("profile-test-connection");

  step("mailbox: add it with its password");
  await go("#/mailboxes", "Mailboxes");
  const mf = "#mailbox-form";
  await type(mf, "email", user);
  await type(mf, "owner_name", "Alice Harness");
  await choose(mf, "profile", "Harness Dovecot");
  await type(mf, "password", env("E2E_PASSWORD"));
  await choose(mf, "outgoing", "none");
  await choose(mf, "track", "all");
  await submit(mf);
  await go(`#/mailboxes/${encodeURIComponent(user)}`, `Mailbox ${user}`);

  step("Test & Enable");
  await button("✔ Test & Enable").click();
  await waitFor("Test & Enable passed", async () => (await text()).includes("Test & Enable passed"), 30000);
  await shot("mailbox-test-enable");

  step("activities appear");
  await go("#/activities", "Activities");
  await waitFor(
    "tracked email",
    async () => {
      await driver.findElement(By.css("form[aria-label='Filter activities'] button[type=submit]")).click();
      await sleep(300);
      return (await driver.findElements(By.linkText("E2E scripted email"))).length > 0;
    },
    40000,
  );
  await driver.findElement(By.linkText("E2E scripted email")).click();
  const frame = await waitFor("email frame", async () => (await driver.findElements(By.css("#activity-detail iframe.email-frame")))[0]);
  step("the email's script does not run");
  const sandbox = await frame.getAttribute("sandbox");
  if (sandbox !== "") throw new Error(`iframe sandbox is ${JSON.stringify(sandbox)}`);
  const appScripts = await driver.executeScript("return document.querySelectorAll('main script').length");
  if (appScripts !== 0) throw new Error("email script landed in the app's DOM");
  await driver.switchTo().frame(frame);
  const inside = await waitFor("email body rendered", async () =>
    driver.executeScript("return document.getElementById('hello') ? { ran: document.body.getAttribute('data-ran') } : null"),
  );
  await driver.switchTo().defaultContent();
  if (inside.ran !== null) throw new Error(`the email's script ran: ${inside.ran}`);
  const title = await driver.getTitle();
  if (title.includes("pwned")) throw new Error("the email's script changed the app");
  await shot("activity-email");

  step("remote content: the mail frame loads nothing and navigates nowhere");
  // The Rust test counts every hit on the listener this email points at.
  await go("#/activities", "Activities");
  await waitFor(
    "remote-content email",
    async () => {
      await driver.findElement(By.css("form[aria-label='Filter activities'] button[type=submit]")).click();
      await sleep(300);
      return (await driver.findElements(By.linkText("E2E remote content"))).length > 0;
    },
    40000,
  );
  await driver.findElement(By.linkText("E2E remote content")).click();
  const remote = await waitFor("remote-content frame", async () => {
    for (const f of await driver.findElements(By.css("#activity-detail iframe.email-frame"))) {
      if ((await f.getAttribute("title")).includes("E2E remote content")) return f;
    }
    return null;
  });
  const appUrl = await driver.getCurrentUrl();
  const windows = (await driver.getAllWindowHandles()).length;
  const inFrame = async (script) => {
    await driver.switchTo().frame(remote);
    try {
      return await driver.executeScript(script);
    } finally {
      await driver.switchTo().defaultContent();
    }
  };
  const emailShown = "return document.getElementById('remote-marker') ? location.href : null";
  await waitFor("remote-content body rendered", () => inFrame(emailShown));
  // The Rust test writes every hit on its listener to this file as it comes.
  const hits = () => (existsSync(join(OUT, "control", "trap-hits")) ? readFileSync(join(OUT, "control", "trap-hits"), "utf8") : "");
  await sleep(4000); // the meta refresh, the self-submitting form and the loads have had their chance
  if (hits()) throw new Error(`opening the email reached the network:\n${hits()}`);
  step("remote content: clicking the submit button and pressing Enter in the form");
  await driver.switchTo().frame(remote);
  try {
    await driver.findElement(By.id("remote-submit")).click();
    await driver.findElement(By.id("remote-input")).click();
    await driver.actions().sendKeys(Key.ENTER).perform();
    await driver.findElement(By.id("remote-marker")).click();
  } finally {
    await driver.switchTo().defaultContent();
  }
  await sleep(3000);
  if (hits()) throw new Error(`clicking in the email reached the network:\n${hits()}`);
  const nowUrl = await driver.getCurrentUrl();
  if (nowUrl !== appUrl) throw new Error(`the app window navigated: ${appUrl} -> ${nowUrl}`);
  const nowWindows = (await driver.getAllWindowHandles()).length;
  if (nowWindows !== windows) throw new Error(`windows: ${windows} -> ${nowWindows}`);
  const still = await inFrame(emailShown);
  if (still !== "about:srcdoc") throw new Error(`the mail frame left the email: ${still}`);
  await driver.executeScript("arguments[0].scrollIntoView({ block: \"center\" })", remote);
  await sleep(300);
  await shot("activity-remote-content");
  step("remote content: nothing loaded, no navigation");

  step("dashboard while healthy");
  await go("#/", "Dashboard");
  await waitFor("mailbox OK", async () => (await text()).includes("1 mailbox OK"));
  await shot("dashboard");

  step("password changed on the server");
  writeFileSync(join(OUT, "control", "change-password"), "");
  await waitFor("password changed", async () => existsSync(join(OUT, "control", "password-changed")), 10000);
  await button("⟳ Sync now").click();
  await waitFor("mailbox failing", async () => (await text()).includes("1 mailbox failing"), 30000);
  const tray = await waitFor("tray in error", async () => {
    const s = readFileSync(env("CRMSYNC_DESKTOP_TRAY_STATE_FILE"), "utf8");
    return s.startsWith("error") ? s : null;
  });
  step(`tray: ${tray.trim()}`);
  await shot("dashboard-failing");

  step("notification on D-Bus");
  await waitFor(
    "Notify call",
    async () => readFileSync(join(OUT, "notifications.log"), "utf8").includes(`${user} is failing`),
    30000,
  );

  step("keyboard: Tab reaches the skip link and the navigation, Enter opens a page");
  // A fresh page, so Tab starts from the top (not after the last clicked button).
  await driver.navigate().refresh();
  await waitFor("dashboard after reload", async () => (await driver.executeScript("return document.querySelector('main h1')?.textContent")) === "Dashboard");
  const seen = [];
  for (let i = 0; i < 20 && !seen.includes("Alerts"); i++) {
    await driver.actions().sendKeys(Key.TAB).perform();
    seen.push(
      await driver.executeScript(
        "const a = document.activeElement; return a ? (a.getAttribute('aria-label') || a.textContent || a.tagName).trim() : ''",
      ),
    );
  }
  if (seen[0] !== "Skip to content") throw new Error(`first Tab stop: ${seen[0]} (order: ${seen.join(" | ")})`);
  if (!seen.includes("Alerts")) throw new Error(`Tab never reached Alerts: ${seen.join(" | ")}`);
  await driver.actions().sendKeys(Key.ENTER).perform();
  await waitFor("Alerts opened with Enter", async () => (await driver.executeScript("return document.querySelector('main h1')?.textContent")) === "Alerts");

  step("the other pages");
  await go("#/alerts", "Alerts");
  await waitFor("auth alert", async () => (await text()).includes("IMAP_AUTH_FAILED") || (await text()).includes("AUTH"));
  await shot("alerts");
  await go(`#/mailboxes/${encodeURIComponent(user)}`, `Mailbox ${user}`);
  await shot("mailbox-failing");
  await go("#/mailboxes", "Mailboxes");
  await shot("mailboxes");
  await go("#/directory/users", "Users");
  await shot("users");
  await go("#/directory/contacts", "Contacts");
  await shot("contacts");
  await go("#/migrate", "Migrate from the Email Router");
  await shot("migrate");
  step("OAuth2: a Microsoft 365 profile, its fields in the admin's words");
  await go("#/profiles", "Email server profiles");
  await type(pf, "name", "Microsoft 365");
  await choose(pf, "kind", "imap-smtp");
  await choose(pf, "auth", "microsoft");
  const shown = async (name) => driver.executeScript("const b = document.querySelector(arguments[0])?.closest('.field'); return !!b && getComputedStyle(b).display !== 'none'", `${pf} [name="${name}"]`);
  const value = async (name) => driver.findElement(By.css(`${pf} [name="${name}"]`)).getAttribute("value");
  if ((await value("preset")) !== "microsoft") throw new Error(`preset: ${await value("preset")}`);
  for (const [name, want] of [["oauth_client_id", true], ["oauth_client_secret", true], ["oauth_tenant", true], ["oauth_token_url", false], ["password", false], ["username", false]]) {
    if ((await shown(name)) !== want) throw new Error(`${name} shown: ${!want}`);
  }
  const authText = await driver.executeScript("const s = document.querySelector(arguments[0]); return s.options[s.selectedIndex].text", `${pf} [name=auth]`);
  if (authText !== "Sign in with Microsoft 365") throw new Error(`auth choice reads ${authText}`);
  await type(pf, "oauth_client_id", "crmsync-e2e");
  await driver.executeScript("document.querySelector(arguments[0]).closest('.panel').scrollIntoView({ block: 'start' })", `${pf} [name=auth]`);
  await shot("profile-oauth-microsoft");

  step("OAuth2: the preset's endpoints pointed at the local authorization server, its IMAP at Dovecot");
  // The test's stand-in for Microsoft is "Other OAuth2 provider" with the
  // mock's URLs; the Microsoft 365 preset stays chosen for the servers, and
  // the incoming server is overridden with the harness's Dovecot.
  await choose(pf, "auth", "custom");
  if ((await value("preset")) !== "microsoft") throw new Error("the preset changed with the provider");
  if (!(await shown("oauth_token_url")) || (await shown("oauth_tenant"))) throw new Error("custom fields not shown, or the tenant still is");
  await type(pf, "oauth_issuer", env("E2E_OAUTH_ISSUER"));
  await type(pf, "oauth_authorize_url", env("E2E_OAUTH_AUTHORIZE_URL"));
  await type(pf, "oauth_token_url", env("E2E_OAUTH_TOKEN_URL"));
  await type(pf, "oauth_scopes", "mail");
  await type(pf, "incoming_host", env("E2E_IMAP_HOST"));
  await type(pf, "incoming_port", env("E2E_IMAP_PORT"));
  await choose(pf, "incoming_security", "none");
  await driver.findElement(By.css(`${pf} [name=allow_insecure]`)).click();
  await submit(pf);
  await waitFor("OAuth2 profile listed", async () => (await driver.findElements(By.linkText("Microsoft 365"))).length > 0);
  const profileRow = await driver.findElement(By.xpath("//tr[.//a[normalize-space()='Microsoft 365']]")).getText();
  if (!profileRow.includes("smtp.office365.com:587") || !profileRow.includes("Other OAuth2 provider")) throw new Error(`profile row: ${profileRow}`);

  step("OAuth2: a mailbox without a password");
  const carol = env("E2E_OAUTH_USER");
  await go("#/mailboxes", "Mailboxes");
  await type(mf, "email", carol);
  await type(mf, "owner_name", "Carol OAuth");
  await choose(mf, "profile", "Microsoft 365");
  const pwShown = await driver.executeScript("return getComputedStyle(document.querySelector('#mailbox-form [name=password]').closest('.field')).display !== 'none'");
  if (pwShown) throw new Error("the mailbox form asks a password for an OAuth2 profile");
  await choose(mf, "outgoing", "none");
  await choose(mf, "track", "all");
  await submit(mf);
  await go(`#/mailboxes/${encodeURIComponent(carol)}`, `Mailbox ${carol}`);
  const state = () => driver.findElement(By.id("sign-in-state")).getText();
  await waitFor("not signed in", async () => (await state()).startsWith("Not signed in"));

  step("OAuth2: Test & Enable before the sign-in offers it");
  await button("✔ Test & Enable").click();
  await waitFor("Test & Enable asks for a sign-in", async () => (await text()).includes("OAUTH_SIGN_IN_REQUIRED"), 30000);
  const offered = await driver.findElements(By.xpath("//*[@id='test-report']//button[normalize-space()='Sign in']"));
  if (offered.length !== 1) throw new Error("the Test & Enable result offers no Sign in");

  step("OAuth2: Sign in (the test plays the browser)");
  // Clicked in the page in one step: a live refresh may re-render the page between a find and a click.
  await waitFor("Sign in clicked", async () => driver.executeScript("const b = document.getElementById('sign-in-button'); if (b && !b.disabled) { b.click(); return true; } return false;"));
  await waitFor("the browser was played", async () => existsSync(join(OUT, "control", "browsed")), 30000);
  const browsed = readFileSync(join(OUT, "control", "browsed"), "utf8");
  if (!browsed.startsWith("200")) throw new Error(`the sign-in came back as: ${browsed}`);
  await waitFor("Signed in", async () => (await state()).startsWith("Signed in; the current access token is valid until"), 30000);
  const pageText = await text();
  if (/eyJ[A-Za-z0-9_-]{10,}/.test(pageText)) throw new Error("a token is shown on the page");

  step("OAuth2: Test & Enable passes with the token, no password typed");
  await button("✔ Test & Enable").click();
  await waitFor("Test & Enable passed (OAuth2)", async () => (await text()).includes("Test & Enable passed"), 30000);
  await driver.executeScript("window.scrollTo(0, 0)");
  await shot("mailbox-signed-in");
  step("OAuth2: the provider revokes the sign-in; the notification asks for a new one");
  writeFileSync(join(OUT, "control", "revoke-sign-in"), "");
  await waitFor("sign-in revoked", async () => existsSync(join(OUT, "control", "sign-in-revoked")), 10000);
  await waitFor(
    "sign-in notification on D-Bus",
    async () => readFileSync(join(OUT, "notifications.log"), "utf8").includes(`${carol} needs a new sign-in`),
    120000,
  );
  step("OAuth2: the notification's route focuses the Sign in button");
  await driver.executeScript("location.hash = arguments[0]", `#/mailboxes/${encodeURIComponent(carol)}?sign-in`);
  await waitFor("not signed in any more", async () => (await state()).startsWith("Not signed in"), 30000);
  await waitFor("Sign in focused", async () => (await driver.executeScript("return document.activeElement?.id")) === "sign-in-button");
  const afterRevoke = await text();
  if (!afterRevoke.includes("OAUTH_SIGN_IN_REQUIRED") || !afterRevoke.includes("press Sign in")) throw new Error(`the page after the revocation:\n${afterRevoke}`);
  step("done");
} catch (e) {
  try {
    await shot("failure");
  } catch {}
  console.error(`e2e: FAILED: ${e.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await driver.quit();
}
