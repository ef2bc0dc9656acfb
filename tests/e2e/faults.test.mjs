// Nothing lost, nothing doubled: the widget on the demo storefront talks to
// the real server through a small fault proxy, which fails the event
// requests in every way a network and a server can. After recovery the
// server must hold every event the pages made exactly once, in Chromium
// and in Firefox (whose fetch, keepalive, Web Locks and storage events are
// their own implementations).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, launchBrowser, launchFirefox, eventually, newContext, pause } from "./harness.mjs";

let server;
let proxy;
const browsers = {};

/** A proxy in front of the server. `mode` decides what happens to event posts. */
function startProxy(target) {
  const upstream = new URL(target);
  const state = { mode: "pass", held: [], seen: 0 };
  const forward = (req, body, res) => {
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      if (res) {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      } else {
        up.resume();
      }
    });
    out.on("error", () => res?.destroy());
    out.end(body);
  };
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const isEvents = req.method === "POST" && req.url.endsWith("/events");
      if (!isEvents) return forward(req, body, res);
      state.seen++;
      switch (state.mode) {
        case "down": return req.socket.destroy();
        case "500": res.writeHead(500, { "content-type": "application/json" }); return res.end('{"error":{"code":"boom","message":"injected"}}');
        case "429": res.writeHead(429, { "content-type": "application/json", "retry-after": "2" }); return res.end('{"error":{"code":"rate_limited","message":"injected"}}');
        // Stored upstream, but the answer comes after the widget gave up.
        case "slow": forward(req, body, null); return setTimeout(() => res.destroy(), 9000);
        // Stored upstream, then the connection dies before the answer.
        case "reset": forward(req, body, null); return setTimeout(() => req.socket.destroy(), 50);
        // Never answered, never forwarded (the tab closes meanwhile).
        case "hold": state.held.push(res); return undefined;
        default: return forward(req, body, res);
      }
    });
  });
  return new Promise((resolve) => srv.listen(0, "127.0.0.1", () => {
    state.url = `http://127.0.0.1:${srv.address().port}`;
    state.close = () => new Promise((r) => { state.held.forEach((h) => h.destroy()); srv.closeAllConnections(); srv.close(r); });
    resolve(state);
  }));
}

before(async () => {
  server = await startServer();
  browsers.Chromium = await launchBrowser();
  browsers.Firefox = await launchFirefox();
  proxy = await startProxy(server.url);
});

after(async () => {
  await proxy?.close();
  await browsers.Chromium?.close();
  await browsers.Firefox?.close();
  await server?.stop();
});

/** A consented shopper on the demo home page, served through the proxy. */
async function shopper(context) {
  const page = await context.newPage();
  await page.goto(`${proxy.url}/demo/`);
  await page.waitForFunction(() => window.dangol && window.dangol.ready);
  await page.evaluate(() => window.dangol.consent.grant());
  const anon = await eventually(() => page.evaluate(() => localStorage.getItem("dangol:demo:id")), 5000, "the id");
  // Everything the first page view made is delivered before the faults.
  await eventually(async () => (await server.events(anon)).some((e) => e.type === "page_view"), 10000, "the first page view");
  return { page, anon };
}

async function track(page, name, n) {
  for (let i = 0; i < n; i++) {
    await page.evaluate(([name]) => window.dangol.track(name, {}), [name]);
  }
}

/** Waits until the server holds `sent` events of `type`, then checks no more came. */
async function exactlyOnce(anon, type, sent) {
  const stored = await eventually(async () => {
    const mine = (await server.events(anon)).filter((e) => e.type === type);
    return mine.length >= sent ? mine : null;
  }, 45000, `${sent} ${type} events on the server`);
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await server.events(anon)).filter((e) => e.type === type);
  const ids = new Set(again.map((e) => e.id));
  console.log(`${type}: sent ${sent}, stored ${again.length} (${ids.size} distinct ids)`);
  assert.equal(again.length, sent, "every event stored exactly once");
  assert.equal(ids.size, sent);
  return stored;
}

