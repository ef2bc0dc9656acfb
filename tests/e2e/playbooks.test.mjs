// Every ready-made playbook of the dashboard (www/admin/playbooks.js), as
// published: a shopper it is meant for sees it on the storefront, and one
// it is not meant for does not. Shoppers are made as a returning browser
// left them: consent given, a stored profile, declared attributes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, compactConfig, storedProfile } from "./harness.mjs";
import { readFileSync } from "node:fs";
import { PLAYBOOKS, ATTRIBUTES } from "../../www/admin/playbooks.js";

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

const DAY = 86_400_000;
const now = Date.now();

const profile = (fields) => storedProfile(now, fields);

/** The local date `days` from today, `YYYY-MM-DD` (the browser runs on this machine's clock). */
function localDate(days) {
  const d = new Date(now + days * DAY);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
const month = new Date(now).getMonth() + 1;

/** For each playbook: a shopper it is for, and one it is not for. */
const SHOPPERS = {
  // `shows`: text the offer must show to the shopper it is for.
  welcome: { match: {}, miss: { profile: profile({}) } },
  winback: {
    match: { profile: profile({ last: now - 40 * DAY, ss: now - 40 * DAY, orders: 1, revenue: 50000, lp: now - 60 * DAY }) },
    miss: { profile: profile({ orders: 1, revenue: 50000, lp: now - 3 * DAY }) },
  },
  price: {
    match: { profile: profile({ items: [["knit-01", 3, now - 3_600_000]] }) },
    miss: { profile: profile({}) },
  },
  cart: {
    match: { profile: profile({ last: now - 2 * 3_600_000, ss: now - 2 * 3_600_000, cart: [["knit-01", 59000, 1]], cart_ms: now - 2 * 3_600_000 }) },
    miss: { profile: profile({}) },
  },
  vip: { match: { declared: { tier: "vip" } }, miss: { declared: { tier: "gold" } } },
  birthday: { match: { declared: { birthday_month: month } }, miss: { declared: { birthday_month: (month % 12) + 1 } } },
  first: {
    match: { declared: { tier: "silver" } },
    miss: { declared: { tier: "silver" }, profile: profile({ orders: 1, revenue: 30000, lp: now - 5 * DAY }) },
  },
  second: {
    match: { profile: profile({ orders: 1, revenue: 30000, lp: now - 10 * DAY }) },
    miss: { profile: profile({ orders: 1, revenue: 30000, lp: now - 60 * DAY }) },
  },
  points: {
    match: { declared: { points_expiring: 3000, points_expire_on: localDate(3) } },
    miss: { declared: { points_expiring: 3000, points_expire_on: localDate(30) } },
  },
  seasonal: {
    match: { profile: profile({ orders: 1, revenue: 30000, lp: now - 365 * DAY, paidcat: [["swimwear", 1, now - 365 * DAY]] }) },
    miss: { profile: profile({ orders: 2, revenue: 60000, lp: now - 30 * DAY, paidcat: [["swimwear", 2, now - 30 * DAY]] }) },
    shows: "Back in season: swimwear",
  },
  followup: {
    match: { profile: profile({ ledger: [{ c: "win-back", v: "a", s: [], n: 1, t: now - 8 * DAY, f: [now - 8 * DAY, 0, 0] }] }) },
    miss: { profile: profile({ ledger: [{ c: "win-back", v: "a", s: [], n: 1, t: now - 8 * DAY, f: [now - 8 * DAY, 0, 0], x: true }] }) },
  },
  tier: { match: { declared: { points: 1200 } }, miss: {} },
  feedback: { match: { profile: profile({ orders: 1, revenue: 30000, lp: now - 2 * DAY }) }, miss: {} },
};

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script async src="/dangol.js" data-site="demo"></script></head>
<body><main><h1>Shop</h1><div data-dangol-slot="pb" style="min-height:160px"></div></main></body></html>`;

/** What the shopper on a page with only this campaign is offered in slot `pb`. */
async function offered(campaign, shopper, version) {
  const config = {
    schema: 1, site: "demo", version, currency: "KRW", global_holdout: 0,
    tiers: [{ id: "silver", name: "Silver", points: 0 }, { id: "gold", name: "Gold", points: 2000, perks: "Free shipping" }],
    campaigns: [{ ...campaign, placements: ["pb"], holdout: 0 }],
  };
  const body = compactConfig(config);
  const { context, page, log } = await watchedPage(browser, (stored) => {
    localStorage.setItem("dangol:demo:consent", "p=granted;m=granted");
    localStorage.setItem("dangol:demo:id", "0123456789abcdef0123");
    localStorage.setItem("dangol:demo:key", "fedcba9876543210fedc");
    if (stored.profile) localStorage.setItem("dangol:demo:profile", JSON.stringify(stored.profile));
    if (stored.declared) localStorage.setItem("dangol:demo:declared", JSON.stringify(stored.declared));
  }, shopper);
  await page.route(`${server.url}/e2e/playbook.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE }));
  await page.route("**/v1/sites/demo/config/compact", (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body }));
  await page.goto(`${server.url}/e2e/playbook.html`);
  await page.waitForFunction(() => window.dangol?.ready && window.dangol.decisions().some((d) => d.placement === "pb"));
  const decision = await page.evaluate(() => window.dangol.decisions().find((d) => d.placement === "pb"));
  let rendered = false;
  let text = "";
  if (decision.chosen) {
    await page.waitForSelector('[data-dangol-slot="pb"][data-dangol-rendered]');
    rendered = true;
    text = await page.evaluate(() => document.querySelector('[data-dangol-slot="pb"]').shadowRoot?.textContent ?? "");
  }
  assert.deepEqual(log.errors, []);
  await context.close();
  return { chosen: decision.chosen?.campaign_id ?? null, rendered, text, reasons: decision.reasons.map((r) => r.reason) };
}

