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

const admin = (path, init) => server.adminApi(path, init);

test("an older signed config replayed to a returning shopper is refused and the newer one stays", async () => {
  const { context, page, dangolWarnings, log } = await watchedPage(browser);
  await withKey(page);
  // The config as served now, signature and all: what a CDN or an attacker
  // could keep and serve again later.
  const old = await fetch(`${server.url}/v1/sites/demo/config/compact`);
  const replay = { body: await old.text(), signature: old.headers.get("x-dangol-signature"), etag: old.headers.get("etag") };
  const version = (etag) => Number(/^(?:W\/)?"c(\d+)-/.exec(etag ?? "")?.[1]);

  // A newer version is published and reaches the shopper, who keeps it.
  const draft = await admin("/v1/admin/sites/demo/campaigns/welcome-hero");
  const changed = structuredClone(draft);
  for (const v of changed.variants) v.content.headline = "Newer headline";
  await admin("/v1/admin/sites/demo/campaigns/welcome-hero", { method: "PUT", body: JSON.stringify(changed) });
  await admin("/v1/admin/sites/demo/publish", { method: "POST", body: "{}" });
  await page.goto(`${server.url}/demo/`);
  await page.click("#consent-accept");
  await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:etag")), 5000, "the stored config");
  const held = version(await page.evaluate(() => localStorage.getItem("dangol:demo:etag")));
  assert.ok(held > version(replay.etag), `held ${held}, replayed ${version(replay.etag)}`);

  // The older, validly signed config is served again.
  let served = 0;
  await page.route("**/v1/sites/demo/config/compact", (route) => {
    served += 1;
    route.fulfill({
      status: 200,
      contentType: "text/plain",
      headers: { "x-dangol-signature": replay.signature, etag: replay.etag, "access-control-expose-headers": "ETag, X-Dangol-Signature" },
      body: replay.body,
    });
  });
  await page.reload();
  await eventually(() => dangolWarnings().length > 0, 10000, "the widget's warning");
  assert.ok(served > 0);
  assert.equal(dangolWarnings().length, 1, dangolWarnings().join("\n"));
  assert.match(dangolWarnings()[0], /is version \d+, older than the one this browser holds \(replayed\?\); the newer one stays/);
  // The newer config still decides, and stays stored.
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  const headline = await page.evaluate((sel) => document.querySelector(sel).shadowRoot.querySelector(".headline").textContent, HERO);
  assert.equal(headline, "Newer headline");
  assert.equal(version(await page.evaluate(() => localStorage.getItem("dangol:demo:etag"))), held);
  assert.deepEqual(log.errors, []);
  await context.close();
  // Put the demo back as it was for the other tests.
  await admin("/v1/admin/sites/demo/campaigns/welcome-hero", { method: "PUT", body: JSON.stringify(draft) });
  await admin("/v1/admin/sites/demo/publish", { method: "POST", body: "{}" });
});
