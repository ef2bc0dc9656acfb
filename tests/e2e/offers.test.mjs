// Offers on the page: every content type and placement, every trigger,
// keyboard use, single-page apps, a strict CSP, hostile configs, the
// exposure rule and the page's API. Pages and configs are served through
// request interception on the real server's origin.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, watchedPage, eventually, shotPath, compactConfig, shadowText } from "./harness.mjs";
import { bannerCampaign as banner, inContext, koreanPage, overlaysByKeyboard } from "./scenarios.mjs";

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

const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'";

/** A test page: a top and a bottom slot (far below the fold) and a button. */
function pageHtml({ lang = "en", extraHead = "", body = "", strict = false } = {}) {
  // A page under a strict CSP cannot use style attributes either.
  const h = strict ? "" : ' style="min-height:140px"';
  const filler = strict ? "" : '<div style="height:2400px"></div>';
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>offers</title>
${extraHead}<script async src="/dangol.js" data-site="demo"></script></head>
<body><button id="shop-button">Shop button</button>
<div data-dangol-slot="top"${h}><p class="fallback">Shop's own top</p></div>
<div data-dangol-slot="second"${h}><p class="fallback">Shop's own second</p></div>
<div data-dangol-slot="third"${h}><p class="fallback">Shop's own third</p></div>
<div data-dangol-slot="fourth"${h}><p class="fallback">Shop's own fourth</p></div>
${filler}
<div data-dangol-slot="bottom"${h}><p class="fallback">Shop's own bottom</p></div>
${body}</body></html>`;
}

function config(campaigns, extra = {}) {
  return { schema: 1, site: "demo", version: 900, campaigns, ...extra };
}

/** Opens `path` on the server's origin with our HTML and config. */
async function open(browserCtx, { html = pageHtml(), cfg, csp, init, arg } = {}) {
  const w = await watchedPage(browserCtx, init, arg);
  await w.page.route(`${server.url}/e2e/offers.html`, (route) => route.fulfill({
    status: 200,
    headers: { "content-type": "text/html; charset=utf-8", ...(csp ? { "content-security-policy": csp } : {}) },
    body: html,
  }));
  if (cfg) {
    const body = compactConfig(cfg);
    await w.page.route("**/v1/sites/demo/config/compact", (route) =>
      route.fulfill({ status: 200, contentType: "text/plain", body }));
  }
  await w.page.goto(`${server.url}/e2e/offers.html`);
  await w.page.waitForFunction(() => window.dangol && window.dangol.ready === true);
  return w;
}

test("modal, toast and bar open as overlays; the modal traps focus, Esc closes it and gives focus back", async () =>
  inContext(await browser.newContext(), overlaysByKeyboard, server));

test("a banner the loader draws in a slot is built like the same banner the second module draws in an overlay", async () => {
  // The same personal banner (a condition on the shopper's cart, so it
  // gets "Why this offer?") in a slot and as a bar.
  const content = { body: "Two sizes left", image: "/demo/img/knit.svg", theme: "dark" };
  const cond = { "cart.items": { $gte: 1 } };
  const cfg = config([
    banner("s", "top", "Your cart is waiting", { condition: cond, content }),
    banner("o", "strip", "Your cart is waiting", { condition: cond, content }),
  ], { placements: [{ id: "strip", kind: "bar" }] });
  const { context, page, log } = await open(browser, {
    cfg,
    init: () => window.addEventListener("dangol:loaded", () => {
      window.dangol.consent.grant();
      window.dangol.track("add_to_cart", { items: [{ item_id: "knit-01", item_category: "knit", price: 59000 }] });
      window.dangol.refresh();
    }),
  });
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="s"]');
  await page.waitForSelector('[data-dangol-overlay="strip"]', { state: "attached" });
  // The slot's "Why this offer?" gets its words when first opened (the
  // overlay's came with it): open and close it once.
  const why = () => page.evaluate(() => document.querySelector('[data-dangol-slot="top"]').shadowRoot.querySelector(".why").click());
  await why();
  await eventually(() => shadowText(page, '[data-dangol-slot="top"]', ".explain-text"), 5000, "the words");
  await why();
  // Each element's tag, attributes (links and images by name only) and own
  // text, in order; the overlay's own close button is not the banner's.
  const shapes = await page.evaluate(() => {
    const shape = (el) => ({
      tag: el.tagName,
      attrs: [...el.attributes].map((a) => a.name + (a.name === "src" || a.name === "href" ? "" : "=" + a.value)).sort(),
      text: el.children.length ? "" : el.textContent,
      children: [...el.children].filter((c) => !c.classList.contains("close")).map(shape),
    });
    const of = (host) => {
      const root = document.querySelector(host).shadowRoot;
      return { banner: shape(root.querySelector(".banner")), explain: shape(root.querySelector(".explain")) };
    };
    return { slot: of('[data-dangol-slot="top"]'), overlay: of('[data-dangol-overlay="strip"]') };
  });
  assert.equal(shapes.slot.banner.children.length, 4, "image, text, call to action, why");
  assert.deepEqual(shapes.slot, shapes.overlay);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("each trigger opens its overlay only on its own signal", async () => {
  const triggers = [
    ["exit", { type: "exit_intent" }, (p) => p.evaluate(() => document.dispatchEvent(new MouseEvent("mouseout", { clientY: -2, relatedTarget: null, bubbles: true })))],
    ["dwell", { type: "dwell", seconds: 1 }, (p) => p.waitForTimeout(1500)],
    ["scroll", { type: "scroll", percent: 60 }, (p) => p.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight))],
    ["idle", { type: "inactivity", seconds: 1 }, (p) => p.waitForTimeout(1500)],
  ];
  for (const [id, trigger, fire] of triggers) {
    const cfg = config([banner(id, "spot", "Offer " + id)], { placements: [{ id: "spot", kind: "toast", trigger }] });
    const { context, page } = await open(browser, { cfg });
    // Keep the shopper "active" and at the top: nothing fires by itself.
    for (let i = 0; i < 4; i++) { await page.mouse.move(10 + i, 10); await page.waitForTimeout(150); }
    if (id !== "dwell" && id !== "idle") {
      assert.equal(await page.evaluate(() => !!document.querySelector("[data-dangol-overlay]")), false, `${id} opened early`);
    }
    await fire(page);
    await page.waitForSelector('[data-dangol-overlay="spot"]', { state: "attached", timeout: 5000 });
    assert.equal(await shadowText(page, '[data-dangol-overlay="spot"]', ".headline"), "Offer " + id);
    await context.close();
  }
});

test("the nth page view and a returning shopper with a cart open their overlays", async () => {
  const cfg = config([
    banner("second", "nth", "Your second page"),
    { ...banner("back", "cartbar", "Welcome back, your cart is worth {{cart.value}}"), condition: { "cart.items": { $gt: 0 } } },
  ], {
    currency: "KRW",
    placements: [
      { id: "nth", kind: "toast", trigger: { type: "nth_page_view", n: 2 } },
      { id: "cartbar", kind: "bar", trigger: { type: "returning_with_cart" } },
    ],
  });
  const { context, page } = await open(browser, { cfg });
  await page.evaluate(() => window.dangol.consent.grant());
  await page.evaluate(() => window.dangol.track("add_to_cart", { items: [{ item_id: "knit-01", item_category: "knit", price: 59000 }] }));
  assert.equal(await page.evaluate(() => !!document.querySelector('[data-dangol-overlay="nth"]')), false);
  await page.reload();
  await page.waitForSelector('[data-dangol-overlay="nth"]', { state: "attached", timeout: 5000 });
  // Same session: no "returning" bar.
  assert.equal(await page.evaluate(() => !!document.querySelector('[data-dangol-overlay="cartbar"]')), false);
  // Two hours later (the stored profile says so), a new session starts with
  // the cart still full. The widget is stopped first so it cannot save over
  // the edit, which is stored as JSON, as an earlier widget stored it: the
  // widget upgrades it before it decides.
  const exported = await page.evaluate(async () => {
    const p = (await window.dangol.export()).profile;
    window.dangol.destroy();
    return p;
  });
  await page.waitForTimeout(100);
  await page.evaluate((p) => {
    const shift = 2 * 3600 * 1000;
    p.last -= shift; p.ss -= shift; p.first -= shift; p.cart_ms -= shift;
    localStorage.setItem("dangol:demo:profile", JSON.stringify(p));
  }, exported);
  await page.reload();
  await page.waitForSelector('[data-dangol-overlay="cartbar"]', { state: "attached", timeout: 5000 });
  assert.equal(await shadowText(page, '[data-dangol-overlay="cartbar"]', ".headline"), "Welcome back, your cart is worth ₩59,000");
  assert.equal(await page.evaluate(() => !!document.querySelector('[data-dangol-overlay="nth"]')), false, "the first page of the new session is not the second");
  await context.close();
});

test("a profile an earlier widget stored as JSON is upgraded before the first decision: its dismissals hold, nothing is lost", async () => {
  const cfg = config([
    banner("dismissed", "top", "Dismissed an hour ago", { priority: 9, caps: { dismiss_cooldown_hours: 24 } }),
    banner("other", "top", "The next offer", { priority: 1 }),
  ]);
  const now = Date.now();
  const HOUR = 3_600_000;
  // What an earlier widget left: the choice, the id, and the profile as
  // JSON, with nine visits and the top offer dismissed an hour ago.
  const earlier = {
    v: 1, first: now - 900 * HOUR, last: now - HOUR, ss: now - HOUR, visits: 9, sessions: 6,
    hours: Array(24).fill(0), orders: 1, revenue: 59000, tx: ["t-9"], cat: [["knit", 3, now - HOUR]], brand: [], items: [],
    price: [0, 0], cart: [["knit-01", 59000, 1]], cart_ms: now - HOUR, eng: 0, sv: 1, bought: false, stage: "active",
    ledger: [{ c: "dismissed", v: "a", s: [now - 2 * HOUR], n: 1, d: now - HOUR, f: [now - 2 * HOUR, 0, 0], t: now - HOUR }],
  };
  const { context, page, log } = await open(browser, {
    cfg,
    init: (p) => {
      localStorage.setItem("dangol:demo:consent", "p=granted;m=granted");
      localStorage.setItem("dangol:demo:id", "0123456789abcdef0123");
      localStorage.setItem("dangol:demo:key", "fedcba9876543210fedc");
      localStorage.setItem("dangol:demo:profile", JSON.stringify(p));
    },
    arg: earlier,
  });
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered]');
  assert.equal(await page.evaluate(() => document.querySelector('[data-dangol-slot="top"]').dataset.dangolRendered), "other",
    "the dismissed offer stays away: the first decision waited for the upgrade");
  const decided = await page.evaluate(() => window.dangol.decisions().find((d) => d.placement === "top"));
  assert.equal(decided.chosen.campaign_id, "other");
  const { profile, stored } = await page.evaluate(async () => ({
    profile: (await window.dangol.export()).profile,
    stored: localStorage.getItem("dangol:demo:profile"),
  }));
  assert.equal(profile.visits, 10, "nine earlier visits and this one");
  assert.equal(profile.orders, 1);
  assert.deepEqual(profile.tx, ["t-9"]);
  assert.equal(profile.cart[0][0], "knit-01");
  assert.equal(profile.ledger.find((e) => e.c === "dismissed").d, now - HOUR);
  assert.match(stored, /^[A-Za-z0-9+/]+=*$/, "rewritten in the compact stored form");
  assert.ok(log.requests.some((r) => r.url.includes("/pkg/rare/")), "the third module upgraded it");
  assert.ok(!log.requests.some((r) => r.url.includes("/pkg/more/")), "a page of banners needs no second module for it");
  assert.deepEqual(log.errors, []);
  assert.deepEqual(log.warnings, []);
  await context.close();
});

test("single-page apps: a slot added later gets its offer, a route change keeps the offer on screen", async () => {
  const cfg = config([banner("late", "later", "A late slot's offer"), banner("stay", "top", "Stays put")]);
  const { context, page } = await open(browser, { cfg });
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="stay"]');
  await page.evaluate(() => {
    const d = document.createElement("div");
    d.setAttribute("data-dangol-slot", "later");
    d.style.minHeight = "100px";
    d.textContent = "fallback";
    document.body.prepend(d);
  });
  await page.waitForSelector('[data-dangol-slot="later"][data-dangol-rendered="late"]', { timeout: 3000 });
  await page.evaluate(() => history.pushState({}, "", "/e2e/offers.html?route=2"));
  await page.waitForTimeout(300);
  assert.equal(await shadowText(page, '[data-dangol-slot="top"]', ".headline"), "Stays put");
  const decisions = await page.evaluate(() => window.dangol.decisions());
  assert.ok(Array.isArray(decisions));
  await context.close();
});

test("a strict Content-Security-Policy page shows styled offers and overlays with no violation", async () => {
  const cfg = config([banner("csp", "top", "Under a strict CSP"), banner("csp-modal", "pop", "Modal under CSP")], {
    placements: [{ id: "pop", kind: "modal", trigger: { type: "page_load" } }],
  });
  const html = pageHtml({ strict: true });
  const { context, page, log } = await open(browser, {
    cfg, html, csp: STRICT_CSP,
    init: () => {
      window.__violations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));
    },
  });
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="csp"]');
  await page.waitForSelector('[data-dangol-overlay="pop"]', { state: "attached" });
  const styled = await page.evaluate(() => {
    const root = document.querySelector('[data-dangol-slot="top"]').shadowRoot;
    const modal = document.querySelector('[data-dangol-overlay="pop"]').shadowRoot.querySelector(".overlay");
    return { display: getComputedStyle(root.querySelector(".banner")).display, position: getComputedStyle(modal).position };
  });
  assert.deepEqual(styled, { display: "flex", position: "fixed" });
  await page.screenshot({ path: shotPath("offers-strict-csp.png") });
  assert.deepEqual(await page.evaluate(() => window.__violations), []);
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("hostile config: markup, script URLs and token tricks render inert", async () => {
  const evil = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";
  const cfg = config([
    {
      id: "evil-text", placements: ["top"], condition: {},
      variants: [{ id: "a", content: { type: "banner", headline: evil, body: "{{declared.html}} {{ {{declared.name}} }} {{constructor.constructor}} {{", cta: { text: evil, url: "/ok" } } }],
    },
    {
      id: "evil-coupon", placements: ["bottom"], condition: {}, coupon: { budget: 1, valid_days: 1, prefix: "X" },
      variants: [{ id: "a", content: { type: "coupon", headline: evil, value: evil, body: evil, reveal: evil, terms: evil } }],
    },
    { id: "evil-q", placements: ["pop"], condition: {}, variants: [{ id: "a", content: { type: "feedback_question", question: evil, scale: "choice", choices: [evil, "{{declared.html}}"] } }] },
  ], { placements: [{ id: "pop", kind: "modal", trigger: { type: "page_load" } }] });
  // Script and data URLs never reach a page: publishing refuses those
  // campaigns by name (and the widget refuses a compact config forged to
  // carry one, see thin_path).
  const links = config([
    banner("js-link", "second", "bad link", { content: { cta: { text: "x", url: "javascript:window.__pwned=3" } } }),
    banner("data-link", "third", "bad link", { content: { cta: { text: "x", url: "data:text/html,<script>window.__pwned=4</script>" } } }),
    banner("data-image", "fourth", "bad image", { content: { image: "data:image/svg+xml,<svg onload=window.__pwned=5>" } }),
  ]);
  assert.throws(() => compactConfig(links), (e) => ["js-link", "data-link", "data-image"].every((id) => e.stderr.toString().includes(`campaign \`${id}\``)));
  const { context, page, log } = await open(browser, {
    cfg,
    init: () => window.addEventListener("dangol:loaded", () => {
      window.dangol.consent.grant();
      window.dangol.set({ html: "<b onclick=x>bold</b>", name: "{{declared.html}}" });
    }),
  });
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="evil-text"]');
  await page.waitForSelector('[data-dangol-overlay="pop"]', { state: "attached" });
  await page.waitForTimeout(500);
  assert.equal(await shadowText(page, '[data-dangol-slot="top"]', ".headline"), evil);
  // Declared text is inserted once, as text; a token inside a value is not expanded.
  assert.equal(await shadowText(page, '[data-dangol-slot="top"]', ".body"), "<b onclick=x>bold</b>  }}  {{");
  // No element came from the config's text anywhere on the page.
  const injected = await page.evaluate(() => {
    const roots = [document, ...[...document.querySelectorAll("[data-dangol-rendered],[data-dangol-overlay]")].map((h) => h.shadowRoot)];
    return roots.flatMap((r) => [...r.querySelectorAll("img,script:not([src]),b,svg,iframe")].map((e) => e.outerHTML));
  });
  assert.deepEqual(injected, []);
  const hrefs = await page.evaluate(() => [...document.querySelectorAll("[data-dangol-rendered],[data-dangol-overlay]")]
    .flatMap((h) => [...h.shadowRoot.querySelectorAll("a")].map((a) => a.getAttribute("href"))));
  assert.ok(hrefs.every((h) => h === "/ok"), JSON.stringify(hrefs));
  await page.evaluate(() => document.querySelector('[data-dangol-overlay="pop"]').shadowRoot.querySelectorAll(".answer").forEach((b) => b.focus()));
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await page.screenshot({ path: shotPath("offers-hostile-config.png") });
  assert.deepEqual(log.errors, []);
  await context.close();
});

