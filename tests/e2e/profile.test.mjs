// The shopper's profile in the browser: GA4 dataLayer and dangol.track feed
// it, decisions use it after consent, and export/forget hand control back.
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

async function storageSnapshot(page) {
  return page.evaluate(async () => ({
    local: Object.keys(localStorage),
    session: Object.keys(sessionStorage),
    cookies: document.cookie,
    idb: indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [],
  }));
}

test("before consent nothing is stored anywhere and only the config (and the recommendations model) is fetched, also with GA4 pushes", async () => {
  const { context, page, log } = await watchedPage(browser);
  const storedBefore = (await server.events()).length;
  await page.goto(`${server.url}/demo/product.html?id=knit-02`);
  await page.waitForSelector('[data-dangol-slot="product-promo"][data-dangol-rendered]');
  await page.click("#add-to-cart");
  await page.evaluate(() => window.dangol.track("begin_checkout", {}));
  await page.waitForTimeout(300);
  const snap = await storageSnapshot(page);
  // The shop's own cart key is its business; dangol wrote nothing.
  assert.deepEqual(snap.local.filter((k) => k.startsWith("dangol")), []);
  assert.deepEqual(snap.session, []);
  assert.equal(snap.cookies, "");
  assert.deepEqual(snap.idb, []);
  const api = log.requests.filter((r) => r.url.includes("/v1/"));
  // The product page's recommendations row fetches the site's model, as
  // anonymously as the config.
  const asked = api.map((r) => `${r.method} ${new URL(r.url).pathname}`);
  assert.equal(asked.filter((a) => a === "GET /v1/sites/demo/config/compact").length, 1, asked.join(", "));
  assert.ok(asked.every((a) => a === "GET /v1/sites/demo/config/compact" || a === "GET /v1/sites/demo/recs"), asked.join(", "));
  for (const r of api) assert.equal(new URL(r.url).search, "", "the fetches carry nothing about the shopper");
  // And on the server side: nothing arrived.
  assert.equal((await server.events()).length, storedBefore);
  await context.close();
});

