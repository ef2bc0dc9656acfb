// Deployments run in both engines: `session.test.mjs` runs them in Chromium
// (playwright-core), `firefox.test.mjs` in Firefox (puppeteer-core over
// WebDriver BiDi). What they check must hold by the standards (CORS, the
// storage event, referrer policy), not by one engine's leniency, so each
// scenario uses only what both drivers' pages share: goto, reload, click,
// focus, keyboard presses, evaluate, $eval, waitForSelector,
// waitForFunction and the request, response, requestfailed, console and
// pageerror events, plus a script run before each document's own
// (`initScript`) and requests answered by interception (`openServed`).
// `context` is a fresh browser context of either driver (`newPage()`,
// `close()`).
import assert from "node:assert/strict";
import { eventually, crossOriginShop, compactConfig, dangolKeys, pause, shadowText, shotPath, storedId } from "./harness.mjs";

const HERO = '[data-dangol-slot="home-hero"]';
// A reload aborts what is still in flight: not a failure of the page's.
const ABORTED = new Set(["net::ERR_ABORTED", "NS_BINDING_ABORTED"]);

/** Runs `scenario` in `context` (a fresh context of either driver), closing it after. */
export async function inContext(context, scenario, server) {
  try {
    await scenario(server, context);
  } finally {
    await context.close();
  }
}

/** Records what went wrong on `page`: failed requests, console errors, uncaught errors. */
export function problemsOf(page) {
  const problems = { failed: [], console: [], errors: [] };
  page.on("requestfailed", (r) => {
    const reason = r.failure()?.errorText;
    if (!ABORTED.has(reason)) problems.failed.push(`${r.url()} ${reason}`);
  });
  page.on("console", (m) => { if (m.type() === "error") problems.console.push(m.text()); });
  page.on("pageerror", (e) => problems.errors.push(String(e)));
  return problems;
}

/** Runs `script` (source text) before each document's own scripts on `page`, in either driver. */
const initScript = (page, script) =>
  page.addInitScript ? page.addInitScript(script) : page.evaluateOnNewDocument(script);

/** A request's headers as sent, in either driver. */
const headersOf = (request) => (request.allHeaders ? request.allHeaders() : Promise.resolve(request.headers()));

const rendered = (page) => page.waitForSelector(`${HERO}[data-dangol-rendered]`, { timeout: 10000 });
const shownCampaign = (page) => page.$eval(HERO, (el) => el.getAttribute("data-dangol-rendered"));
const hero = (page) => page.$eval(HERO, (el) => el.shadowRoot.textContent);

/**
 * The shop's page on another origin than dangol-server (the README's own
 * setup): an offer before any choice with nothing stored, consent, events
 * sent across origins, a returning shopper's 304 revalidation, and a
 * published change and a rollback reaching them, with one id throughout,
 * no failed request and no console error.
 */
export async function crossOrigin(server, context) {
  const admin = (path, init) => server.adminApi(path, init);
  const shop = await crossOriginShop(server.url);
  assert.notEqual(new URL(server.url).origin, shop.origin);
  const site = await admin("/v1/admin/sites/demo");
  const putSite = (origins) => admin("/v1/admin/sites/demo", {
    method: "PUT",
    body: JSON.stringify({ name: site.name, allowed_origins: origins, retention_days: site.retention_days, settings: site.settings }),
  });
  await putSite([shop.origin]);
  const page = await context.newPage();
  const problems = problemsOf(page);
  const configs = [];
  page.on("response", (r) => { if (r.url().includes("/config")) configs.push(r.status()); });
  try {
    // 1. First visit.
    await page.goto(`${shop.origin}/demo/`);
    await rendered(page);
    assert.ok(await shownCampaign(page));
    assert.deepEqual(await dangolKeys(page), [], "nothing stored before consent");
    await page.click("#consent-accept");
    const anon = await eventually(() => storedId(page), 5000, "the id");
    await eventually(async () => (await server.events(anon)).length >= 2, 10000, "events sent across origins");

    // 2. A returning shopper revalidates the stored config: 304.
    await page.reload();
    await rendered(page);
    await eventually(() => configs.includes(304), 5000, `a 304 revalidation (config answers: ${configs})`);

    // 3. A published change reaches the returning shopper (on the page
    //    after the one that fetched it: shown offers never swap).
    const shown = await shownCampaign(page);
    const draft = await admin(`/v1/admin/sites/demo/campaigns/${shown}`);
    const versions = await admin("/v1/admin/sites/demo/versions");
    const oldVersion = Math.max(...versions.versions.map((v) => v.version));
    const changed = structuredClone(draft);
    for (const v of changed.variants) v.content.headline = "Cross-origin change";
    await admin(`/v1/admin/sites/demo/campaigns/${shown}`, { method: "PUT", body: JSON.stringify(changed) });
    await admin("/v1/admin/sites/demo/publish", { method: "POST", body: "{}" });
    await eventually(async () => {
      await page.reload();
      await rendered(page);
      return (await hero(page)).includes("Cross-origin change");
    }, 15000, "the published change");

    // 4. A rollback reaches them too.
    await admin("/v1/admin/sites/demo/rollback", { method: "POST", body: JSON.stringify({ version: oldVersion }) });
    await eventually(async () => {
      await page.reload();
      await rendered(page);
      return !(await hero(page)).includes("Cross-origin change");
    }, 15000, "the rollback");
    assert.equal(await storedId(page), anon, "one id throughout");
    assert.deepEqual(problems, { failed: [], console: [], errors: [] });
  } finally {
    await putSite(site.allowed_origins);
    shop.close();
  }
}