test("an exposure counts only once the offer was half visible for a second", async () => {
  const cfg = config([banner("above", "top", "Above the fold"), banner("below", "bottom", "Below the fold")]);
  const { context, page } = await open(browser, {
    cfg,
    init: () => window.addEventListener("dangol:loaded", () => {
      window.__exposed = [];
      window.dangol.on("exposure", (d) => window.__exposed.push(d.campaign));
    }),
  });
  await page.waitForSelector('[data-dangol-slot="bottom"][data-dangol-rendered="below"]');
  await page.waitForTimeout(500);
  assert.deepEqual(await page.evaluate(() => window.__exposed), [], "nothing is seen in half a second");
  await page.waitForTimeout(900);
  assert.deepEqual(await page.evaluate(() => window.__exposed), ["above"]);
  // A glance at the bottom shorter than a second does not count.
  await page.evaluate(() => document.querySelector('[data-dangol-slot="bottom"]').scrollIntoView());
  await page.waitForTimeout(400);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(1200);
  assert.deepEqual(await page.evaluate(() => window.__exposed), ["above"]);
  await page.evaluate(() => document.querySelector('[data-dangol-slot="bottom"]').scrollIntoView());
  await eventually(() => page.evaluate(() => window.__exposed.includes("below")), 3000, "the bottom offer's exposure");
  await context.close();
});