test("GA4 pushes (also before load) and track calls build the profile that decisions use after consent", async () => {
  const { context, page, log, dangolWarnings } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/product.html?id=knit-01`);
  await page.waitForSelector('[data-dangol-slot="product-promo"][data-dangol-rendered]');
  await page.click("#consent-accept");
  await page.click("#add-to-cart");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  const stored = await eventually(async () => {
    const events = await server.events(anon);
    return events.some((e) => e.type === "add_to_cart") ? events : null;
  }, 10000, "the add_to_cart event on the server");
  const add = stored.find((e) => e.type === "add_to_cart");
  assert.deepEqual({ item: add.item, category: add.category, price: add.price }, { item: "knit-01", category: "knit", price: 59000 });
  assert.ok(stored.some((e) => e.type === "view_item" && e.item === "knit-01"), "the view_item pushed before load");
  // Nothing but the allowed fields left the browser: no item names.
  for (const e of stored) assert.ok(!JSON.stringify(e).includes("Wool crew knit"), JSON.stringify(e));

  const exported = await page.evaluate(() => window.dangol.export());
  assert.equal(exported.id, anon);
  assert.deepEqual(exported.consent, { personalisation: "granted", measurement: "granted" });
  assert.equal(exported.profile.cart.length, 1);

  // Back on the home page the cart-reminder campaign wins the hero slot.
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="cart-reminder"]`);
  const decisions = await page.evaluate(() => window.dangol.decisions());
  const hero = decisions.find((d) => d.placement === "home-hero");
  assert.deepEqual(hero.reasons.map((r) => r.reason), ["not_targeted", "shown", "lost_to_priority"]);
  assert.deepEqual(dangolWarnings(), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("export() is a promise that resolves once the widget has loaded, its profile written out by the third module only when asked", async () => {
  // The export is asked for the moment the loader defines dangol, before
  // the widget has started.
  const { context, page, log, dangolWarnings } = await watchedPage(browser, () => {
    addEventListener("dangol:loaded", () => {
      if (sessionStorage.getItem("ask")) window.early = window.dangol.export();
    });
  });
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  await page.click("#consent-accept");
  const stored = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:profile")), 5000, "the stored profile");
  const fetched = (dir) => log.requests.filter((r) => r.url.includes(`/pkg/${dir}/`)).length;
  assert.equal(fetched("rare"), 0, "a page that does not export does not fetch the third module");
  await page.evaluate(() => sessionStorage.setItem("ask", "1"));
  await page.reload();
  const early = await page.evaluate(async () => {
    const p = window.early;
    return { promise: p instanceof Promise, value: await p };
  });
  assert.equal(early.promise, true);
  assert.equal(early.value.id, await page.evaluate(() => localStorage.getItem("dangol:demo:id")));
  assert.deepEqual(early.value.consent, { personalisation: "granted", measurement: "granted" });
  assert.equal(early.value.site, "demo");
  assert.equal(early.value.profile.visits, 2, "the stored visit and this one");
  assert.ok(early.value.profile.first > 0 && early.value.profile.first <= early.value.profile.last, JSON.stringify(early.value.profile));
  assert.equal(fetched("rare"), 2, "the export fetched the third module's glue and wasm");
  assert.equal(fetched("more"), 0, "and not the second");
  // The stored text is the compact form, not the JSON export.
  assert.ok(!stored.startsWith("{"), stored.slice(0, 20));
  // Two at once both resolve, and agree.
  const [a, b] = await page.evaluate(() => Promise.all([window.dangol.export(), window.dangol.export()]));
  assert.deepEqual(a.profile, b.profile);
  assert.deepEqual(dangolWarnings(), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("a bad track call logs one warning naming the problem and throws nothing", async () => {
  const { context, page, log } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  const returned = await page.evaluate(() => {
    window.dangol.track("add_to_cart", { items: [{ item_id: "x", colour: "red" }] });
    window.dangol.track(42, {});
    window.dangol.set("gold");
    return "still running";
  });
  assert.equal(returned, "still running");
  await page.waitForTimeout(200);
  assert.deepEqual(log.warnings, [
    "dataLayer: `add_to_cart` was dropped: unknown field `items[0].colour`".replace("dataLayer", "dangol.track"),
    "dangol.track: the event name must be a string; the call was dropped",
    "dangol.set: the attributes must be an object; the call was dropped",
  ]);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("declared attributes decide but never leave the browser, and forget() erases here and on the server", async () => {
  const { context, page } = await watchedPage(browser);
  const posted = [];
  page.on("request", (r) => { if (r.method() === "POST") posted.push(r.postData() || ""); });
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  await page.evaluate(() => window.dangol.set({ tier: "vip", name: "Minji" }));
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.reload();
  await page.waitForSelector(`${HERO}[data-dangol-rendered="vip-hero"]`);
  // Two page views, and the VIP banner's exposure once it was seen for a second.
  await eventually(async () => {
    const events = await server.events(anon);
    return events.filter((e) => e.type === "page_view").length >= 2
      && events.some((e) => e.type === "exposure" && e.campaign === "vip-hero");
  }, 10000, "events of two pages");
  for (const body of posted) {
    assert.ok(!body.includes("Minji") && !body.includes("vip\""), body);
  }

  // The shop's own keys, and another site's, are not the widget's to erase.
  await page.evaluate(() => {
    localStorage.setItem("shop:cart", "keep me");
    localStorage.setItem("dangol:other-site:id", "not ours");
  });
  await page.evaluate(() => window.dangol.forget());
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol:demo:"))), []);
  assert.deepEqual(await page.evaluate(() => [localStorage.getItem("shop:cart"), localStorage.getItem("dangol:other-site:id")]),
    ["keep me", "not ours"]);
  assert.equal(await page.evaluate(() => window.dangol.consent.status()), "denied");
  await eventually(async () => (await server.events(anon)).length === 0, 10000, "the server to erase the id");
  // Consent given again: a new random id, never the erased one.
  await page.evaluate(() => window.dangol.consent.grant());
  const fresh = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "a new id");
  assert.match(anon, /^[0-9a-f]{32}$/);
  assert.match(fresh, /^[0-9a-f]{32}$/);
  assert.notEqual(fresh, anon);
  await context.close();
});

test("single-page-app route changes are page views; a replaceState to the same URL is not", async () => {
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.evaluate(() => {
    history.pushState({}, "", "/demo/?route=winter");
    history.replaceState({}, "", "/demo/?route=winter");
    history.pushState({}, "", "/demo/?route=spring");
    history.back();
  });
  const views = await eventually(async () => {
    const v = (await server.events(anon)).filter((e) => e.type === "page_view");
    return v.length >= 4 ? v : null;
  }, 10000, "four page views");
  await page.waitForTimeout(300);
  assert.equal((await server.events(anon)).filter((e) => e.type === "page_view").length, 4, "load, winter, spring, back to winter");
  const profile = (await page.evaluate(() => window.dangol.export())).profile;
  assert.equal(profile.visits, 4);
  assert.equal(views.length, 4);
  await context.close();
});

test("engaged time counts only while the page is visible", async () => {
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  await page.waitForTimeout(1200);
  // Hide the page as a tab switch would.
  await page.evaluate(() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  const engaged = (await page.evaluate(() => window.dangol.export())).profile.eng;
  assert.ok(engaged >= 1 && engaged <= 30, `engaged seconds: ${engaged}`);
  await context.close();
});

test("a personal offer says why in plain words and can switch personalisation off", async () => {
  const { context, page, log } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/product.html?id=scarf-01`);
  // Calls made before the widget has loaded wait in the loader, and a
  // navigation drops them: the clicks wait for it.
  await page.waitForFunction(() => window.dangol && window.dangol.ready);
  await page.click("#consent-accept");
  await page.click("#add-to-cart");
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="cart-reminder"]`);
  // A banner in a slot is the first module's; the words of "Why this
  // offer?" are the second module's, loaded when the shopper asks.
  const more = [];
  page.on("request", (r) => { if (r.url().includes("/pkg/more/")) more.push(r.url()); });
  await page.waitForTimeout(300);
  assert.deepEqual(more, []);
  await page.click(`${HERO} .why`);
  const words = await eventually(() => page.locator(`${HERO} .explain-text`).textContent(), 5000, "the words");
  assert.equal(words, "You see this because you have 1 item in your cart.");
  assert.equal(more.length, 2, `the glue and the wasm of the second module: ${more}`);
  await page.screenshot({ path: (await import("./harness.mjs")).shotPath("why-this-offer.png") });
  await page.click(`${HERO} .off`);
  assert.deepEqual(await page.evaluate(() => window.dangol.consent.purposes()),
    { personalisation: "denied", measurement: "granted", gpc: false });
  assert.equal(await page.locator(`${HERO} .banner`).count(), 0);
  assert.equal(await page.locator(`${HERO} .fallback h2`).isVisible(), true);
  assert.equal(await page.evaluate(() => localStorage.getItem("dangol:demo:profile")), null);
  // Contextual offers still show on the next page; personal ones do not.
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("data-dangol-* attributes on the shop's own elements are tracked on click", async () => {
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.evaluate(() => {
    const b = document.createElement("button");
    b.id = "quick-add";
    b.setAttribute("data-dangol-track", "add_to_cart");
    b.setAttribute("data-dangol-item-id", "cap-01");
    b.setAttribute("data-dangol-item-category", "acc");
    b.setAttribute("data-dangol-price", "19000");
    b.innerHTML = "<span>Quick add</span>";
    document.body.appendChild(b);
  });
  await page.click("#quick-add span");
  const add = await eventually(async () => (await server.events(anon)).find((e) => e.type === "add_to_cart"), 10000, "the add_to_cart event");
  assert.deepEqual({ item: add.item, category: add.category, price: add.price }, { item: "cap-01", category: "acc", price: 19000 });
  assert.equal((await page.evaluate(() => window.dangol.export())).profile.cart[0][0], "cap-01");
  await context.close();
});

test("in a sandboxed iframe (storage blocked) the page works and the widget warns once", async () => {
  const { context, page } = await watchedPage(browser);
  const warnings = [];
  const errors = [];
  page.on("console", (m) => { if (m.type() === "warning" && m.text().startsWith("dangol:")) warnings.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.route(`${server.url}/e2e/sandbox.html`, (route) => route.fulfill({
    contentType: "text/html",
    body: `<!doctype html><iframe id="shop" sandbox="allow-scripts" src="${server.url}/demo/" style="width:1000px;height:600px"></iframe>`,
  }));
  await page.goto(`${server.url}/e2e/sandbox.html`);
  const frame = await eventually(() => page.frames().find((f) => f.url().endsWith("/demo/")), 5000, "the shop frame");
  await frame.waitForSelector("html[data-shop-ready]");
  await frame.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  assert.equal(await frame.locator("#products .card").count(), 6);
  await page.waitForTimeout(300);
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0], /localStorage is unavailable/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a click on an offer is recorded even as it navigates away, and a repeated order is counted once", async () => {
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  await page.click(`${HERO} .cta`);
  await page.waitForURL(/category\.html/);
  const click = await eventually(async () => (await server.events(anon)).find((e) => e.type === "click"), 10000, "the click event");
  assert.deepEqual({ campaign: click.campaign, variant: click.variant }, { campaign: "welcome-hero", variant: "a" });

  const order = { transaction_id: "T-777", value: 59000, items: [{ item_id: "knit-01", price: 59000 }] };
  await page.evaluate((o) => { window.dangol.track("purchase", o); window.dangol.track("purchase", o); }, order);
  await eventually(async () => (await server.events(anon)).some((e) => e.type === "purchase"), 10000, "the purchase");
  await page.waitForTimeout(300);
  assert.equal((await server.events(anon)).filter((e) => e.type === "purchase").length, 1);
  assert.equal((await page.evaluate(() => window.dangol.export())).profile.orders, 1);
  await context.close();
});

test("scroll depth and exit intent are seen", async () => {
  const { context, page } = await watchedPage(browser);
  await page.setViewportSize({ width: 1000, height: 500 });
  await page.goto(`${server.url}/demo/category.html`);
  await page.click("#consent-accept");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.mouse.wheel(0, 5000);
  await eventually(async () => (await page.evaluate(() => window.dangol.export())).page.max_scroll_pct === 100, 5000, "the bottom of the page");
  // The pointer leaves through the top edge.
  await page.mouse.move(500, 200);
  await page.mouse.move(500, -5);
  await page.evaluate(() => document.dispatchEvent(new MouseEvent("mouseout", { clientY: -5, relatedTarget: null, bubbles: true })));
  await eventually(async () => (await server.events(anon)).some((e) => e.type === "exit_intent"), 10000, "the exit_intent event");
  assert.equal((await page.evaluate(() => window.dangol.export())).page.exit_intent, true);
  await context.close();
});
