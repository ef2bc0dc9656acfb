// Signed configs: with the site's public key in the script tag, the widget
// uses only configs whose Ed25519 signature verifies.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, eventually } from "./harness.mjs";

let server;
let browser;
let publicKey;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  publicKey = (await (await fetch(`${server.url}/v1/sites/demo/key`)).json()).public_key;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const HERO = '[data-dangol-slot="home-hero"]';

async function withKey(page) {
  await page.route(`${server.url}/demo/`, async (route) => {
    const res = await route.fetch();
    const html = (await res.text()).replace('data-site="demo"', `data-site="demo" data-key="${publicKey}"`);
    await route.fulfill({ response: res, body: html });
  });
}

test("a config that verifies against data-key is used", async () => {
  const { context, page, dangolWarnings, log } = await watchedPage(browser);
  await withKey(page);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  assert.deepEqual(dangolWarnings(), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("a config tampered with on the way is refused and the slot keeps its content", async () => {
  const { context, page, dangolWarnings, log } = await watchedPage(browser);
  await withKey(page);
  // A CDN (or anyone in between) rewrites the body but cannot re-sign it.
  await page.route("**/v1/sites/demo/config/compact", async (route) => {
    const res = await route.fetch();
    const bytes = Buffer.from(await res.text(), "base64");
    const at = bytes.indexOf("Welcome to Dangol Goods");
    assert.ok(at > 0, "the headline is in the compact config");
    bytes.write("Click here for a prize!", at);
    await route.fulfill({ response: res, body: bytes.toString("base64") });
  });
  await page.goto(`${server.url}/demo/`);
  await eventually(() => dangolWarnings().length > 0, 10000, "the widget's warning");
  assert.equal(dangolWarnings().length, 1);
  assert.match(dangolWarnings()[0], /does not match its signature/);
  assert.equal(await page.locator(`${HERO}[data-dangol-rendered]`).count(), 0);
  assert.equal(await page.locator(`${HERO} .fallback h2`).textContent(), "Winter collection");
  assert.deepEqual(log.errors, []);
  await context.close();
});