test("clicks, claims and an attributed purchase are events; on('decision') replays; refresh, destroy and a new start", async () => {
  const cfg = config([
    banner("hero", "top", "Hero offer"),
    {
      // The server issues codes for the campaigns it published: the demo's.
      id: "cart-coupon", placements: ["second"], condition: {}, coupon: { budget: 1000, valid_days: 14, prefix: "DANGOL" },
      variants: [{ id: "a", content: { type: "coupon", headline: "Deal", value: "₩5,000 off", reveal: "Show my code" } }],
    },
  ], { attribution_hours: 24 });
  const { context, page, log, dangolWarnings } = await open(browser, { cfg });
  await page.evaluate(() => window.dangol.consent.grant());
  const anon = await page.evaluate(() => localStorage.getItem("dangol:demo:id"));
  const heard = await page.evaluate(() => new Promise((resolve) => {
    const got = [];
    // A callback that throws is reported once, by its event's name, and
    // keeps neither the next callback nor the page from running.
    window.dangol.on("decision", () => { throw new Error("the shop's bug"); });
    window.dangol.on("decision", (d) => got.push(d.placement));
    setTimeout(() => resolve(got), 50);
  }));
  assert.ok(heard.includes("top") && heard.includes("second"), JSON.stringify(heard));
  const threw = dangolWarnings().filter((w) => w.includes("callback threw"));
  assert.deepEqual(threw, ['dangol: a dangol.on("decision") callback threw (the shop\'s bug); the widget carries on']);
  assert.deepEqual(log.errors, []);
  await page.evaluate(() => {
    window.__claims = [];
    window.dangol.on("claim", (d) => window.__claims.push(d.campaign));
  });
  // Wait for the hero's exposure, then claim the coupon and buy.
  await eventually(async () => (await server.events(anon)).some((e) => e.type === "exposure" && e.campaign === "hero"), 5000, "the hero exposure");
  await page.evaluate(() => document.querySelector('[data-dangol-slot="second"]').shadowRoot.querySelector(".reveal").click());
  await eventually(() => page.evaluate(() => window.__claims.includes("cart-coupon")), 5000, "the claim callback");
  assert.match(await shadowText(page, '[data-dangol-slot="second"]', ".code"), /^DANGOL/);
  await page.evaluate(() => window.dangol.track("purchase", { transaction_id: "T-900", value: 64000, items: [{ item_id: "knit-01", price: 64000 }] }));
  const events = await eventually(async () => {
    const e = await server.events(anon);
    return e.some((x) => x.type === "conversion") && e.some((x) => x.type === "claim") ? e : null;
  }, 10000, "claim and conversion events");
  const conversion = events.find((x) => x.type === "conversion");
  assert.equal(conversion.price, 64000);
  assert.ok(["hero", "cart-coupon"].includes(conversion.campaign), JSON.stringify(conversion));
  // refresh() decides again; destroy() takes everything off the page.
  await page.evaluate(() => window.dangol.refresh());
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="hero"]');
  const pushState = await page.evaluate(() => history.pushState.toString());
  assert.ok(!pushState.includes("[native code]"), "the loader wraps pushState");
  await page.evaluate(() => window.dangol.destroy());
  await page.waitForTimeout(100);
  const after = await page.evaluate(() => ({
    rendered: document.querySelectorAll("[data-dangol-rendered],[data-dangol-overlay]").length,
    shadow: document.querySelector('[data-dangol-slot="top"]').shadowRoot.querySelector(".banner") !== null,
    api: typeof window.dangol,
    pushState: history.pushState.toString().includes("[native code]"),
  }));
  assert.deepEqual(after, { rendered: 0, shadow: false, api: "undefined", pushState: true });
  // A new script tag starts the widget again on the same page (the same
  // wasm instance): it decides and renders as the first did.
  await page.evaluate(() => {
    const s = document.createElement("script");
    s.src = "/dangol.js";
    s.setAttribute("data-site", "demo");
    document.head.append(s);
  });
  await page.waitForFunction(() => window.dangol && window.dangol.ready === true);
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="hero"]');
  assert.equal(await page.evaluate(() => window.dangol.consent.status()), "granted");
  await context.close();
});

