// Offers as shoppers with assistive technology meet them: axe-core's WCAG 2
// A and AA rules on storefront pages showing every content type (the
// recommendations row too, its cards in), inline and
// as each overlay, in English and Korean and in every built-in theme, with
// the "why this offer?" explanation open; in Chromium and in Firefox.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, launchFirefox, eventually, newContext, pause } from "./harness.mjs";
import { inContext, openServed } from "./scenarios.mjs";

let server;
const browsers = {};

before(async () => {
  server = await startServer();
  browsers.Chromium = await launchBrowser();
  browsers.Firefox = await launchFirefox();
  // Orders of the demo catalog's items, so the recommendations row has
  // cards (its model built from them).
  const lines = [];
  for (let c = 0; c < 4; c++) {
    for (const item of ["knit-01", "boot-01", "scarf-01", "knit-02"]) {
      lines.push(JSON.stringify({ customer_id: `a11y-${c}`, order_id: `a11y-${c}-${item}`, time: Date.now() - 86_400_000, value: 59000, item_id: item }));
    }
  }
  const headers = { authorization: `Bearer ${server.token}`, "content-type": "application/x-ndjson" };
  const imported = await fetch(`${server.url}/v1/admin/sites/demo/orders`, { method: "POST", headers, body: lines.join("\n") });
  assert.equal(imported.status, 200, await imported.text());
  const built = await fetch(`${server.url}/v1/admin/sites/demo/recs`, { method: "POST", headers });
  assert.equal(built.status, 200, await built.text());
});

after(async () => {
  await browsers.Chromium?.close();
  await browsers.Firefox?.close();
  await server?.stop();
});

const AXE = new URL("../../node_modules/axe-core/axe.min.js", import.meta.url).pathname;

function pageHtml(lang) {
  return `<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><title>a11y</title>
<script async src="/dangol.js" data-site="demo"></script></head>
<body><main><h1>Shop</h1>
<div data-dangol-slot="s1" style="min-height:140px"></div>
<div data-dangol-slot="s2" style="min-height:140px"></div>
<div data-dangol-slot="s3" style="min-height:140px"></div>
<div data-dangol-slot="s4" style="min-height:140px"></div>
<div data-dangol-slot="s5" style="min-height:360px"></div>
</main></body></html>`;
}

function banner(id, placement, theme) {
  return {
    id, placements: [placement], condition: {},
    variants: [{ id: "a", content: { type: "banner", theme, headline: `Offer ${id}`, body: "Warm knits for the cold days ahead", cta: { text: "Shop knits", url: "/demo/category.html" } } }],
  };
}

function configFor(theme) {
  return {
    schema: 1, site: "demo", version: 901, currency: "KRW",
    tiers: [{ id: "silver", name: "Silver", points: 0 }, { id: "gold", name: "Gold", points: 2000, perks: "Free shipping" }],
    placements: [
      { id: "pop", kind: "modal", trigger: { type: "page_load" } },
      { id: "corner", kind: "toast", trigger: { type: "page_load" } },
      { id: "strip", kind: "bar" },
    ],
    campaigns: [
      banner("inline", "s1", theme),
      {
        id: "c", placements: ["s2"], condition: {}, coupon: { budget: 5, valid_days: 7, prefix: "T" },
        variants: [{ id: "a", content: { type: "coupon", headline: "For you", value: "10% off", reveal: "Show my code", terms: "Once per order" } }],
      },
      { id: "l", placements: ["s3"], condition: {}, variants: [{ id: "a", content: { type: "loyalty_prompt", headline: "Nearly Gold" } }] },
      { id: "f", placements: ["s4"], condition: {}, variants: [{ id: "a", content: { type: "feedback_question", question: "How was it?", scale: "nps" } }] },
      { id: "r", placements: ["s5"], condition: {}, variants: [{ id: "a", content: { type: "recommendations", headline: "You might also like", count: 3 } }] },
      { ...banner("modal", "pop", theme), priority: 3 },
      { ...banner("toast", "corner", theme), priority: 2 },
      { ...banner("bar", "strip", theme), priority: 1 },
    ],
  };
}

for (const engine of ["Chromium", "Firefox"]) {
  for (const lang of ["en", "ko"]) {
    for (const theme of ["light", "dark", "accent"]) {
      test(`${engine}: every content type, inline and as modal, toast and bar, passes axe (${lang}, ${theme} theme)`, async () => {
        const context = await newContext(browsers[engine]);
        await inContext(context, async () => {
          const { page, problems } = await openServed(server, context, {
            html: pageHtml(lang),
            cfg: configFor(theme),
            init: () => window.addEventListener("dangol:loaded", () => window.dangol.set({ points: 1200 })),
          });
          for (const slot of ["s1", "s2", "s3", "s4", "s5"]) {
            await eventually(() => page.evaluate((s) => !!document.querySelector(`[data-dangol-slot="${s}"][data-dangol-rendered]`), slot), 10000, `slot ${slot}`);
          }
          // The recommendations row, with its cards in.
          await eventually(() => page.evaluate(() => !!document.querySelector('[data-dangol-slot="s5"]').shadowRoot
            ?.querySelector(".recs:not([aria-busy]) .card[data-item]")), 10000, "the recommendation cards");
          // Only one overlay opens at a time (pressure); open each in turn.
          const seen = [];
          for (let round = 0; round < 3; round++) {
            const id = await eventually(() => page.evaluate(() => document.querySelector("[data-dangol-overlay]")?.getAttribute("data-dangol-overlay")), 5000, "an overlay")
              .catch(() => null);
            if (!id || seen.includes(id)) break;
            seen.push(id);
            // The explanation, opened on the inline banner, is checked too.
            await page.evaluate(() => document.querySelector('[data-dangol-slot="s1"]').shadowRoot.querySelector(".why")?.click());
            await page.addScriptTag({ path: AXE });
            // Overlays fade in (0.2 s): contrast is checked on what stays, not
            // on a frame of the entrance.
            await page.evaluate(() => Promise.all([...document.querySelectorAll("[data-dangol-overlay]")]
              .flatMap((host) => (host.shadowRoot?.getAnimations() ?? []).map((a) => a.finished))));
            const violations = await page.evaluate(async () => {
              const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa"], resultTypes: ["violations"] });
              return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
            });
            assert.deepEqual(violations, [], `${engine}, ${lang}, ${theme}, with the ${id} overlay open`);
            await page.evaluate((sel) => {
              const host = document.querySelector(`[data-dangol-overlay="${sel}"]`);
              host?.shadowRoot?.querySelector(".close")?.click();
            }, id);
            await pause(100);
          }
          assert.deepEqual(seen.sort(), ["corner", "pop", "strip"], "each overlay kind was checked");
          assert.deepEqual(problems.errors, []);
        }, server);
      });
    }
  }
}
