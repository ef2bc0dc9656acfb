// Test harness: the real dangol-server on a free loopback port with a fresh
// SQLite database, headless Chromium driven by playwright-core, and
// headless Firefox driven by puppeteer-core over WebDriver BiDi.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { createServer as createHttpServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";
import puppeteer from "puppeteer-core";
import { build } from "esbuild";

export const ROOT = process.env.DANGOL_ROOT || new URL("../..", import.meta.url).pathname;
const SERVER_BIN = process.env.DANGOL_SERVER_BIN || join(ROOT, "target/debug/dangol-server");

/**
 * A config (JSON) in the compact form the widget reads, checked as
 * publishing checks it: what `/v1/sites/{site}/config/compact` would serve.
 * Throws with the server's message when the config cannot be published.
 */
export function compactConfig(config) {
  const json = typeof config === "string" ? config : JSON.stringify(config);
  return execFileSync(SERVER_BIN, ["compact"], { input: json, stdio: "pipe", env: { ...process.env, RUST_BACKTRACE: "0" } }).toString().trim();
}

/**
 * Starts dangol-server with the demo seeded; resolves once it listens.
 * `pkg` serves another build directory than the repository's `pkg/`;
 * `env` adds to its environment; `restartOf` (a started server) starts
 * this one on the other's data directory and secrets, as a restart does.
 */