for (const engine of ["Chromium", "Firefox"]) {
  for (const [mode, type] of [["down", "fault_down"], ["500", "fault_500"], ["429", "fault_429"], ["reset", "fault_reset"]]) {
    test(`${engine}, server ${mode === "down" ? "down" : mode === "reset" ? "resetting connections mid-request" : `answering ${mode}`}: every event arrives exactly once after recovery`, async () => {
      const context = await newContext(browsers[engine]);
      const { page, anon } = await shopper(context);
      proxy.mode = mode;
      const before = proxy.seen;
      await track(page, type, 12);
      await eventually(() => proxy.seen > before, 10000, "a failed attempt");
      await pause(1500);
      proxy.mode = "pass";
      await exactlyOnce(anon, type, 12);
      await eventually(() => page.evaluate(async () => (await window.dangol.export()).unsent_events.length === 0), 10000, "an empty outbox");
      await context.close();
    });
  }

  test(`${engine}: responses slower than the timeout: the retry is harmless, every event is stored once`, async () => {
    const context = await newContext(browsers[engine]);
    const { page, anon } = await shopper(context);
    proxy.mode = "slow";
    await track(page, "fault_slow", 5);
    await pause(9000);
    proxy.mode = "pass";
    await exactlyOnce(anon, "fault_slow", 5);
    await context.close();
  });

  test(`${engine}: a tab closed mid-flush: the next page adopts its outbox and sends it once`, async () => {
    const context = await newContext(browsers[engine]);
    const { page, anon } = await shopper(context);
    proxy.mode = "hold";
    await track(page, "fault_closed", 8);
    await eventually(() => proxy.held.length > 0, 10000, "a held request");
    await page.close();
    proxy.mode = "pass";
    const next = await context.newPage();
    await next.goto(`${proxy.url}/demo/category.html`);
    await exactlyOnce(anon, "fault_closed", 8);
    await context.close();
  });

  test(`${engine}: two tabs flushing at once: each event once`, async () => {
    const context = await newContext(browsers[engine]);
    const { page: a, anon } = await shopper(context);
    const b = await context.newPage();
    await b.goto(`${proxy.url}/demo/category.html`);
    await b.waitForFunction(() => window.dangol && window.dangol.ready);
    await Promise.all([track(a, "fault_tabs", 10), track(b, "fault_tabs", 10)]);
    await exactlyOnce(anon, "fault_tabs", 20);
    await context.close();
  });
}

// Offline mode is a Chromium driver feature (playwright-core).
test("Chromium: offline then online: events wait and go once", async () => {
  const context = await newContext(browsers.Chromium);
  const { page, anon } = await shopper(context);
  const before = proxy.seen;
  await context.setOffline(true);
  await track(page, "fault_offline", 6);
  await pause(1500);
  assert.equal(proxy.seen, before, "nothing is attempted while offline");
  const offline = await page.evaluate(async () => {
    const e = await window.dangol.export();
    return {
      waiting: e.unsent_events.filter((e) => e.type === "fault_offline").length,
      profile: e.profile,
      stored: localStorage.getItem("dangol:demo:profile"),
    };
  });
  assert.equal(offline.waiting, 6, "the events wait in the outbox");
  // The second module cannot load offline: the export leaves nothing out,
  // the profile given as storage keeps it.
  assert.equal(typeof offline.profile, "string");
  assert.equal(offline.profile, offline.stored);
  await context.setOffline(false);
  await exactlyOnce(anon, "fault_offline", 6);
  await context.close();
});

for (const engine of ["Chromium", "Firefox"]) {
  test(`${engine}: a reload with unsent events resumes them`, async () => {
    const context = await newContext(browsers[engine]);
    const { page, anon } = await shopper(context);
    proxy.mode = "500";
    await track(page, "fault_reload", 4);
    await pause(500);
    await page.reload();
    proxy.mode = "pass";
    await exactlyOnce(anon, "fault_reload", 4);
    await context.close();
  });
}
