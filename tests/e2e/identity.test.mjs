// Consented identity across devices: a shopper who signs in on two browser
// profiles (a phone and a laptop, say) is one person to the offers. Each
// browser proves the customer with the shop's HMAC proof; the second gets
// the first's profile from the server, so a campaign capped at once a day
// stays capped and an offer for buyers follows the purchase across.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startServer, launchBrowser, watchedPage, compactConfig, eventually } from "./harness.mjs";

let server;
let browser;
let secret;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  ({ identity_secret: secret } = await server.adminApi("/v1/admin/sites/demo/identity-secret", { method: "POST" }));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What the shop's server computes: hex HMAC-SHA256 of the customer id. */
const proof = (customer) => createHmac("sha256", secret).update(customer).digest("hex");

const CONFIG = compactConfig({
  schema: 1, site: "demo", version: 1, currency: "KRW", global_holdout: 0,
  campaigns: [
    {
      id: "daily", placements: ["pb"], holdout: 0, caps: { per_day: 1 },
      variants: [{ id: "a", content: { type: "banner", headline: "Today's pick" } }],
    },
    {
      id: "thanks", placements: ["pb2"], holdout: 0, condition: { orders: { $gte: 1 } },
      variants: [{ id: "a", content: { type: "banner", headline: "Thanks for your order" } }],
    },
  ],
});

