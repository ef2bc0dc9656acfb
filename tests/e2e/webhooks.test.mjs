// Webhooks through a fault matrix: a real receiver (a Node HTTP server)
// checks every message with `standardwebhooks`, the specification's own
// library, while it is down, answers 500, answers after the sender's
// timeout, resets the connection, and while dangol-server is killed
// mid-delivery and started again on the same data. Every event must arrive
// under one webhook-id, always with the same body, and none may be lost.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createRequire } from "node:module";
import { startServer, eventually } from "./harness.mjs";

const { Webhook } = createRequire(import.meta.url)("standardwebhooks");

// Retries every ~0.3 s (the real schedule spans a day); a 800 ms timeout.
const ENV = {
  DANGOL_WEBHOOK_RETRY_MS: Array(40).fill(300).join(","),
  DANGOL_WEBHOOK_TIMEOUT_MS: "800",
};

let server;
let receiver;
after(async () => {
  await server?.stop();
  receiver?.server.close();
});

/** A receiver on a fixed port whose behaviour `mode` sets. */
async function startReceiver() {
  const r = { mode: "ok", verifier: null, byId: new Map(), bad: [], requests: 0 };
  const handle = (req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => {
      r.requests++;
      if (r.mode === "reset") { req.socket.destroy(); return; }
      let payload;
      try {
        payload = r.verifier.verify(body, req.headers);
      } catch (e) {
        r.bad.push(`${req.headers["webhook-id"]}: ${e.message}`);
        res.writeHead(400).end();
        return;
      }
      const id = req.headers["webhook-id"];
      const seen = r.byId.get(id) || { bodies: new Set(), payload, count: 0 };
      seen.bodies.add(body);
      seen.count++;
      r.byId.set(id, seen);
      if (r.mode === "500") { res.writeHead(500).end("no"); return; }
      if (r.mode === "slow") { setTimeout(() => res.writeHead(200).end(), 3000); return; }
      res.writeHead(204).end();
    });
  };
  r.server = http.createServer(handle);
  await new Promise((ok) => r.server.listen(0, "127.0.0.1", ok));
  r.port = r.server.address().port;
  r.down = async () => {
    r.server.closeAllConnections();
    await new Promise((ok) => r.server.close(ok));
  };
  r.up = async () => {
    r.server = http.createServer(handle);
    await new Promise((ok) => r.server.listen(r.port, "127.0.0.1", ok));
  };
  return r;
}

let serial = 0;
/** Erases a fresh id: one `customer.erased` event; answers the id. */
async function erasure() {
  const anon = `anon-e2e-hook-${String(++serial).padStart(6, "0")}`;
  await server.adminApi(`/v1/sites/demo/subjects/${anon}`, { method: "DELETE" });
  return anon;
}

/** The anon ids the receiver has taken, each under one webhook-id. */
function erasedIds() {
  return [...receiver.byId.values()]
    .filter((s) => s.payload.type === "customer.erased")
    .map((s) => s.payload.data.anon);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("every event reaches a faulty receiver once per webhook-id, through a server restart", async () => {
  server = await startServer({ env: ENV });
  receiver = await startReceiver();
  const endpoint = await server.adminApi("/v1/admin/sites/demo/webhooks", {
    method: "POST",
    body: JSON.stringify({
      url: `http://127.0.0.1:${receiver.port}/hooks/dangol`,
      events: ["customer.erased", "coupon.redeemed"],
      description: "the e2e receiver",
    }),
  });
  receiver.verifier = new Webhook(endpoint.secret);
  const expected = [];

  // A redeemed coupon.
  let code = null;
  for (let i = 0; i < 20 && !code; i++) {
    const res = await fetch(`${server.url}/v1/sites/demo/coupons/claim`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ anon: `anon-e2e-claim-${String(i).padStart(6, "0")}`, campaign: "cart-coupon", variant: "a" }),
    });
    if (res.ok) code = (await res.json()).code;
  }
  assert.ok(code, "a coupon was claimed");
  assert.equal((await server.redeem(code)).status, 200);

  // The fault matrix: each fault holds for a few attempts, then clears.
  for (const fault of ["down", "500", "slow", "reset"]) {
    if (fault === "down") await receiver.down();
    else receiver.mode = fault;
    for (let i = 0; i < 3; i++) expected.push(await erasure());
    await sleep(1500);
    if (fault === "down") await receiver.up();
    receiver.mode = "ok";
    await eventually(() => expected.every((a) => erasedIds().includes(a)), 20000, `deliveries after "${fault}"`);
  }

  // Killed mid-delivery (the receiver holds the requests), started again.
  receiver.mode = "slow";
  for (let i = 0; i < 3; i++) expected.push(await erasure());
  await eventually(() => receiver.requests > 0 && receiver.byId.size >= expected.length - 2, 10000, "requests in flight");
  const inFlight = receiver.requests;
  await server.kill();
  receiver.mode = "ok";
  server = await startServer({ env: ENV, restartOf: server });
  // The answers never reached the killed server: the restarted one sends
  // those messages again (same ids) until it has a 2xx for each.
  const queue = async () => (await server.adminApi(`/v1/admin/sites/demo/webhooks/${endpoint.id}`)).messages;
  await eventually(async () => (await queue()).pending === 0, 30000, "the queue to empty after the restart");
  assert.ok(receiver.requests > inFlight, "the restarted server sent what was in flight again");
  assert.ok(expected.every((a) => erasedIds().includes(a)));

  // Everything arrived, verified, once per webhook-id with one body.
  assert.deepEqual(receiver.bad, [], "every message verifies with standardwebhooks");
  const erased = erasedIds();
  assert.equal(erased.length, expected.length, `one webhook-id per erasure: ${erased}`);
  assert.deepEqual([...erased].sort(), [...expected].sort());
  for (const [id, seen] of receiver.byId) {
    assert.match(id, /^msg_[0-9a-f]{32}$/);
    assert.equal(seen.bodies.size, 1, `${id} always carries the same body`);
  }
  const redeemed = [...receiver.byId.values()].filter((s) => s.payload.type === "coupon.redeemed");
  assert.equal(redeemed.length, 1);
  assert.equal(redeemed[0].payload.data.code, code);
  const retried = [...receiver.byId.values()].filter((s) => s.count > 1).length;
  assert.ok(retried > 0, "faults made the sender repeat some messages, under their ids");

  // The delivery log shows the failed attempts and the endpoint stayed on.
  const shown = await server.adminApi(`/v1/admin/sites/demo/webhooks/${endpoint.id}`);
  assert.equal(shown.enabled, true);
  assert.deepEqual(shown.messages, { pending: 0, delivered: expected.length + 1, failed: 0 });
  const log = await server.adminApi(`/v1/admin/sites/demo/webhooks/${endpoint.id}/messages?limit=500`);
  const errors = new Set(log.messages.flatMap((m) => m.log.map((a) => a.error || String(a.status))));
  for (const seen of ["could not connect", "HTTP 500", "no answer within 800 ms", "the connection broke off"]) {
    assert.ok(errors.has(seen), `the log names "${seen}": ${[...errors]}`);
  }
});
