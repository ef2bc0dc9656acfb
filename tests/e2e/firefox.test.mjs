// The session's deployments in a second engine: Firefox (Debian's ESR),
// driven over WebDriver BiDi, through the same scenarios the Chromium files
// run (see `scenarios.mjs`: across origins and tabs, a
// consent manager, Google Consent Mode, a grant for measurement only, no
// cookie, tag managers' dataLayer pushes) and the overlays' (by
// keyboard, in Korean; also run by `offers.test.mjs`); then the second
// module's coupon and Global Privacy Control as Firefox's own setting sends
// it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchFirefox, eventually, newContext, tcfCmpScript, shadowText, storedId } from "./harness.mjs";
import { consentModeV2, crossOrigin, dataLayerNoPause, forgetStopsEveryTab, inContext, koreanPage, measurementOnly, noCookie, noPageUrl, overlaysByKeyboard, problemsOf, tcfOnlyKeepsOneId } from "./scenarios.mjs";

let server;
let browser;
let cmp;

before(async () => {
  cmp = await tcfCmpScript();
  server = await startServer();
  browser = await launchFirefox();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** `scenario` in a fresh Firefox browsing context. */
const inFirefox = async (scenario) => inContext(await newContext(browser), scenario, server);

test("Firefox, cross-origin: a shop page on another origin gets offers, revalidates with 304, and sees a published change and a rollback", () =>
  inFirefox(crossOrigin));

test("Firefox: forget() in one tab stops every open tab at once, and nothing sent late brings data back", () =>
  inFirefox(forgetStopsEveryTab));

test("Firefox: widget requests send no page URL", () => inFirefox(noPageUrl));

test("Firefox: a shopper whose consent comes only from a TCF consent manager keeps one id and profile across pages", () =>
  inFirefox(tcfOnlyKeepsOneId(cmp)));

test("Firefox: a DOM node, a cyclic object and a 10 MB array pushed to dataLayer cost the page no pause, and GA4 events still count", () =>
  inFirefox(dataLayerNoPause));

test("Firefox: a grant for measurement only sends events but keeps no profile", () => inFirefox(measurementOnly));

test("Firefox: Google Consent Mode v2 updates grant and withdraw without a reload", () => inFirefox(consentModeV2));

test("Firefox: dangol never sets a cookie, on the page or from the server", () => inFirefox(noCookie));

test("Firefox: modal, toast and bar open as overlays; the modal traps focus, Esc closes it and gives focus back", () =>
  inFirefox(overlaysByKeyboard));

test("Firefox: a Korean page gets the widget's words in Korean and amounts in won", () => inFirefox(koreanPage));

test("Firefox: the second module draws the cart's coupon, whose reveal claims one code that redeems once", () =>
  inFirefox(async (server, context) => {
    const OFFER = '[data-dangol-slot="cart-offer"]';
    const page = await context.newPage();
    const problems = problemsOf(page);
    await page.goto(`${server.url}/demo/product.html?id=coat-01`);
    await page.click("#consent-accept");
    await page.click("#add-to-cart");
    const anon = await eventually(() => storedId(page), 5000, "the id");
    await page.goto(`${server.url}/demo/cart.html`);
    await page.waitForSelector(`${OFFER}[data-dangol-rendered="cart-coupon"]`, { timeout: 10000 });
    assert.equal(await shadowText(page, OFFER, ".value"), "₩5,000 off over ₩50,000");
    const reveal = () => page.evaluate((o) => document.querySelector(o).shadowRoot.querySelector(".reveal").click(), OFFER);
    await reveal();
    const code = await eventually(() => shadowText(page, OFFER, ".code"), 10000, "the code");
    assert.match(code, /^DANGOL-[0-9A-HJKMNP-TV-Z]{10}$/);
    assert.match(await shadowText(page, OFFER, ".status"), /Valid until .* \(14 days left\)/);
    const claim = await eventually(async () => (await server.events(anon)).find((e) => e.type === "claim"), 10000, "the claim event");
    assert.equal(claim.campaign, "cart-coupon");
    // The same shopper gets the same code again.
    await page.reload();
    await page.waitForSelector(`${OFFER}[data-dangol-rendered="cart-coupon"]`, { timeout: 10000 });
    await reveal();
    assert.equal(await eventually(() => shadowText(page, OFFER, ".code"), 10000, "the code again"), code);
    assert.equal((await server.redeem(code)).status, 200);
    assert.equal((await server.redeem(code)).status, 409);
    assert.deepEqual(problems, { failed: [], console: [], errors: [] });
  }));

test("Firefox with Global Privacy Control switched on in its settings: measurement stays off after a grant", async () => {
  const gpc = await launchFirefox({ "privacy.globalprivacycontrol.enabled": true });
  try {
    await inContext(await newContext(gpc), async (server, context) => {
      const page = await context.newPage();
      const problems = problemsOf(page);
      const posts = [];
      page.on("request", (r) => { if (r.method() === "POST") posts.push(r.url()); });
      await page.goto(`${server.url}/demo/`);
      assert.equal(await page.evaluate(() => navigator.globalPrivacyControl), true, "the browser's own signal");
      await page.waitForSelector('[data-dangol-slot="home-hero"][data-dangol-rendered]', { timeout: 10000 });
      await page.click("#consent-accept");
      await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:profile")), 5000, "the profile kept for personalisation");
      assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()), { personalisation: "granted", measurement: "denied", gpc: true });
      await page.reload();
      await page.waitForSelector('[data-dangol-slot="home-hero"][data-dangol-rendered]', { timeout: 10000 });
      await new Promise((r) => setTimeout(r, 1000)); // a batch would be on its way by now
      assert.deepEqual(posts, [], "nothing was sent");
      assert.deepEqual(problems, { failed: [], console: [], errors: [] });
    }, server);
  } finally {
    await gpc.close();
  }
});
