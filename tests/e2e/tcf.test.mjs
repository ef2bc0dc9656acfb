// IAB TCF v2.2 through a real CMP (the IAB's @iabtechlabtcf packages):
// consent, refusal and a change of mind, without a reload.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, eventually, tcfCmpScript } from "./harness.mjs";

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

async function purposes(page) {
  return page.evaluate(() => window.dangol.consent.purposes());
}

test("TCF publisher consents grant both purposes, a refusal wipes everything", async () => {
  const { context, page, log } = await watchedPage(browser, cmp);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  assert.deepEqual(await purposes(page), { personalisation: "unknown", measurement: "unknown", gpc: false });

  await page.evaluate(() => window.__testCmp.answer([], [1, 5, 6, 8]));
  await eventually(async () => (await purposes(page)).measurement === "granted", 5000, "the TCF grant");
  assert.deepEqual(await purposes(page), { personalisation: "granted", measurement: "granted", gpc: false });
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  await eventually(async () => (await server.events(anon)).length >= 2, 10000, "events after the TCF grant");

  // A change of mind: purpose 1 withdrawn.
  await page.evaluate(() => window.__testCmp.answer([], [5, 6, 8]));
  await eventually(async () => (await purposes(page)).measurement === "denied", 5000, "the TCF refusal");
  assert.deepEqual(await purposes(page), { personalisation: "denied", measurement: "denied", gpc: false });
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol:"))), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("TCF purpose consents count where the CMP leaves publisher consents empty", async () => {
  const { context, page } = await watchedPage(browser, cmp);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  await page.evaluate(() => window.__testCmp.answer([1, 8], []));
  await eventually(async () => (await purposes(page)).measurement === "granted", 5000, "the TCF answer");
  assert.deepEqual(await purposes(page), { personalisation: "denied", measurement: "granted", gpc: false });
  await context.close();
});
