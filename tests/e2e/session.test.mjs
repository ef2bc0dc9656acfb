// The shopper's session on real deployments: consent from a consent manager
// only, several open tabs, tag managers' dataLayer pushes, and the shop's
// page on another origin than dangol-server (the README's own setup).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, eventually, tcfCmpScript, dangolKeys } from "./harness.mjs";
import { crossOrigin, dataLayerNoPause, forgetStopsEveryTab, inContext, noPageUrl, tcfOnlyKeepsOneId } from "./scenarios.mjs";

let server;
let browser;
let cmp;

before(async () => {
  cmp = await tcfCmpScript();
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const HERO = '[data-dangol-slot="home-hero"]';

/** `scenario` (see `scenarios.mjs`, which Firefox runs too) in a fresh Chromium context. */
const inChromium = async (scenario) => inContext(await browser.newContext(), scenario, server);

test("a shopper whose consent comes only from a TCF consent manager keeps one id and profile across pages", () =>
  inChromium(tcfOnlyKeepsOneId(cmp)));

test("a returning shopper whose consent manager answers late still gets offers from their profile on the first page", async () => {
  const { context, page, log } = await watchedPage(browser, cmp);
  // Page 1: the manager says yes; the shopper puts something in the cart.
  await page.goto(`${server.url}/demo/`);
  await page.evaluate(() => window.__testCmp.answer([], [1, 5, 6, 8]));
  await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.evaluate(() => window.dangol.track("add_to_cart", { items: [{ item_id: "knit-01", item_category: "knit", price: 59000, quantity: 1 }] }));
  await eventually(async () => (await page.evaluate(() => window.dangol.export())).profile.cart?.length > 0, 5000, "the cart in the profile");
  await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:config")), 5000, "the stored config");
  // Page 2: the manager answers only after 250 ms, as one loading late does.
  await page.addInitScript(() => setTimeout(() => window.__testCmp.answer([], [1, 5, 6, 8]), 250));
  await page.goto(`${server.url}/demo/`);
  // The first decision waited for it: the cart reminder from the restored
  // profile, not the welcome banner for anyone (shown offers never swap).
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  assert.equal(await page.getAttribute(HERO, "data-dangol-rendered"), "cart-reminder");
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("forget() in one tab stops every open tab at once, and nothing sent late brings data back", () =>
  inChromium(forgetStopsEveryTab));

test("consent actions made before the widget loaded count even when the shopper leaves the page at once", async () => {
  const { context, page, log } = await watchedPage(browser);
  // A stalled network: the widget's wasm does not arrive before the
  // shopper leaves the first page. Its request is held, never answered
  // (the page leaving cancels it); the next page's wasm comes at once.
  // The route stays: removing it could let the held request through.
  let stalled = true;
  const held = [];
  const slow = (route) => (stalled ? held.push(route) : route.continue());
  const WASM = /\/pkg\/dangol_bg\.pack/; // the first module's wasm, packed
  await page.route(WASM, slow);
  await page.goto(`${server.url}/demo/category.html`);
  assert.equal(await page.evaluate(() => window.dangol.ready), undefined, "the widget has not loaded");
  await page.evaluate(() => window.dangol.consent.grant(["measurement"]));
  assert.equal(await page.evaluate(() => window.dangol.ready), undefined, "the widget is still not loaded");
  stalled = false;
  await page.goto(`${server.url}/demo/product.html?id=knit-01`);
  await page.waitForFunction(() => window.dangol && window.dangol.ready);
  assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()),
    { personalisation: "denied", measurement: "granted", gpc: false });
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  const kept = (p) => dangolKeys(p).then((keys) => keys.filter((k) => !k.startsWith("dangol:demo:outbox:")));
  assert.deepEqual(await kept(page), ["dangol:demo:consent", "dangol:demo:id", "dangol:demo:key"],
    "the kept actions were taken and their key removed");
  await eventually(async () => (await server.events(anon)).some((e) => e.type === "page_view"), 10000, "this page's view");

  // forget() on a page the shopper leaves before the widget loaded: the
  // next page erases the id, here and on the server. (The same browser
  // storage in a new context, whose empty cache makes the wasm come late.)
  const later = await browser.newContext({ storageState: await context.storageState() });
  await context.close();
  const again = await later.newPage();
  const errors = [];
  again.on("pageerror", (e) => errors.push(String(e)));
  stalled = true;
  await again.route(WASM, slow);
  await again.goto(`${server.url}/demo/category.html`);
  assert.equal(await again.evaluate(() => window.dangol.ready), undefined, "the widget has not loaded");
  assert.deepEqual(await kept(again), ["dangol:demo:consent", "dangol:demo:id", "dangol:demo:key"]);
  await again.evaluate(() => window.dangol.forget());
  assert.equal(await again.evaluate(() => window.dangol.ready), undefined, "the widget is still not loaded");
  stalled = false;
  await again.goto(`${server.url}/demo/`);
  await again.waitForFunction(() => window.dangol && window.dangol.ready);
  assert.equal(await again.evaluate(() => window.dangol.consent.status()), "denied", "this page took the forget()");
  await eventually(async () => (await server.events(anon)).length === 0, 10000, "the server to erase the id");
  assert.deepEqual(await dangolKeys(again), []);
  assert.deepEqual(log.errors.concat(errors), []);
  for (const route of held) await route.abort().catch(() => {});
  await later.close();
});

test("deny() erases the server's copy of the id, in every tab", async () => {
  const context = await browser.newContext();
  const a = await context.newPage();
  const b = await context.newPage();
  await a.goto(`${server.url}/demo/`);
  await a.click("#consent-accept");
  const anon = await eventually(() => a.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await b.goto(`${server.url}/demo/`);
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "events");
  await b.evaluate(() => window.dangol.consent.deny());
  await eventually(async () => (await a.evaluate(() => window.dangol.consent.status())) === "denied", 5000, "tab A to stop");
  await eventually(async () => (await server.events(anon)).length === 0, 10000, "the server to erase the id");
  assert.deepEqual(await dangolKeys(a), []);
  await context.close();
});

test("withdrawing measurement keeps personalisation but removes every unsent event, and claims carry no id", async () => {
  const { context, page } = await watchedPage(browser);
  await page.route("**/v1/sites/demo/events", (route) => route.abort()); // events pile up unsent
  await page.goto(`${server.url}/demo/`);
  // The shop's own call (the demo's consent bar would grant both again on
  // every page).
  await page.evaluate(() => window.dangol.consent.grant());
  await eventually(async () => (await dangolKeys(page)).some((k) => k.startsWith("dangol:demo:outbox:")), 5000, "a stored outbox");
  await page.evaluate(() => window.dangol.consent.grant(["personalisation"]));
  const keys = await dangolKeys(page);
  assert.ok(!keys.some((k) => k.includes("outbox")), `no outbox left: ${keys}`);
  assert.ok(keys.includes("dangol:demo:profile") && keys.includes("dangol:demo:id"), `${keys}`);
  assert.deepEqual((await page.evaluate(() => window.dangol.export())).unsent_events, []);
  // A coupon claimed now names no pseudonymous id, and still gets a code.
  const claims = [];
  page.on("request", (r) => { if (r.url().endsWith("/coupons/claim")) claims.push(JSON.parse(r.postData())); });
  await page.goto(`${server.url}/demo/product.html?id=coat-01`);
  // The widget reads the cart from the page's GA4 push; a push made while
  // it is still loading dies with the page if the shopper leaves at once.
  await page.waitForFunction(() => window.dangol && window.dangol.ready);
  await page.click("#add-to-cart");
  await page.goto(`${server.url}/demo/cart.html`);
  const OFFER = '[data-dangol-slot="cart-offer"]';
  await page.waitForSelector(`${OFFER}[data-dangol-rendered="cart-coupon"]`);
  await page.click(`${OFFER} .reveal`);
  await eventually(async () => (await page.locator(`${OFFER} .code`).count()) > 0, 10000, "the code");
  assert.deepEqual(claims, [{ campaign: "cart-coupon", variant: claims[0].variant }]);
  await context.close();
});

test("a DOM node, a cyclic object and a 10 MB array pushed to dataLayer cost the page no pause, and GA4 events still count", () =>
  inChromium(dataLayerNoPause));

test("widget requests send no page URL", () => inChromium(noPageUrl));

test("cross-origin: a shop page on another origin gets offers, revalidates with 304, and sees a published change and a rollback", () =>
  inChromium(crossOrigin));
