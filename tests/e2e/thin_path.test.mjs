// The thin path end to end: script tag → wasm → config → decision → banner
// → consent → events in SQLite, and the page surviving every failure.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { get } from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, launchBrowser, watchedPage, closedPort, eventually, shotPath, compactConfig, ROOT } from "./harness.mjs";

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

async function dangolKeys(page) {
  return page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol:")));
}

test("a shopper who grants consent sees the banner and the server stores page_view and exposure", async () => {
  const { context, page, log, dangolWarnings } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);

  // Before consent: contextual banner, nothing stored, only the config fetched.
  assert.deepEqual(await dangolKeys(page), []);
  const api = log.requests.filter((r) => r.url.includes("/v1/"));
  assert.deepEqual(api.map((r) => `${r.method} ${new URL(r.url).pathname}`), ["GET /v1/sites/demo/config/compact"]);

  const posted = page.waitForResponse((r) => r.url().endsWith("/v1/sites/demo/events") && r.request().method() === "POST");
  await page.click("#consent-accept");
  const response = await posted;
  assert.equal(response.status(), 200);

  assert.equal(await page.locator(`${HERO} .headline`).textContent(), "Welcome to Dangol Goods");
  assert.equal(await page.locator(`${HERO} .cta`).getAttribute("href"), "/demo/category.html");
  const anon = await page.evaluate(() => localStorage.getItem("dangol:demo:id"));
  assert.match(anon, /^[0-9a-f]{32}$/);

  const stored = await eventually(async () => {
    const events = await server.events(anon);
    return events.length >= 2 ? events : null;
  }, 10000, "page_view and exposure in the database");
  const kinds = stored.map((e) => `${e.type}:${e.campaign ?? ""}:${e.variant ?? ""}`).sort();
  assert.deepEqual(kinds, ["exposure:welcome-hero:a", "page_view::"]);
  await page.screenshot({ path: shotPath("home-consented.png"), fullPage: true });

  // The next page view decides from the cached config and remembers consent.
  assert.deepEqual((await dangolKeys(page)).sort(), ["dangol:demo:config", "dangol:demo:consent", "dangol:demo:declared", "dangol:demo:etag", "dangol:demo:id", "dangol:demo:key", "dangol:demo:profile"]);
  await page.goto(`${server.url}/demo/category.html`);
  await page.waitForSelector('[data-dangol-slot="category-top"][data-dangol-rendered="category-sale"]');
  assert.equal(await page.isVisible("#consent-bar"), false);
  await eventually(async () => (await server.events(anon)).length >= 4, 10000, "the second page's events");
  assert.deepEqual(dangolWarnings(), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("declining consent stores nothing and sends nothing", async () => {
  const { context, page, log } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  await page.click("#consent-decline");
  await page.waitForTimeout(500);
  assert.deepEqual(await dangolKeys(page), []);
  assert.deepEqual(log.requests.filter((r) => r.method === "POST"), []);
  await context.close();
});

test("a blocked localStorage leaves the page working and logs one clear warning", async () => {
  const { context, page, log, dangolWarnings } = await watchedPage(browser, () => {
    Object.defineProperty(window, "localStorage", {
      get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
    });
  });
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector("html[data-shop-ready]");
  // The widget still decides from the page context, in memory only.
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  assert.equal(await page.locator("#products .card").count(), 6);
  await page.waitForTimeout(300);
  assert.equal(dangolWarnings().length, 1, dangolWarnings().join("\n"));
  assert.match(dangolWarnings()[0], /localStorage is unavailable/);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("an unreachable server leaves the slot's own content and logs one clear warning", async () => {
  const port = await closedPort();
  const { context, page, log, dangolWarnings } = await watchedPage(browser);
  // The shop's page points the widget at a server that is down.
  await page.route(`${server.url}/demo/`, async (route) => {
    const res = await route.fetch();
    const html = (await res.text()).replace('data-site="demo"', `data-site="demo" data-endpoint="http://127.0.0.1:${port}"`);
    await route.fulfill({ response: res, body: html });
  });
  await page.goto(`${server.url}/demo/`);
  await eventually(() => dangolWarnings().length > 0, 10000, "the widget's warning");
  await page.waitForTimeout(300);
  assert.equal(dangolWarnings().length, 1, dangolWarnings().join("\n"));
  assert.match(dangolWarnings()[0], /could not fetch the config from http:\/\/127\.0\.0\.1:\d+\/v1\/sites\/demo\/config\/compact/);
  assert.equal(await page.locator(`${HERO}[data-dangol-rendered]`).count(), 0);
  assert.equal(await page.locator(`${HERO} .fallback h2`).textContent(), "Winter collection");
  assert.deepEqual(log.errors, []);
  await context.close();
});

// A valid compact config whose link is rewritten, byte for byte, to a
// script URL: only the checking server writes configs, but what the widget
// reads from the network or storage is still checked where it matters.
function forgedLink() {
  const cfg = {
    site: "demo", version: 2, campaigns: [{ id: "evil", placement: "home-hero",
      variants: [{ id: "a", content: { type: "banner", headline: "Hi", cta: { text: "x", url: "https://x.example/aaaaaaa" } } }] }],
  };
  const bytes = Buffer.from(compactConfig(cfg), "base64");
  bytes.write("javascript:alert(1)//////", bytes.indexOf("https://x.example/aaaaaaa"));
  return bytes.toString("base64");
}

for (const [name, body, pattern] of [
  ["cut short", compactConfig({ site: "demo", version: 2 }).slice(0, 8), /the config from .* is malformed \(it is corrupt at byte \d+\)/],
  ["JSON where the compact form belongs", '{"site": "demo", "version": 2, "campaigns": []}', /the config from .* is malformed \(it is not base64 text\)/],
  ["a campaign with a javascript: link", forgedLink(), /the config from .* is malformed \(it is corrupt at byte \d+\)/],
]) {
  test(`a malformed config (${name}) leaves the slot's own content and logs one clear warning`, async () => {
    const { context, page, log, dangolWarnings } = await watchedPage(browser);
    await page.route("**/v1/sites/demo/config/compact", (route) =>
      route.fulfill({ status: 200, contentType: "text/plain", body }));
    await page.goto(`${server.url}/demo/`);
    await eventually(() => dangolWarnings().length > 0, 10000, "the widget's warning");
    await page.waitForTimeout(300);
    assert.equal(dangolWarnings().length, 1, dangolWarnings().join("\n"));
    assert.match(dangolWarnings()[0], pattern);
    assert.equal(await page.locator(`${HERO}[data-dangol-rendered]`).count(), 0);
    assert.equal(await page.locator(`${HERO} .fallback h2`).textContent(), "Winter collection");
    assert.deepEqual(log.errors, []);
    await context.close();
  });
}

test("a packed wasm cut short leaves the slot's own content and logs one clear warning", async () => {
  const { context, page, log, dangolWarnings } = await watchedPage(browser);
  await page.route("**/pkg/dangol_bg.pack*", async (route) => {
    const res = await route.fetch();
    const body = await res.body();
    await route.fulfill({ response: res, body: body.subarray(0, body.length >> 1) });
  });
  await page.goto(`${server.url}/demo/`);
  await eventually(() => dangolWarnings().length > 0, 10000, "the widget's warning");
  await page.waitForTimeout(300);
  assert.equal(dangolWarnings().length, 1, dangolWarnings().join("\n"));
  assert.match(dangolWarnings()[0], /could not load \((Error: )?dangol_bg\.pack does not unpack \(.+\)\)/);
  assert.equal(await page.locator(`${HERO}[data-dangol-rendered]`).count(), 0);
  assert.equal(await page.locator(`${HERO} .fallback h2`).textContent(), "Winter collection");
  assert.deepEqual(log.errors, []);
  await context.close();
});

/** A raw GET (no decoding): status, headers and body bytes. */
function rawGet(url, headers) {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on("error", reject);
  });
}

test("the loader, glue, wasm and config travel compressed, as brotli or gzip by what the browser accepts", async () => {
  for (const [file, type] of [["dangol_bg.pack", "application/octet-stream"], ["dangol_bg.wasm", "application/wasm"], ["dangol.js", "text/javascript"]]) {
    const url = `${server.url}/pkg/${file}`;
    const plain = await rawGet(url, {});
    assert.equal(plain.status, 200);
    assert.equal(plain.headers["content-encoding"], undefined);
    const br = await rawGet(url, { "accept-encoding": "gzip, br" });
    const gz = await rawGet(url, { "accept-encoding": "gzip" });
    for (const r of [plain, br, gz]) {
      assert.equal(r.headers["content-type"], type, file);
      assert.equal(r.headers.vary, "accept-encoding", file);
      assert.equal(r.headers["access-control-allow-origin"], "*", file);
    }
    assert.equal(br.headers["content-encoding"], "br", file);
    assert.equal(gz.headers["content-encoding"], "gzip", file);
    assert.ok(br.body.length < plain.body.length * 0.5, `${file}: ${br.body.length} of ${plain.body.length} bytes`);
    assert.ok(gz.body.length < plain.body.length * 0.5, `${file}: ${gz.body.length} of ${plain.body.length} bytes`);
    // The same file either way.
    assert.deepEqual(brotliDecompressSync(br.body), plain.body, file);
    assert.deepEqual(gunzipSync(gz.body), plain.body, file);
  }
  // The loader as shipped is the build's minified copy of www/dangol.js.
  const loader = await rawGet(`${server.url}/dangol.js`, {});
  assert.ok(loader.body.length < statSync(join(ROOT, "www/dangol.js")).size * 0.7, `loader: ${loader.body.length} bytes`);
  assert.match(loader.body.toString(), /dangol:start/);
  // The loader, precompressed, and the config, compressed on the fly; the
  // config keeps its signature (made over the uncompressed text) and its
  // ETag, weakened for a compressed copy (a strong tag names exact bytes).
  for (const path of ["/dangol.js", "/v1/sites/demo/config", "/v1/sites/demo/config/compact"]) {
    const plain = await rawGet(`${server.url}${path}`, {});
    const br = await rawGet(`${server.url}${path}`, { "accept-encoding": "br" });
    const gz = await rawGet(`${server.url}${path}`, { "accept-encoding": "gzip" });
    assert.equal(plain.headers["content-encoding"], undefined, path);
    assert.equal(br.headers["content-encoding"], "br", path);
    assert.equal(gz.headers["content-encoding"], "gzip", path);
    assert.ok(br.body.length < plain.body.length * 0.6, `${path}: ${br.body.length} of ${plain.body.length} bytes`);
    assert.deepEqual(brotliDecompressSync(br.body), plain.body, path);
    assert.deepEqual(gunzipSync(gz.body), plain.body, path);
    assert.match(br.headers.vary, /accept-encoding/i, path);
    if (plain.headers.etag === undefined) assert.equal(br.headers.etag, undefined, path);
    else for (const copy of [br, gz]) assert.equal(copy.headers.etag, `W/${plain.headers.etag}`, path);
    assert.equal(br.headers["x-dangol-signature"], plain.headers["x-dangol-signature"], path);
  }
  // A real page load downloads the compressed wasm and still runs it.
  const { context, page } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  const sizes = await page.evaluate(() => {
    const e = performance.getEntriesByType("resource").find((r) => r.name.includes("/pkg/dangol_bg.pack"));
    return { encoded: e.encodedBodySize, decoded: e.decodedBodySize };
  });
  assert.ok(sizes.encoded < sizes.decoded * 0.5, JSON.stringify(sizes));
  await context.close();
});

test("a first visit asks for the config while the wasm loads, once; a returning shopper revalidates it", async () => {
  const { context, page, log, dangolWarnings } = await watchedPage(browser);
  const times = {};
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/sites/demo/config/compact")) times.config ??= Date.now();
  });
  page.on("requestfinished", (r) => {
    if (r.url().includes("/pkg/dangol_bg.pack")) times.wasm = Date.now();
  });
  // A slow wasm: the config must not wait for it.
  await page.route("**/pkg/dangol_bg.pack*", async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  assert.ok(times.config < times.wasm - 200, `config asked at ${times.config}, wasm loaded at ${times.wasm}`);
  const configs = () => log.requests.filter((r) => r.url.endsWith("/v1/sites/demo/config/compact"));
  assert.equal(configs().length, 1);

  // With consent the config is stored; the next page decides from it and
  // the widget itself revalidates (If-None-Match), still once.
  await page.click("#consent-accept");
  await page.waitForFunction(() => localStorage.getItem("dangol:demo:config"));
  const revalidation = page.waitForRequest((r) => r.url().endsWith("/v1/sites/demo/config/compact"));
  log.requests.length = 0;
  await page.reload();
  const request = await revalidation;
  assert.match((await request.allHeaders())["if-none-match"] ?? "", /^W\/"c\d+-/);
  await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
  await page.waitForTimeout(300);
  assert.equal(configs().length, 1);
  assert.deepEqual(dangolWarnings(), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("the widget's files are asked for by build: cached for good, and another build's are refused", async () => {
  const build = readFileSync(join(ROOT, "pkg/build-id"), "utf8").trim();
  assert.match(build, /^[0-9a-f]{8}$/);
  const loader = await rawGet(`${server.url}/dangol.js`, {});
  assert.match(loader.body.toString(), new RegExp(`"${build}"`));
  assert.equal(loader.headers["cache-control"], "public, max-age=300");
  for (const file of ["dangol.js", "dangol_bg.wasm", "dangol_bg.pack"]) {
    const current = await rawGet(`${server.url}/pkg/${file}?v=${build}`, {});
    assert.equal(current.status, 200, file);
    assert.equal(current.headers["cache-control"], "public, max-age=31536000, immutable", file);
    const other = await rawGet(`${server.url}/pkg/${file}?v=0badc0de`, {});
    assert.equal(other.status, 404, file);
    assert.equal(other.headers["cache-control"], "no-store", file);
    assert.match(other.body.toString(), /0badc0de/);
    const plain = await rawGet(`${server.url}/pkg/${file}`, {});
    assert.equal(plain.status, 200, file);
    assert.equal(plain.headers["cache-control"], "no-cache", file);
  }
  // A page asks for its loader's build and shows its offer: the loader
  // holds the first module's glue, so the packed wasm is the only file it asks for.
  const { context, page, log, dangolWarnings } = await watchedPage(browser);
  await page.goto(`${server.url}/demo/`);
  await page.waitForSelector(`${HERO}[data-dangol-rendered]`);
  const asked = log.requests.map((r) => r.url).filter((u) => u.includes("/pkg/"));
  assert.deepEqual(asked, [`${server.url}/pkg/dangol_bg.pack?v=${build}`]);
  assert.deepEqual(dangolWarnings(), []);
  await context.close();

  // A loader from another build finds no files, says so once and leaves the page as it was.
  const stale = await watchedPage(browser);
  const text = loader.body.toString().replace(`"${build}"`, '"0badc0de"');
  await stale.page.route(`${server.url}/dangol.js`, (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: text }));
  await stale.page.goto(`${server.url}/demo/`);
  await eventually(async () => stale.dangolWarnings().length > 0, 5000, "the loader's warning");
  assert.match(stale.dangolWarnings()[0], /could not load/);
  assert.equal(await stale.page.locator(`${HERO} .fallback h2`).textContent(), "Winter collection");
  assert.equal(await stale.page.evaluate(() => document.querySelector('[data-dangol-slot="home-hero"]').hasAttribute("data-dangol-rendered")), false);
  assert.deepEqual(stale.log.errors, []);
  await stale.context.close();
});

test("the server keeps serving the builds before the current one, so a page with a cached loader keeps its offers", async () => {
  // A build directory as an upgrade leaves it: the current build at the top
  // and in builds/, and an earlier build (here the same files under another
  // id) still in builds/.
  const pkg = mkdtempSync(join(tmpdir(), "dangol-pkg-"));
  const build = readFileSync(join(ROOT, "pkg/build-id"), "utf8").trim();
  cpSync(join(ROOT, "pkg"), pkg, { recursive: true });
  assert.ok(statSync(join(pkg, "builds", build)).isDirectory(), "the build keeps its own files in builds/<id>/");
  const earlier = "00d0b01d";
  cpSync(join(pkg, "builds", build), join(pkg, "builds", earlier), { recursive: true });
  const upgraded = await startServer({ pkg });
  try {
    for (const file of ["dangol.js", "dangol_bg.wasm", "dangol_bg.pack"]) {
      const kept = await rawGet(`${upgraded.url}/pkg/${file}?v=${earlier}`, { "accept-encoding": "br" });
      assert.equal(kept.status, 200, file);
      assert.equal(kept.headers["cache-control"], "public, max-age=31536000, immutable", file);
      assert.equal(kept.headers["content-encoding"], "br", file);
      assert.deepEqual(brotliDecompressSync(kept.body), readFileSync(join(ROOT, "pkg", file)), file);
      for (const id of ["0badc0de", "../../..", "0LDB01D0"]) {
        const gone = await rawGet(`${upgraded.url}/pkg/${file}?v=${encodeURIComponent(id)}`, {});
        assert.equal(gone.status, 404, `${file} ?v=${id}`);
      }
    }
    // A page whose loader is the earlier build's loads that build and shows its offer.
    const loader = await rawGet(`${upgraded.url}/dangol.js`, {});
    const text = loader.body.toString().replace(`"${build}"`, `"${earlier}"`);
    const { context, page, log, dangolWarnings } = await watchedPage(browser);
    await page.route(`${upgraded.url}/dangol.js`, (route) => route.fulfill({ status: 200, contentType: "text/javascript", body: text }));
    await page.goto(`${upgraded.url}/demo/`);
    await page.waitForSelector(`${HERO}[data-dangol-rendered="welcome-hero"]`);
    const asked = log.requests.map((r) => r.url).filter((u) => u.includes("/pkg/"));
    assert.deepEqual(asked, [`${upgraded.url}/pkg/dangol_bg.pack?v=${earlier}`]);
    assert.deepEqual(dangolWarnings(), []);
    assert.deepEqual(log.errors, []);
    await context.close();
  } finally {
    await upgraded.stop();
    rmSync(pkg, { recursive: true, force: true });
  }
});
