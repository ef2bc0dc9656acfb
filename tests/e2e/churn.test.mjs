// The churn model in the browser, on the real server: a shop imports its
// order history, fits the model and publishes a campaign for customers
// likely gone (`p_alive`); the config the widget fetches carries the
// model, and the widget works out each returning shopper's P(alive) from
// their own history.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, storedProfile } from "./harness.mjs";

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


const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script async src="/dangol.js" data-site="demo"></script></head>
<body><main><h1>Shop</h1><div data-dangol-slot="churn" style="min-height:160px"></div></main></body></html>`;

/** Whether a returning shopper with this stored profile is offered the win-back banner. */
async function offered(stored) {
  const { context, page, log } = await watchedPage(browser, (p) => {
    localStorage.setItem("dangol:demo:consent", "p=granted;m=granted");
    localStorage.setItem("dangol:demo:id", "0123456789abcdef0123");
    localStorage.setItem("dangol:demo:key", "fedcba9876543210fedc");
    localStorage.setItem("dangol:demo:profile", JSON.stringify(p));
  }, stored);
  await page.route(`${server.url}/e2e/churn.html`, (route) =>
    route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE }));
  await page.goto(`${server.url}/e2e/churn.html`);
  await page.waitForFunction(() => window.dangol?.ready && window.dangol.decisions().some((d) => d.placement === "churn"));
  const decision = await page.evaluate(() => window.dangol.decisions().find((d) => d.placement === "churn"));
  if (decision.chosen) await page.waitForSelector('[data-dangol-slot="churn"][data-dangol-rendered]');
  assert.deepEqual(log.errors, []);
  await context.close();
  return decision.chosen?.campaign_id ?? null;
}

test("a campaign for customers likely gone reaches them through the published churn model", async () => {
  const admin = (path, init) => server.adminApi(path, init);
  await admin("/v1/admin/sites/demo/campaigns/likely-gone", {
    method: "PUT",
    body: JSON.stringify({
      id: "likely-gone", name: "Customers likely gone", placements: ["churn"], holdout: 0, priority: 90,
      condition: { p_alive: { $lt: 0.5 } },
      variants: [{ id: "a", content: { type: "banner", headline: "It has been a while" } }],
    }),
  });
  await admin("/v1/admin/sites/demo/publish", { method: "POST", body: "{}" });

  // Three orders twenty days apart: the last a year ago (likely gone), or
  // five days ago (still buying).
  const history = (lastDaysAgo) => storedProfile(now, {
    first: now - 400 * DAY, visits: 9, sessions: 6, orders: 3, revenue: 90000, lp: now - lastDaysAgo * DAY, gap: 20,
  });
  const gone = history(365);
  const buying = history(5);

  // Before a model is fitted the attribute is absent: no one matches.
  assert.equal(await offered(gone), null);

  // Eighty customers' orders: half buy every 2-4 weeks up to now, half
  // stopped after a few orders long ago.
  const lines = [];
  for (let i = 0; i < 80; i++) {
    const orders = 2 + (i % 4);
    const gap = 14 + 7 * (i % 3);
    const last = i % 2 === 0 ? now - (i % 5) * DAY : now - (250 + 3 * i) * DAY;
    for (let k = 0; k < orders; k++) {
      lines.push(JSON.stringify({
        customer_id: `churn-${i}`, order_id: `churn-${i}-${k}`,
        time: last - (orders - 1 - k) * gap * DAY, value: 20000 + 1000 * (i % 7),
      }));
    }
  }
  const imported = await admin("/v1/admin/sites/demo/orders", {
    method: "POST", headers: { "content-type": "application/x-ndjson" }, body: lines.join("\n"),
  });
  assert.equal(imported.rejected, 0, JSON.stringify(imported));
  const model = await admin("/v1/admin/sites/demo/churn-model", { method: "POST", body: "{}" });

  // The config the widget fetches carries the fitted model.
  const config = await (await fetch(`${server.url}/v1/sites/demo/config`)).json();
  for (const k of ["r", "alpha", "a", "b"]) {
    assert.ok(Math.abs(config.profile.churn[k] - model.bgnbd[k]) <= 1e-9 * Math.abs(model.bgnbd[k]), `${k}: ${JSON.stringify(config.profile.churn)}`);
  }

  // The shopper whose own history says they are likely gone sees it; the
  // one still buying does not.
  assert.equal(await offered(gone), "likely-gone");
  assert.equal(await offered(buying), null);
});