/**
 * `forget()` in one tab while another keeps making events: the other tab
 * stops at once (the storage event), writes nothing back, the server
 * erases the id, and a batch of that id arriving late is refused.
 */
export async function forgetStopsEveryTab(server, context) {
  const a = await context.newPage();
  const b = await context.newPage();
  const problems = [problemsOf(a), problemsOf(b)];
  await a.goto(`${server.url}/demo/`);
  await a.click("#consent-accept");
  const anon = await eventually(() => storedId(a), 5000, "the id");
  await b.goto(`${server.url}/demo/category.html`);
  await b.waitForFunction(() => window.dangol && window.dangol.ready);
  await eventually(async () => (await b.evaluate(() => window.dangol.export())).id === anon, 5000, "tab B on the same id");
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "events of both tabs");

  // Tab B keeps making events: a GA4 push every 50 ms, as a busy page would.
  await b.evaluate(() => {
    window.__pushes = setInterval(() => {
      window.dataLayer.push({ event: "view_item", ecommerce: { items: [{ item_id: "knit-01", item_category: "knit", price: 59000 }] } });
    }, 50);
  });
  await a.evaluate(() => window.dangol.forget());
  // Tab B hears it through the storage event and stops.
  await eventually(async () => (await b.evaluate(() => window.dangol.consent.status())) === "denied", 5000, "tab B to stop");
  assert.equal((await b.evaluate(() => window.dangol.export())).id, null);
  await pause(2500); // heartbeats and retries would have written by now
  assert.deepEqual(await dangolKeys(b), [], "no tab wrote anything back");
  await eventually(async () => (await server.events(anon)).length === 0, 10000, "the server to erase the id");
  // A batch of the erased id arriving now (one that was on its way) is refused.
  const late = await fetch(`${server.url}/v1/sites/demo/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ events: [{ id: "e-late-0000000001", type: "page_view", ts: Date.now(), anon }] }),
  }).then((r) => r.json());
  assert.deepEqual([late.stored, late.erased], [0, 1]);
  assert.equal((await server.events(anon)).length, 0);
  assert.deepEqual(problems.flatMap((p) => p.errors), []);
}

/**
 * The widget's requests carry no `Referer`, before consent and after,
 * while the page's own stylesheet does (so the header is seen at all).
 */
export async function noPageUrl(server, context) {
  const page = await context.newPage();
  const problems = problemsOf(page);
  const requests = [];
  page.on("request", (r) => {
    if (r.url().includes("/v1/") || r.url().endsWith("/demo/shop.css")) {
      requests.push(headersOf(r).then((h) => [r.url(), h["referer"] ?? null]));
    }
  });
  const url = `${server.url}/demo/category.html?utm_source=mail&secret=1`;
  await page.goto(url);
  await page.click("#consent-accept");
  await eventually(async () => (await Promise.all(requests)).some(([u]) => u.endsWith("/events")), 10000, "an events request");
  const seen = await Promise.all(requests);
  assert.ok(seen.some(([u]) => u.includes("/config")), "the config request was seen");
  assert.deepEqual(seen.filter(([u]) => u.endsWith("/demo/shop.css")).map(([, referer]) => referer), [url]);
  for (const [u, referer] of seen.filter(([u]) => u.includes("/v1/"))) assert.equal(referer, null, `${u} sent Referer ${referer}`);
  assert.deepEqual(problems.errors, []);
}

/**
 * A shopper whose consent comes only from a TCF consent manager (`cmp`,
 * the fake CMP's script) keeps one id and profile across pages, and the
 * server sees one shopper, not one per page.
 */
export const tcfOnlyKeepsOneId = (cmp) => async (server, context) => {
  const page = await context.newPage();
  const problems = problemsOf(page);
  await initScript(page, cmp);
  await page.goto(`${server.url}/demo/`);
  await rendered(page);
  await page.evaluate(() => window.__testCmp.answer([], [1, 5, 6, 8]));
  const anon = await eventually(() => storedId(page), 5000, "the id");
  assert.equal(await page.evaluate(() => localStorage.getItem("dangol:demo:consent")), null, "the shop made no choice of its own");

  // Two more pages; on each the consent manager answers again.
  for (const path of ["/demo/category.html", "/demo/"]) {
    await page.goto(`${server.url}${path}`);
    await page.evaluate(() => window.__testCmp.answer([], [1, 5, 6, 8]));
    // Until the widget has loaded, the loader queues calls and answers none.
    await eventually(async () => (await page.evaluate(() => window.dangol.consent.purposes()))?.measurement === "granted", 5000, "the answer");
    assert.equal(await storedId(page), anon, `the same id on ${path}`);
  }
  const exported = await page.evaluate(() => window.dangol.export());
  assert.equal(exported.id, anon);
  assert.ok(exported.profile.visits >= 3, `the profile carried over: ${exported.profile.visits} visits`);
  await eventually(async () => (await server.events(anon)).filter((e) => e.type === "page_view").length >= 3, 10000, "three page views of one id");
  assert.deepEqual(problems.errors, []);
};

/**
 * A DOM node with framework back-references, a cyclic object and a 10 MB
 * array pushed to `dataLayer` (as tag managers push) cost the page no
 * pause, and the cyclic GA4 event still counts.
 */
export async function dataLayerNoPause(server, context) {
  const page = await context.newPage();
  const problems = problemsOf(page);
  await page.goto(`${server.url}/demo/`);
  await page.waitForFunction(() => window.dangol && window.dangol.ready);
  const took = await page.evaluate(() => {
    const cyclic = { event: "view_item", ecommerce: { items: [{ item_id: "knit-01", price: 1 }] } };
    cyclic.self = cyclic;
    cyclic.ecommerce.back = cyclic;
    cyclic.ecommerce.items[0].parent = cyclic;
    const node = document.body;
    node.__reactFiber = { stateNode: node, return: { child: node } };
    const big = new Array(10 * 1024 * 1024 / 8).fill(0).map((_, i) => ({ i }));
    big.event = "purchase";
    const t0 = performance.now();
    window.dataLayer.push(node);
    window.dataLayer.push({ event: "view_item_list", ecommerce: { items: big } });
    window.dataLayer.push(big);
    window.dataLayer.push(cyclic);
    return performance.now() - t0;
  });
  // Generous, so a loaded machine cannot fail it; walking the structures
  // (as the widget once did) takes many seconds or never ends.
  assert.ok(took < 1000, `dataLayer pushes took ${took} ms`);
  const viewed = await page.evaluate(async () => (await window.dangol.export()).profile);
  assert.ok(JSON.stringify(viewed).includes("knit"), "the cyclic view_item still counted");
  assert.deepEqual(problems.errors, []);
}

/**
 * Opens a page of `html` at `/e2e/offers.html` on the server's origin in
 * `context` (either driver), with the compact form of `cfg` (a config as
 * JSON) served as the site's config, and `init` run before each document's
 * own scripts. Both are answered by request interception; every other
 * request goes to the real server. Resolves, once the widget is ready, to
 * the page and what went wrong on it (see `problemsOf`).
 */
export async function openServed(server, context, { html, cfg, init }) {
  const page = await context.newPage();
  const problems = problemsOf(page);
  const served = new Map([[`${server.url}/e2e/offers.html`, { status: 200, contentType: "text/html; charset=utf-8", body: html }]]);
  if (cfg) served.set(`${server.url}/v1/sites/demo/config/compact`, { status: 200, contentType: "text/plain", body: compactConfig(cfg) });
  const answer = (url) => served.get(url.split("?")[0]);
  if (page.route) {
    await page.route((url) => !!answer(url.href), (route) => route.fulfill(answer(route.request().url())));
  } else {
    await page.setRequestInterception(true);
    page.on("request", (r) => {
      if (r.isInterceptResolutionHandled()) return;
      const hit = answer(r.url());
      (hit ? r.respond(hit) : r.continue()).catch(() => { /* the page went away */ });
    });
  }
  if (init) await initScript(page, init);
  await page.goto(`${server.url}/e2e/offers.html`);
  await page.waitForFunction(() => window.dangol && window.dangol.ready === true);
  return { page, problems };
}

/** A test page in `lang`: the shop's own button and one slot. */
export const offersPage = (lang = "en") => `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>offers</title>
<script async src="/dangol.js" data-site="demo"></script></head>
<body><button id="shop-button">Shop button</button>
<div data-dangol-slot="top" style="min-height:140px"><p class="fallback">Shop's own top</p></div></body></html>`;

/** A banner campaign `id` in `placement`, shown to everyone. */
export function bannerCampaign(id, placement, headline, more = {}) {
  const { content, ...rest } = more;
  return {
    id, placements: [placement], condition: {},
    variants: [{ id: "a", content: { type: "banner", headline, body: "Body of " + id, cta: { text: "Go", url: "/demo/category.html" }, ...content } }],
    ...rest,
  };
}

/** The element focused on `page`, looking inside shadow roots. */
export const deepFocus = (page) => page.evaluate(() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a ? (a.id || a.className || a.tagName) : null;
});

