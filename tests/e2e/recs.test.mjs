// Recommendations decided on the shopper's device: the server learns from
// imported orders which items go together and publishes the model; a
// shopper who viewed an item sees what goes with it in the row, with the
// reason, and a shopper without consent sees the best-sellers only (the
// model is fetched anonymously, like the config, and nothing is stored).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, compactConfig, eventually } from "./harness.mjs";

let server;
let browser;

const CONFIG = compactConfig({
  schema: 1, site: "demo", version: 1, currency: "KRW", global_holdout: 0,
  campaigns: [{
    id: "also-like", placements: ["recs"], holdout: 0,
    variants: [{ id: "a", content: { type: "recommendations", headline: "You might also like", count: 3, per_category: 3 } }],
  }],
});

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script async src="/dangol.js" data-site="demo"></script></head>
<body><main><h1>Wool crew knit</h1><div data-dangol-slot="recs" style="min-height:320px"></div></main></body></html>`;

const ITEMS = {
  "knit-01": "Wool crew knit", "knit-02": "Cable cardigan", "coat-01": "Wool coat",
  "scarf-01": "Cashmere scarf", "sock-01": "Wool socks", "hat-01": "Beanie",
};

async function admin(method, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method, body, headers: { authorization: `Bearer ${server.token}`, "content-type": "application/x-ndjson" },
  });
  const answer = await res.json();
  assert.ok(res.ok, `${method} ${path}: ${JSON.stringify(answer)}`);
  return answer;
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const catalog = Object.entries(ITEMS).map(([id, name]) => JSON.stringify({
    id, name, url: `/demo/product.html?id=${id}`, price: id === "coat-01" ? 189000 : 59000,
    sale_price: id === "coat-01" ? 149000 : undefined, category: id.split("-")[0], in_stock: true,
  })).join("\n");
  const fed = await admin("PUT", "/v1/admin/sites/demo/catalog", catalog);
  assert.equal(fed.rejected, 0, JSON.stringify(fed));
  // knit-01 is bought with knit-02 and coat-01; socks sell best (to others).
  const day = 86_400_000;
  let n = 0;
  const lines = [];
  const order = (customer, item, daysAgo) => lines.push(JSON.stringify({
    customer_id: `c-${customer}`, order_id: `O-${++n}`, time: Date.now() - daysAgo * day, value: 59000, item_id: item,
  }));
  for (let c = 1; c <= 8; c++) { order(c, "knit-01", 20); order(c, "knit-02", 19); }
  for (let c = 9; c <= 12; c++) { order(c, "knit-01", 20); order(c, "coat-01", 19); }
  for (let c = 13; c <= 42; c++) order(c, "sock-01", 10);
  for (let c = 13; c <= 20; c++) order(c, "scarf-01", 10);
  const imported = await admin("POST", "/v1/admin/sites/demo/orders", lines.join("\n"));
  assert.equal(imported.rejected, 0, JSON.stringify(imported));
  const built = await admin("POST", "/v1/admin/sites/demo/recs", "");
  assert.equal(built.items, 5, JSON.stringify(built)); // hat-01 was never touched
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function shopper(consented) {
  const watched = await watchedPage(browser, (yes) => {
    if (yes && !localStorage.getItem("dangol:demo:consent")) localStorage.setItem("dangol:demo:consent", "p=granted;m=granted");
  }, consented);
  await watched.page.route(`${server.url}/e2e/product.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE }));
  await watched.page.route("**/v1/sites/demo/config/compact", (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body: CONFIG }));
  return watched;
}

/** The row's cards once filled: [item, name, price, reason]. */
async function row(page) {
  await page.goto(`${server.url}/e2e/product.html`);
  await page.waitForFunction(() => {
    const root = document.querySelector("[data-dangol-slot=recs]")?.shadowRoot;
    return root && root.querySelector(".recs") && !root.querySelector(".recs").hasAttribute("aria-busy");
  }, null, { timeout: 10000 });
  return page.evaluate(() => [...document.querySelector("[data-dangol-slot=recs]").shadowRoot.querySelectorAll(".card[data-item]")]
    .map((c) => [c.dataset.item, c.querySelector(".card-name").textContent, c.querySelector(".card-price").textContent, c.querySelector(".card-why").textContent]));
}

test("a shopper who viewed an item sees what goes with it, with the reason", async () => {
  const { context, page, log } = await shopper(true);
  await page.goto(`${server.url}/e2e/product.html`);
  await page.waitForFunction(() => window.dangol?.ready);
  await page.evaluate(() => window.dangol.track("view_item", {
    items: [{ item_id: "knit-01", item_name: "Wool crew knit", item_category: "knit", price: 59000 }],
  }));
  const cards = await row(page);
  assert.deepEqual(cards.map((c) => c[0]), ["knit-02", "coat-01", "sock-01"], JSON.stringify(cards));
  assert.equal(cards[0][3], "Because you viewed Wool crew knit");
  assert.equal(cards[2][3], "Popular now");
  assert.match(cards[0][2], /59,000/);
  // A card on sale shows both prices.
  assert.match(cards[1][2], /149,000/);
  // The row is an offer like any other: seen, then a click is its conversion.
  await eventually(async () => (await server.events()).some((e) => e.type === "exposure" && e.campaign === "also-like"), 10000, "the exposure");
  await page.evaluate(() => document.querySelector("[data-dangol-slot=recs]").shadowRoot.querySelector(".card[data-item=knit-02] a")
    .addEventListener("click", (e) => e.preventDefault()));
  await page.evaluate(() => document.querySelector("[data-dangol-slot=recs]").shadowRoot.querySelector(".card[data-item=knit-02] a").click());
  await page.evaluate(() => window.dangol.track("page_view"));
  await eventually(async () => (await server.events()).some((e) => e.type === "click" && e.campaign === "also-like"), 10000, "the click");
  // What is in the cart is never recommended back.
  await page.evaluate(() => window.dangol.track("add_to_cart", {
    items: [{ item_id: "knit-02", item_name: "Cable cardigan", item_category: "knit", price: 59000, quantity: 1 }],
  }));
  const after = await row(page);
  assert.ok(!after.some((c) => c[0] === "knit-02"), JSON.stringify(after));
  assert.deepEqual(log.errors, []);
  assert.deepEqual(log.warnings, []);
  await context.close();
});