export async function startServer({ pkg = join(ROOT, "pkg"), env = {}, restartOf = null } = {}) {
  const dataDir = restartOf ? restartOf.dataDir : mkdtempSync(join(tmpdir(), "dangol-e2e-"));
  const token = restartOf ? restartOf.token : randomBytes(16).toString("hex");
  const redeemKey = restartOf ? restartOf.redeemKey : randomBytes(16).toString("hex");
  const adminPassword = restartOf ? restartOf.admin.password : randomBytes(12).toString("hex");
  const proc = spawn(
    SERVER_BIN,
    ["--addr", "127.0.0.1:0", "--data-dir", dataDir, "--www", join(ROOT, "www"), "--pkg", pkg, "--seed-demo"],
    { env: { ...process.env, DANGOL_ADMIN_TOKEN: token, DANGOL_REDEEM_KEY: redeemKey, DANGOL_DEMO_ADMIN_PASSWORD: adminPassword, RUST_LOG: "warn", ...env }, stdio: ["ignore", "pipe", "inherit"] },
  );
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("dangol-server did not start within 30 s: " + out)), 30000);
    proc.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`dangol-server exited early (${code}): ${out}`)); });
  });
  return {
    url,
    token,
    dataDir,
    redeemKey,
    /** The demo's admin account. */
    admin: { email: "admin@demo.dangol", password: adminPassword },
    /** Redeems a coupon as the shop's checkout would. */
    async redeem(code) {
      const res = await fetch(`${url}/v1/sites/demo/coupons/redeem`, {
        method: "POST",
        headers: { authorization: `Bearer ${redeemKey}`, "content-type": "application/json" },
        body: JSON.stringify({ code }),
      });
      return { status: res.status, body: await res.json() };
    },
    /** An admin API call with the server's token; throws on an error status. */
    async adminApi(path, init = {}) {
      const res = await fetch(`${url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers || {}) },
      });
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new Error(`${init.method || "GET"} ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
    /** Stored events of the demo site, optionally for one pseudonymous id. */
    async events(anon) {
      const q = anon ? `?anon=${encodeURIComponent(anon)}` : "";
      const res = await fetch(`${url}/v1/sites/demo/events${q}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) throw new Error(`admin events read failed: HTTP ${res.status}`);
      return (await res.json()).events;
    },
    /** Kills the process at once (no clean shutdown); the data stays. */
    async kill() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGKILL");
        await exited;
      }
    },
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A shopper's stored profile (the engine's stored form) as a returning
 * browser left it: first seen 100 days before `now`, last seen a day before,
 * with `fields` set over that.
 */
export function storedProfile(now, fields = {}) {
  const DAY = 86_400_000;
  return {
    v: 1, first: now - 100 * DAY, last: now - DAY, ss: now - DAY, visits: 4, sessions: 2,
    hours: Array(24).fill(0), orders: 0, revenue: 0, tx: [], cat: [], brand: [], items: [],
    price: [0, 0], cart: [], cart_ms: 0, eng: 0, sv: 1, bought: false, stage: "active", ...fields,
  };
}

/** Headless Chromium with the flags this machine needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/**
 * Headless Firefox (Debian's ESR) in a fresh profile, driven by
 * puppeteer-core over WebDriver BiDi: a second engine for what must hold
 * by the standards rather than by one engine's leniency. `prefs` are
 * Firefox preferences for this profile. Closing it also removes the
 * profile.
 */
export async function launchFirefox(prefs = {}) {
  const profile = mkdtempSync(join(tmpdir(), "dangol-firefox-"));
  const browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: process.env.FIREFOX_PATH || "/usr/bin/firefox-esr",
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: prefs,
  });
  const close = browser.close.bind(browser);
  browser.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return browser;
}

/**
 * A shop on an origin of its own (`http://localhost:<port>`, while
 * dangol-server listens on 127.0.0.1), as the README's recommended setup
 * has it: `/demo/` is a page with the home hero slot, an Accept button and
 * dangol's script tag from `serverUrl`.
 */
export async function crossOriginShop(serverUrl) {
  const shop = createHttpServer((req, res) => {
    if (req.url.startsWith("/demo/")) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!doctype html><html lang="en"><head><title>Shop</title></head><body>
        <div data-dangol-slot="home-hero" style="min-height:140px"></div>
        <button id="consent-accept" onclick="dangol.consent.grant()">Accept</button>
        <script async src="${serverUrl}/dangol.js" data-site="demo"></script></body></html>`);
    } else if (req.url === "/favicon.ico") {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => shop.listen(0, "localhost", r));
  return { origin: `http://localhost:${shop.address().port}`, close: () => shop.close() };
}

/** A new page that records console warnings, page errors and requests; `init` (given `arg`) runs before each page's scripts. */
export async function watchedPage(browser, init, arg) {
  const context = await browser.newContext();
  if (init) await context.addInitScript(init, arg);
  const page = await context.newPage();
  const log = { warnings: [], errors: [], requests: [] };
  page.on("console", (m) => { if (m.type() === "warning") log.warnings.push(m.text()); });
  page.on("pageerror", (e) => log.errors.push(String(e)));
  page.on("request", (r) => log.requests.push({ method: r.method(), url: r.url() }));
  return { context, page, log, dangolWarnings: () => log.warnings.filter((w) => w.startsWith("dangol:")) };
}

/** A loopback port with nothing listening on it. */
export async function closedPort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** The shopper's stored id on `page` (either driver), or null. */
export const storedId = (page) => page.evaluate(() => localStorage.getItem("dangol:demo:id"));

/** The widget's localStorage keys on `page` (either driver), sorted. */
export const dangolKeys = (page) =>
  page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("dangol:")).sort());

/** Text of `selector` inside the shadow root of `host` on `page` (either driver), or null. */
export const shadowText = (page, host, selector) =>
  page.evaluate(([h, s]) => document.querySelector(h)?.shadowRoot?.querySelector(s)?.textContent ?? null, [host, selector]);

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually(fn, ms = 10000, what = "condition") {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Resolves after `ms` milliseconds. */
export const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh browser context of `browser`, in either driver. */
export const newContext = (browser) => (browser.newContext ? browser.newContext() : browser.createBrowserContext());

/** Where screenshots go. */
export function shotPath(name) {
  const dir = join(ROOT, "target/e2e");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}

/** A real TCF v2.2 consent manager (tests/e2e/fixtures/tcf-cmp.js), bundled
 * as a script to add to a page before it loads. */
export async function tcfCmpScript() {
  const bundled = await build({
    entryPoints: [join(ROOT, "tests/e2e/fixtures/tcf-cmp.js")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    logLevel: "silent",
  });
  return bundled.outputFiles[0].text;
}