const attached = (page, selector, timeout = 10000) => page.waitForSelector(selector, { state: "attached", timeout });
const overlay = (id) => `[data-dangol-overlay="${id}"]`;
const overlayAttr = (page, id, name) =>
  page.evaluate(([o, n]) => document.querySelector(o).shadowRoot.querySelector(".overlay").getAttribute(n), [overlay(id), name]);

/**
 * Modal, toast and bar open as overlays with their roles; a keyboard user
 * who stays idle gets the modal with focus on its close button, Tab and
 * Shift+Tab cycle inside it, Esc closes it and gives focus back to where
 * it was; the close button works by click; each close is one `dismiss`.
 */
export async function overlaysByKeyboard(server, context) {
  const cfg = {
    schema: 1, site: "demo", version: 900,
    campaigns: [
      bannerCampaign("m", "pop", "A modal offer", { priority: 3 }),
      bannerCampaign("t", "corner", "A toast offer", { priority: 2 }),
      bannerCampaign("r", "strip", "A bar offer", { priority: 1 }),
    ],
    placements: [
      { id: "pop", kind: "modal", trigger: { type: "inactivity", seconds: 2 } },
      { id: "corner", kind: "toast", trigger: { type: "page_load" } },
      { id: "strip", kind: "bar" },
    ],
  };
  const { page, problems } = await openServed(server, context, {
    html: offersPage(),
    cfg,
    init: `window.addEventListener("dangol:loaded", () => {
      window.__dismissed = [];
      window.dangol.on("dismiss", (d) => window.__dismissed.push(d.campaign));
    });`,
  });
  await attached(page, overlay("corner"));
  await attached(page, overlay("strip"));
  assert.equal(await shadowText(page, overlay("corner"), ".headline"), "A toast offer");
  assert.equal(await overlayAttr(page, "corner", "role"), "dialog");
  assert.equal(await overlayAttr(page, "strip", "role"), "region");
  // Keyboard only: focus the shop's button, then stay idle until the modal opens.
  await page.focus("#shop-button");
  await attached(page, overlay("pop"), 5000);
  assert.deepEqual(
    [await overlayAttr(page, "pop", "role"), await overlayAttr(page, "pop", "aria-modal"), await overlayAttr(page, "pop", "aria-label")],
    ["dialog", "true", "A modal offer"],
  );
  assert.equal(await deepFocus(page), "close");
  await page.screenshot({ path: shotPath(`offers-overlays-${page.route ? "chromium" : "firefox"}.png`) });
  // Tab cycles inside the modal: close → call to action → close, and back.
  await page.keyboard.press("Tab");
  assert.equal(await deepFocus(page), "cta");
  await page.keyboard.press("Tab");
  assert.equal(await deepFocus(page), "close");
  await page.keyboard.down("Shift");
  await page.keyboard.press("Tab");
  await page.keyboard.up("Shift");
  assert.equal(await deepFocus(page), "cta");
  // Esc closes the modal (the overlay on top); focus returns to the shop's button.
  await page.keyboard.press("Escape");
  await eventually(() => page.evaluate((o) => !document.querySelector(o), overlay("pop")), 2000, "the modal to close");
  assert.equal(await page.evaluate(() => document.activeElement.id), "shop-button");
  assert.equal(await page.evaluate(() => document.querySelectorAll("[data-dangol-overlay]").length), 2, "the toast and bar stay");
  // A close button works by click too; Esc then closes the last one.
  await page.evaluate((o) => document.querySelector(o).shadowRoot.querySelector(".close").click(), overlay("corner"));
  await page.keyboard.press("Escape");
  await eventually(() => page.evaluate(() => !document.querySelector("[data-dangol-overlay]")), 2000, "every overlay closed");
  const dismissed = await eventually(() => page.evaluate(() => window.__dismissed.length >= 3 && window.__dismissed), 2000, "dismiss callbacks");
  assert.deepEqual(dismissed, ["m", "t", "r"]);
  assert.deepEqual(problems, { failed: [], console: [], errors: [] });
}