test("a shopper without consent sees best-sellers only, and nothing is stored", async () => {
  const { context, page, log } = await shopper(false);
  const fetched = [];
  page.on("request", (r) => { if (new URL(r.url()).pathname === "/v1/sites/demo/recs") fetched.push(r.headers()); });
  await page.goto(`${server.url}/e2e/product.html`);
  await page.waitForFunction(() => window.dangol?.ready);
  await page.evaluate(() => window.dangol.track("view_item", {
    items: [{ item_id: "knit-01", item_name: "Wool crew knit", item_category: "knit", price: 59000 }],
  }));
  const cards = await row(page);
  assert.equal(cards[0][0], "sock-01", JSON.stringify(cards));
  assert.ok(cards.every((c) => c[3] === "Popular now"), JSON.stringify(cards));
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol")).length), 0);
  // The model is fetched as anonymously as the config: no cookie, no page URL.
  assert.ok(fetched.length >= 1);
  assert.ok(fetched.every((h) => !h.referer && !h.cookie), JSON.stringify(fetched));
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("with the site's key in the script tag, a model that verifies is shown and a tampered one is not", async () => {
  const publicKey = (await (await fetch(`${server.url}/v1/sites/demo/key`)).json()).public_key;
  const open = async (tamper) => {
    const watched = await watchedPage(browser);
    // The demo's own product page (its published, signed config has the
    // `also-like` row), with the key in the script tag.
    await watched.page.route(`${server.url}/demo/product.html?id=knit-01`, async (route) => {
      const res = await route.fetch();
      const html = (await res.text()).replace('data-site="demo"', `data-site="demo" data-key="${publicKey}"`);
      await route.fulfill({ response: res, body: html });
    });
    if (tamper) {
      await watched.page.route("**/v1/sites/demo/recs", async (route) => {
        const res = await route.fetch();
        const text = await res.text();
        // One character of the model changed; its signature kept.
        const i = text.length - 12;
        await route.fulfill({ response: res, body: text.slice(0, i) + (text[i] === "A" ? "B" : "A") + text.slice(i + 1) });
      });
    }
    await watched.page.goto(`${server.url}/demo/product.html?id=knit-01`);
    return watched;
  };
  const signed = await open(false);
  await signed.page.waitForFunction(() => {
    const root = document.querySelector("[data-dangol-slot=product-recs]")?.shadowRoot;
    return root?.querySelector(".recs:not([aria-busy]) .card[data-item]");
  }, null, { timeout: 10000 });
  assert.deepEqual(signed.dangolWarnings(), []);
  await signed.context.close();

  const tampered = await open(true);
  await eventually(() => tampered.dangolWarnings().some((w) => w.includes("could not show recommendations (the model does not match its signature")), 10000,
    `the warning (${tampered.log.warnings})`);
  assert.equal(await tampered.page.evaluate(() => document.querySelector("[data-dangol-slot=product-recs]").shadowRoot?.querySelector(".recs") ?? null), null);
  assert.deepEqual(tampered.log.errors, []);
  await tampered.context.close();
});

test("in the demo's own slot, a shopper who viewed an item sees what goes with it, never the item the page is about", async () => {
  // The demo's own published config (its `also-like` row in `product-recs`).
  const { context, page, log } = await watchedPage(browser, () => {
    if (!localStorage.getItem("dangol:demo:consent")) localStorage.setItem("dangol:demo:consent", "p=granted;m=granted");
  });
  // The storefront's product page tells the widget what was viewed
  // (a GA4 view_item push).
  await page.goto(`${server.url}/demo/product.html?id=knit-01`);
  await page.waitForFunction(() => window.dangol?.ready);
  await page.goto(`${server.url}/demo/product.html?id=coat-01`);
  await page.waitForFunction(() => document.querySelector("[data-dangol-slot=product-recs]")?.shadowRoot
    ?.querySelector(".recs:not([aria-busy]) .card[data-item]"), null, { timeout: 10000 });
  const cards = await page.evaluate(() => [...document.querySelector("[data-dangol-slot=product-recs]").shadowRoot.querySelectorAll(".card[data-item]")]
    .map((c) => [c.dataset.item, c.querySelector(".card-why").textContent]));
  assert.equal(cards.length, 4, JSON.stringify(cards));
  assert.deepEqual(cards[0], ["knit-02", "Because you viewed Wool crew knit"]);
  assert.ok(!cards.some(([item]) => item === "coat-01"), `not the page's own item: ${JSON.stringify(cards)}`);
  assert.deepEqual(log.errors, []);
  await context.close();
});