/** A shop page that signs shoppers in, with the slots `slots`. */
const shopPage = (slots, identify = true) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script async src="/dangol.js" data-site="demo"${identify ? " data-identify" : ""}></script></head>
<body><main><h1>Shop</h1>${slots.map((s) => `<div data-dangol-slot="${s}" style="min-height:120px"></div>`).join("")}</main></body></html>`;

/** A browser profile that accepted earlier, with its own id. */
async function device(id) {
  const watched = await watchedPage(browser, (id) => {
    if (localStorage.getItem("dangol:demo:consent")) return;
    localStorage.setItem("dangol:demo:consent", "p=granted;m=granted");
    localStorage.setItem("dangol:demo:id", id);
    localStorage.setItem("dangol:demo:key", `${id}-key`);
  }, id);
  await watched.page.route(`${server.url}/e2e/offers.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: shopPage(["pb", "pb2"]) }));
  await watched.page.route(`${server.url}/e2e/account.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: shopPage(["other"]) }));
  await watched.page.route("**/v1/sites/demo/config/compact", (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body: CONFIG }));
  return watched;
}

/** The decisions for pb and pb2 on the offers page: the chosen campaign or the reasons. */
async function offers(p) {
  await p.goto(`${server.url}/e2e/offers.html`);
  await p.waitForFunction(() => window.dangol?.ready && window.dangol.decisions().length >= 2);
  return p.evaluate(() => Object.fromEntries(window.dangol.decisions().map((d) =>
    [d.placement, d.chosen ? d.chosen.campaign_id : d.reasons.map((r) => r.reason).join(",")])));
}

async function identify(p, customer) {
  const answered = p.waitForResponse((r) => r.url().endsWith("/v1/sites/demo/identify"));
  await p.evaluate(([c, pr]) => window.dangol.identify(c, pr), [customer, proof(customer)]);
  const res = await answered;
  assert.equal(res.status(), 200, await res.text());
  return res.json();
}

test("a shopper signed in on two browsers sees the offers and caps of one person", async () => {
  const phone = await device("phone0000000000000001");
  assert.deepEqual(await offers(phone.page), { pb: "daily", pb2: "not_targeted" });
  // The loader's glue takes the identity build: its packed wasm is the
  // first module's one file asked from /pkg/ (the second module's may follow).
  const first = phone.log.requests.map((r) => new URL(r.url).pathname)
    .filter((p) => p.startsWith("/pkg/") && !/^\/pkg\/(more|rare)\//.test(p));
  assert.deepEqual(first, ["/pkg/id/dangol_bg.pack"], "the identity build's packed wasm, and no glue, is loaded");
  await phone.page.evaluate(() => window.dangol.track("purchase", {
    transaction_id: "T-1001", value: 59000, currency: "KRW", items: [{ item_id: "knit-01", item_category: "knit", price: 59000, quantity: 1 }],
  }));
  const linked = await identify(phone.page, "customer-7");
  assert.equal(linked.linked_ids, 1);
  await eventually(async () => {
    const kinds = (await server.events("phone0000000000000001")).map((e) => e.type);
    return kinds.includes("exposure") && kinds.includes("purchase");
  }, 10000, "the phone's exposure and purchase on the server");

  // The laptop signs in on a page without the capped slot, so nothing it
  // shows itself can cap the campaign.
  const laptop = await device("laptop000000000000001");
  await laptop.page.goto(`${server.url}/e2e/account.html`);
  await laptop.page.waitForFunction(() => window.dangol?.ready);
  const answer = await identify(laptop.page, "customer-7");
  assert.equal(answer.linked_ids, 2);
  assert.equal(answer.profile.orders, 1, JSON.stringify(answer.profile));
  await eventually(() => laptop.page.evaluate(() => localStorage.getItem("dangol:demo:remote")), 5000, "the other devices' profile stored");
  assert.deepEqual(await offers(laptop.page), { pb: "capped", pb2: "thanks" });

  // A browser of someone else, on the same pages, is offered the campaign.
  const other = await device("other0000000000000001");
  await other.page.goto(`${server.url}/e2e/account.html`);
  await other.page.waitForFunction(() => window.dangol?.ready);
  await identify(other.page, "customer-8");
  assert.deepEqual(await offers(other.page), { pb: "daily", pb2: "not_targeted" });

  // Signing out takes the customer's profile off the laptop.
  await laptop.page.evaluate(() => window.dangol.identify(null));
  assert.equal(await laptop.page.evaluate(() => localStorage.getItem("dangol:demo:remote")), null);
  assert.deepEqual(await offers(laptop.page), { pb: "daily", pb2: "not_targeted" });

  for (const d of [phone, laptop, other]) {
    assert.deepEqual(d.log.errors, []);
    await d.context.close();
  }
});

test("identify without consent links nothing, and a bad proof is refused by name", async () => {
  const { context, page, log } = await watchedPage(browser);
  await page.route("**/v1/sites/demo/config/compact", (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body: CONFIG }));
  await page.route(`${server.url}/e2e/offers.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: shopPage(["pb", "pb2"]) }));
  await page.goto(`${server.url}/e2e/offers.html`);
  await page.waitForFunction(() => window.dangol?.ready);
  await page.evaluate((p) => window.dangol.identify("customer-9", p), proof("customer-9"));
  await page.waitForTimeout(300);
  assert.deepEqual(log.requests.filter((r) => r.url.includes("/identify")), [], "nothing is linked before consent");
  assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol")).length), 0);

  await page.evaluate(() => window.dangol.identify("customer-9", "not-a-proof"));
  await eventually(() => log.warnings.some((w) => w.includes("dangol.identify: the proof must be the 64 hex digits")), 3000, "the warning");

  // After consent, the identify remembered for this page is sent.
  const answered = page.waitForResponse((r) => r.url().endsWith("/v1/sites/demo/identify"));
  await page.evaluate(() => window.dangol.consent.grant());
  assert.equal((await answered).status(), 200);

  // A proof made with another secret is refused, named in the console.
  await page.evaluate((p) => window.dangol.identify("customer-10", p),
    createHmac("sha256", "not the site's secret").update("customer-10").digest("hex"));
  await eventually(() => log.warnings.some((w) => w.includes("refused to link") && w.includes("403")), 5000, "the refusal");
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("a page without data-identify loads the default build, and identify there says what to add", async () => {
  const { context, page, log } = await watchedPage(browser);
  await page.route(`${server.url}/e2e/plain.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: shopPage(["pb"], false) }));
  await page.goto(`${server.url}/e2e/plain.html`);
  await page.waitForFunction(() => window.dangol?.ready);
  await page.evaluate((p) => window.dangol.identify("customer-11", p), proof("customer-11"));
  await eventually(() => log.warnings.some((w) => w.includes("add data-identify to the script tag")), 3000, "the warning");
  const wasm = log.requests.filter((r) => /\.(wasm|pack)\b/.test(r.url)).map((r) => new URL(r.url).pathname);
  assert.deepEqual(wasm, ["/pkg/dangol_bg.pack"]);
  await context.close();
});