/** A Korean page gets the widget's own words in Korean and amounts in won. */
export async function koreanPage(server, context) {
  const cfg = {
    schema: 1, site: "demo", version: 900, currency: "KRW",
    campaigns: [bannerCampaign("ko", "pop", "장바구니 {{cart.value}}")],
    placements: [{ id: "pop", kind: "modal", trigger: { type: "page_load" } }],
  };
  const { page, problems } = await openServed(server, context, { html: offersPage("ko"), cfg });
  await page.evaluate(() => window.dangol.consent.grant());
  await page.evaluate(() => window.dangol.track("add_to_cart", { items: [{ item_id: "k1", price: 12000, quantity: 2 }] }));
  await page.reload();
  await attached(page, overlay("pop"));
  const words = await page.evaluate((o) => {
    const r = document.querySelector(o).shadowRoot;
    return { close: r.querySelector(".close").getAttribute("aria-label"), headline: r.querySelector(".headline").textContent };
  }, overlay("pop"));
  assert.deepEqual(words, { close: "닫기", headline: "장바구니 ₩24,000" });
  assert.deepEqual(problems, { failed: [], console: [], errors: [] });
}

/**
 * A grant for measurement only: events are sent under an id, and nothing
 * else is kept (no profile, declared attributes or config; the outbox
 * only until its events are sent).
 */