test("a newer config the server sends after the page decided waits for the next page, and refresh() takes it at once", async () => {
  const first = config([banner("old", "top", "The stored offer")]);
  const newer = config([banner("new", "top", "The published offer")], { version: 901 });
  const { context, page, log } = await open(browser, {
    cfg: first,
    init: () => window.addEventListener("dangol:loaded", () => window.dangol.consent.grant()),
  });
  const stored = () => page.evaluate(() => localStorage.getItem("dangol:demo:config") || "");
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="old"]');
  const before = await eventually(stored, 5000, "the config stored");
  // The server publishes; the returning shopper's page decides with the
  // stored config at once and gets the newer one from the server.
  const body = compactConfig(newer);
  await page.unroute("**/v1/sites/demo/config/compact");
  await page.route("**/v1/sites/demo/config/compact", (route) =>
    route.fulfill({ status: 200, contentType: "text/plain", body }));
  await page.reload();
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="old"]');
  assert.ok(!before.includes(body));
  await eventually(async () => (await stored()).includes(body), 5000, "the newer config stored");
  assert.equal(await page.getAttribute('[data-dangol-slot="top"]', "data-dangol-rendered"), "old", "a shown offer never swaps by itself");
  await page.evaluate(() => window.dangol.refresh());
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="new"]');
  assert.match(await shadowText(page, '[data-dangol-slot="top"]', ".headline"), /The published offer/);
  // A second refresh keeps it.
  await page.evaluate(() => window.dangol.refresh());
  await page.waitForSelector('[data-dangol-slot="top"][data-dangol-rendered="new"]');
  assert.deepEqual(log.errors, []);
  assert.deepEqual(log.warnings.filter((w) => w.startsWith("dangol:")), []);
  await context.close();
});

