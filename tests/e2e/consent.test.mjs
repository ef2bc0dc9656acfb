// Consent sources besides the shop's own call: Global Privacy Control and
// Google Consent Mode v2 (IAB TCF has its own file); a grant for
// measurement only, and no cookie ever. The last three are shared
// scenarios, which Firefox runs too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage } from "./harness.mjs";
import { consentModeV2, inContext, measurementOnly, noCookie } from "./scenarios.mjs";

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

/** `scenario` (see `scenarios.mjs`, which Firefox runs too) in a fresh Chromium context. */
const inChromium = async (scenario) => inContext(await browser.newContext(), scenario, server);

test("a grant for measurement only sends events but keeps no profile", () => inChromium(measurementOnly));

test("Google Consent Mode v2 updates grant and withdraw without a reload", () => inChromium(consentModeV2));

test("dangol never sets a cookie, on the page or from the server", () => inChromium(noCookie));