export async function measurementOnly(server, context) {
  const page = await context.newPage();
  const problems = problemsOf(page);
  await page.goto(`${server.url}/demo/`);
  await rendered(page);
  await page.evaluate(() => window.dangol.consent.grant(["measurement"]));
  const anon = await eventually(() => storedId(page), 5000, "the id");
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "page_view and exposure");
  const kept = ["dangol:demo:consent", "dangol:demo:id", "dangol:demo:key"];
  assert.deepEqual((await dangolKeys(page)).filter((k) => !k.startsWith("dangol:demo:outbox:")), kept);
  await eventually(async () => (await dangolKeys(page)).length === 3, 10000, "the outbox sent and removed");
  assert.deepEqual(await dangolKeys(page), kept);
  assert.deepEqual(problems, { failed: [], console: [], errors: [] });
}

/**
 * Google Consent Mode v2 through `gtag` in `dataLayer`: nothing is sent
 * under a default of denied; an update granting both purposes starts the
 * session without a reload, and one denying them wipes it at once.
 */
export async function consentModeV2(server, context) {
  const page = await context.newPage();
  const problems = problemsOf(page);
  await initScript(page, `window.dataLayer = window.dataLayer || [];
    window.gtag = function () { window.dataLayer.push(arguments); };
    window.gtag("consent", "default", { ad_storage: "denied", analytics_storage: "denied", personalization_storage: "denied" });`);
  const posted = [];
  page.on("request", (r) => { if (r.method() === "POST") posted.push(r.url()); });
  await page.goto(`${server.url}/demo/`);
  await rendered(page);
  assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()),
    { personalisation: "unknown", measurement: "unknown", gpc: false });
  assert.deepEqual(posted, [], "nothing is sent under the default");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "granted", personalization_storage: "granted" }));
  const anon = await eventually(() => storedId(page), 5000, "the id after the update");
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "events after the update");
  await page.evaluate(() => window.gtag("consent", "update", { analytics_storage: "denied", personalization_storage: "denied" }));
  assert.deepEqual(await dangolKeys(page), []);
  assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()),
    { personalisation: "denied", measurement: "denied", gpc: false });
  assert.deepEqual(problems.errors, []);
}

/** No cookie, on the page or from the server, before and after consent. */
export async function noCookie(server, context) {
  const page = await context.newPage();
  const setCookies = [];
  page.on("response", async (r) => {
    const h = r.allHeaders ? await r.allHeaders() : r.headers();
    if (h["set-cookie"]) setCookies.push(r.url());
  });
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  await page.goto(`${server.url}/demo/category.html`);
  await page.waitForSelector('[data-dangol-slot="category-top"][data-dangol-rendered]', { timeout: 10000 });
  await pause(300);
  assert.equal(await page.evaluate(() => document.cookie), "");
  assert.deepEqual(await (context.cookies ? context.cookies() : page.cookies()), []);
  assert.deepEqual(setCookies, []);
}