test("a Korean page gets the widget's words in Korean and amounts in won", async () =>
  inContext(await browser.newContext(), koreanPage, server));

test("offers render into the space the demo reserved: no layout shift on a phone or a desktop, even when the wasm is slow", async () => {
  for (const viewport of [{ width: 1280, height: 720 }, { width: 412, height: 823 }, { width: 360, height: 740 }]) {
    const context = await browser.newContext({ viewport });
    await context.addInitScript(() => {
      window.__shifts = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push(e.value);
      }).observe({ type: "layout-shift", buffered: true });
    });
    const page = await context.newPage();
    // The page paints its own content first; the offers come half a second later.
    await page.route("**/pkg/dangol_bg.pack*", async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    });
    const settled = async (path, slot) => {
      await page.goto(`${server.url}/demo/${path}`);
      await page.waitForSelector(`[data-dangol-slot="${slot}"][data-dangol-rendered]`);
      await page.waitForTimeout(300);
      assert.deepEqual(await page.evaluate(() => window.__shifts), [], `${path} at ${viewport.width}px`);
    };
    // A first visit: the welcome banner, before any consent.
    await settled("", "home-hero");
    // A signed-in member with a full cart gets the tallest offers.
    await page.click("#consent-accept");
    await page.waitForFunction(() => localStorage.getItem("dangol:demo:id"));
    await page.evaluate(() => {
      window.dangol.set({ tier: "silver", points: 1200, name: "Minji" });
      window.dangol.track("add_to_cart", { items: [{ item_id: "knit-01", item_category: "knit", price: 59000 }] });
    });
    await settled("", "home-loyalty");
    await settled("category.html", "category-top");
    await settled("cart.html", "cart-offer");
    await context.close();
  }
});

