// The session's deployments in a second engine: Firefox (Debian's ESR),
// driven over WebDriver BiDi, through the same scenarios `session.test.mjs`
// runs in Chromium (see `scenarios.mjs`).
import { test, before, after } from "node:test";
import { startServer, launchFirefox } from "./harness.mjs";
import { crossOrigin, forgetStopsEveryTab, inContext, noPageUrl } from "./scenarios.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchFirefox();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** `scenario` in a fresh Firefox browsing context. */
const inFirefox = async (scenario) => inContext(await browser.createBrowserContext(), scenario, server);

test("Firefox, cross-origin: a shop page on another origin gets offers, revalidates with 304, and sees a published change and a rollback", () =>
  inFirefox(crossOrigin));

test("Firefox: forget() in one tab stops every open tab at once, and nothing sent late brings data back", () =>
  inFirefox(forgetStopsEveryTab));

test("Firefox: widget requests send no page URL", () => inFirefox(noPageUrl));
