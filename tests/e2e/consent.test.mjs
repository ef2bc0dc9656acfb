// Consent sources besides the shop's own call: Global Privacy Control and
// Google Consent Mode v2 (IAB TCF has its own file).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, eventually } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const HERO = '[data-dangol-slot="home-hero"]';

test("Global Privacy Control turns measurement off even after a grant", async () => {
  const { context, page, log } = await watchedPage(browser, () => {
    Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true });
  });
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  await page.click("#consent-accept");
  await page.waitForTimeout(500);
  const purposes = await page.evaluate(() => window.dangol.consent.purposes());
  assert.deepEqual(purposes, { personalisation: "granted", measurement: "denied", gpc: true });
  assert.deepEqual(log.requests.filter((r) => r.method === "POST"), [], "nothing was sent");
  // Personalisation still works: the profile is kept.
  assert.ok(await page.evaluate(() => localStorage.getItem("dangol:demo:profile")));
  await context.close();
});

test("a grant for measurement only sends events but keeps no profile", async () => {
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  await page.evaluate(() => window.dangol.consent.grant(["measurement"]));
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "page_view and exposure");
  const keys = () => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol:")).sort());
  // No profile, declared attributes or config, ever; the outbox holds events
  // only until they are sent.
  assert.deepEqual((await keys()).filter((k) => !k.startsWith("dangol:demo:outbox:")), ["dangol:demo:consent", "dangol:demo:id", "dangol:demo:key"]);
  await eventually(async () => (await keys()).length === 3, 10000, "the outbox sent and removed");
  assert.deepEqual(await keys(), ["dangol:demo:consent", "dangol:demo:id", "dangol:demo:key"]);
  await context.close();
});

test("Google Consent Mode v2 updates grant and withdraw without a reload", async () => {
  const { context, page } = await watchedPage(browser, () => {
    window.dataLayer = window.dataLayer || [];
    function gtag() { window.dataLayer.push(arguments); }
    window.gtag = gtag;
    gtag("consent", "default", { ad_storage: "denied", analytics_storage: "denied", personalization_storage: "denied" });
  });
  const posted = [];
  page.on("request", (r) => { if (r.method() === "POST") posted.push(r.url()); });
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()),
    { personalisation: "unknown", measurement: "unknown", gpc: false });
  assert.deepEqual(posted, [], "nothing is sent under the default");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "granted", personalization_storage: "granted" }));
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id after the update");
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "events after the update");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "denied", personalization_storage: "denied" }));
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol:"))), []);
  assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()),
    { personalisation: "denied", measurement: "denied", gpc: false });
  await context.close();
});

test("dangol never sets a cookie, on the page or from the server", async () => {
  const { context, page } = await watchedPage(browser);
  const setCookies = [];
  page.on("response", async (r) => {
    const h = await r.allHeaders();
    if (h["set-cookie"]) setCookies.push(r.url());
  });
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  await page.goto(`${server.url}/demo/category.html`);
  await page.waitForSelector('[data-dangol-slot="category-top"][data-dangol-rendered]');
  await page.waitForTimeout(300);
  assert.deepEqual(await context.cookies(), []);
  assert.deepEqual(setCookies, []);
  await context.close();
});
