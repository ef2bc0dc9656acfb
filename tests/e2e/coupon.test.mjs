// A coupon the widget cannot mint: the server issues it, once per shopper,
// and the shop's checkout redeems it exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, eventually, shotPath } from "./harness.mjs";

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

const OFFER = '[data-dangol-slot="cart-offer"]';

test("revealing a coupon claims a unique code that redeems exactly once", async () => {
  const { context, page, log } = await watchedPage(browser);
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.goto(`${server.url}/demo/product.html?id=coat-01`);
  await page.click("#consent-accept");
  await page.click("#add-to-cart");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.goto(`${server.url}/demo/cart.html`);
  await page.waitForSelector(`${OFFER}[data-dangol-rendered="cart-coupon"]`);
  assert.equal(await page.locator(`${OFFER} .value`).textContent(), "₩5,000 off over ₩50,000");
  await page.click(`${OFFER} .reveal`);
  const code = await eventually(async () => {
    const c = page.locator(`${OFFER} .code`);
    return (await c.count()) ? c.textContent() : null;
  }, 10000, "the code");
  assert.match(code, /^DANGOL-[0-9A-HJKMNP-TV-Z]{10}$/);
  assert.match(await page.locator(`${OFFER} .status`).textContent(), /Valid until .* \(14 days left\)/);
  await page.click(`${OFFER} .copy`);
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), code);
  await page.screenshot({ path: shotPath("coupon.png") });

  const claim = await eventually(async () => (await server.events(anon)).find((e) => e.type === "claim"), 10000, "the claim event");
  assert.equal(claim.campaign, "cart-coupon");
  // The same shopper gets the same code again.
  await page.reload();
  await page.click(`${OFFER} .reveal`);
  await eventually(async () => (await page.locator(`${OFFER} .code`).count()) > 0, 10000, "the code again");
  assert.equal(await page.locator(`${OFFER} .code`).textContent(), code);

  const first = await server.redeem(code);
  assert.equal(first.status, 200);
  const second = await server.redeem(code);
  assert.equal(second.status, 409);
  assert.equal(second.body.error.code, "already_redeemed");
  assert.equal((await server.redeem("DANGOL-0000000000")).status, 404);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("without consent the reveal explains instead of failing", async () => {
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/product.html?id=knit-01`);
  await page.click("#add-to-cart");
  await page.goto(`${server.url}/demo/cart.html`);
  // Without consent the cart is unknown to dangol: no coupon, the shop's own content stays.
  await page.waitForTimeout(500);
  assert.equal(await page.locator(`${OFFER}[data-dangol-rendered]`).count(), 0);
  assert.equal(await page.locator(`${OFFER} .fallback h2`).textContent(), "Free returns");
  await context.close();
});

test("a member sees their tier progress, and a buyer can answer the feedback question", async () => {
  const { context, page, log } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await page.click("#member-login");
  await page.waitForSelector('[data-dangol-slot="home-loyalty"][data-dangol-rendered="tier-progress"]');
  const loyalty = '[data-dangol-slot="home-loyalty"]';
  assert.equal(await page.locator(`${loyalty} .standing`).textContent(), "1,200 / 2,000 points to Gold");
  assert.equal(await page.locator(`${loyalty} progress`).getAttribute("value"), "1200");
  assert.equal(await page.locator(`${loyalty} .body`).first().textContent(), "Gold unlocks: Free shipping on every order");

  await page.goto(`${server.url}/demo/checkout.html`);
  await page.click("#place-order");
  await page.reload();
  const feedback = '[data-dangol-slot="checkout-feedback"]';
  await page.waitForSelector(`${feedback}[data-dangol-rendered="post-purchase-feedback"]`);
  assert.equal(await page.locator(`${feedback} .answer`).count(), 5);
  await page.click(`${feedback} .answer[data-answer="4"]`);
  assert.equal(await page.locator(`${feedback} .status`).textContent(), "Thank you for your answer!");
  const answer = await eventually(async () => (await server.events(anon)).find((e) => e.type === "feedback"), 10000, "the feedback event");
  assert.deepEqual({ campaign: answer.campaign, answer: answer.answer }, { campaign: "post-purchase-feedback", answer: 4 });
  // Declared attributes never left the browser.
  for (const e of await server.events(anon)) assert.ok(!JSON.stringify(e).includes("Minji"));
  assert.deepEqual(log.errors, []);
  await context.close();
});