/** The attribute paths of the engine's contract (the table in attributes.rs). */
function contract() {
  const source = readFileSync(new URL("../../crates/engine/src/attributes.rs", import.meta.url), "utf8");
  const paths = [];
  for (const line of source.split("\n").filter((l) => l.startsWith("//! | `"))) {
    const cell = line.slice("//! | ".length).split(" | ")[0].replace(/\([^)]*\)/g, "");
    let last = "";
    for (const [, token] of cell.matchAll(/`([^`]+)`/g)) {
      // `.days_since_clicked` continues the path before it.
      const path = token.startsWith(".") ? last.slice(0, last.lastIndexOf(".")) + token : token;
      last = path;
      paths.push(path.replace("<id>", "*"));
    }
  }
  return paths;
}

test("the audience builder offers every attribute of the engine's contract", () => {
  const paths = contract();
  assert.ok(paths.length > 40 && paths.includes("campaigns.*.days_since_seen"), paths.join(" "));
  const offered = new Set(ATTRIBUTES.map((a) => a.path));
  const missing = paths.filter((p) => (p === "declared.*" ? !ATTRIBUTES.some((a) => a.path.startsWith("declared.")) : !offered.has(p)));
  assert.deepEqual(missing, []);
});

test("every playbook has a shopper it is for and one it is not for", () => {
  assert.deepEqual(Object.keys(SHOPPERS).sort(), PLAYBOOKS.map((p) => p.key).sort());
});

PLAYBOOKS.forEach((playbook, i) => {
  test(`the ${playbook.key} playbook shows to the shopper it is for, and not to another`, async () => {
    const { campaign } = playbook;
    const shoppers = SHOPPERS[playbook.key];
    const yes = await offered(campaign, shoppers.match, 900 + 2 * i);
    assert.deepEqual([yes.chosen, yes.rendered], [campaign.id, true], `${playbook.key}, meant for: ${JSON.stringify(yes)}`);
    if (shoppers.shows) assert.ok(yes.text.includes(shoppers.shows), `${playbook.key} shows "${shoppers.shows}": ${yes.text}`);
    const no = await offered(campaign, shoppers.miss, 901 + 2 * i);
    assert.equal(no.chosen, null, `${playbook.key}, not meant for: ${JSON.stringify(no)}`);
    assert.ok(no.reasons.includes("not_targeted"), JSON.stringify(no));
  });
});