test("destroy() while the config is still loading: nothing appears afterwards", async () => {
  const cfg = config([banner("late", "top", "Arrived late")]);
  const run = async (destroyEarly) => {
    const { context, page, log } = await watchedPage(browser);
    await page.route(`${server.url}/e2e/offers.html`, (route) => route.fulfill({ status: 200, contentType: "text/html", body: pageHtml() }));
    const body = compactConfig(cfg);
    await page.route("**/v1/sites/demo/config/compact", async (route) => {
      await new Promise((r) => setTimeout(r, 600));
      await route.fulfill({ status: 200, contentType: "text/plain", body });
    });
    await page.goto(`${server.url}/e2e/offers.html`);
    await page.waitForFunction(() => window.dangol && window.dangol.ready === true);
    if (destroyEarly) await page.evaluate(() => window.dangol.destroy());
    await page.waitForTimeout(1500);
    const shown = await page.evaluate(() => document.querySelector('[data-dangol-slot="top"]').getAttribute("data-dangol-rendered"));
    await context.close();
    assert.deepEqual(log.errors, []);
    return shown;
  };
  // Left running, the late config shows its banner.
  assert.equal(await run(false), "late");
  // Destroyed first, the same late config adds nothing to the page.
  assert.equal(await run(true), null);
});
