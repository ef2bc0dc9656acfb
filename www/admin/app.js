// The dashboard shell: who is signed in, which site, and the views behind
// `#/campaigns`, `#/campaigns/{id}`, `#/new/{playbook}`, `#/results`, `#/publish`,
// `#/segments`, `#/team` and `#/webhooks`.
import { api, session, site as sitePath } from "./api.js";
import { h, field } from "./dom.js";
import { t, lang, setLang, num, pct } from "./i18n.js";
import { PLAYBOOKS } from "./playbooks.js";
import { editor } from "./editor.js";
import { results } from "./results.js";
import { webhooks } from "./webhooks.js";
import { segments } from "./segments.js";
import { churn } from "./churn.js";

const view = document.getElementById("view");
const ctx = {
  site: localStorage.getItem("dangol-admin-site") || "",
  flash(message) {
    const el = document.getElementById("flash");
    el.textContent = message;
    setTimeout(() => { if (el.textContent === message) el.textContent = ""; }, 4000);
  },
};

/** A button's action: a failure (the network, or the server refusing) is
 * shown to the marketer, never an unhandled rejection. */
function action(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      ctx.flash(t("error", { message: e.message }));
    }
  };
}

function chrome() {
  document.title = t("title");
  document.documentElement.lang = lang();
  for (const a of document.querySelectorAll("[data-nav]")) a.textContent = t(a.dataset.nav);
  document.getElementById("site-label").textContent = t("site");
  document.getElementById("lang").textContent = t("language");
  document.getElementById("sign-out").textContent = t("signOut");
}

async function start() {
  setLang(lang());
  chrome();
  const me = await session();
  ctx.roles = me.roles || {};
  document.getElementById("who").textContent = me.email ?? "";
  const sites = (await api("GET", "/v1/admin/sites")).sites;
  const picker = document.getElementById("site");
  picker.replaceChildren(...sites.map((s) => h("option", { value: s.id }, s.name || s.id)));
  if (!sites.some((s) => s.id === ctx.site)) ctx.site = sites[0]?.id ?? "";
  picker.value = ctx.site;
  picker.addEventListener("change", () => {
    ctx.site = picker.value;
    localStorage.setItem("dangol-admin-site", ctx.site);
    route();
  });
  document.getElementById("lang").addEventListener("click", () => {
    setLang(lang() === "ko" ? "en" : "ko");
    chrome();
    route();
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await api("POST", "/v1/admin/logout").catch(() => {});
    location.assign("/admin/login");
  });
  window.addEventListener("hashchange", route);
  route();
}

async function route() {
  const hash = location.hash || "#/campaigns";
  const [, name, arg] = hash.split("/");
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  view.replaceChildren(h("p", { class: "note" }, t("loading")));
  try {
    if (name === "campaigns" && arg) await editor(view, ctx, { id: decodeURIComponent(arg) });
    else if (name === "new") await editor(view, ctx, { playbook: arg });
    else if (name === "results") await results(view, ctx);
    else if (name === "publish") await publish(view);
    else if (name === "team") await team(view);
    else if (name === "segments") await segments(view, ctx, { editor: canEdit(), act: action });
    else if (name === "churn") await churn(view, ctx, { editor: canEdit(), act: action });
    else if (name === "webhooks") await webhooks(view, ctx, { owner: roleHere() === "owner", act: action });
    else await campaigns(view);
  } catch (e) {
    view.replaceChildren(h("p", { class: "problem", role: "alert" }, t("error", { message: e.message })));
  }
  view.focus({ preventScroll: true });
}

async function campaigns(view) {
  const s = ctx.site;
  const [list, res] = await Promise.all([
    api("GET", `${sitePath(s)}/campaigns`),
    api("GET", `${sitePath(s)}/results?days=30`).catch(() => null),
  ]);
  const totals = (id) => {
    const c = res?.results.campaigns.find((x) => x.campaign === id);
    if (!c) return { exposures: 0 };
    const sum = (k) => c.variants.reduce((a, v) => a + v[k], 0);
    const shoppers = sum("shoppers");
    const exposures = sum("exposures");
    return { exposures, click: exposures ? sum("clicks") / exposures : null, conv: shoppers ? sum("converted") / shoppers : null };
  };
  const rows = list.campaigns.map((c) => {
    const n = totals(c.id);
    const body = c.campaign;
    const toggle = action(async () => {
      const next = structuredClone(body);
      if (next.paused) delete next.paused; else next.paused = true;
      await api("PUT", `${sitePath(s)}/campaigns/${encodeURIComponent(c.id)}`, next);
      route();
    });
    const remove = action(async () => {
      if (!confirm(`${t("delete")} ${c.id}?`)) return;
      await api("DELETE", `${sitePath(s)}/campaigns/${encodeURIComponent(c.id)}`);
      route();
    });
    return h("tr", { "data-campaign": c.id },
      h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(c.id)}` }, body.name || c.id), h("br"), h("small", {}, c.id)),
      h("td", {}, h("span", { class: `badge ${c.status}`, "data-status": c.status }, t(`st_${c.status}`)),
        c.changed && c.status !== "draft" ? h("small", { class: "changed" }, ` · ${t("unpublishedChanges")}`) : null),
      h("td", {}, t(body.variants?.[0]?.content?.type ?? "banner")),
      h("td", {}, (body.placements ?? []).join(", ")),
      h("td", { class: "n" }, num(n.exposures)),
      h("td", { class: "n" }, pct(n.click)),
      h("td", { class: "n" }, pct(n.conv)),
      h("td", {}, canEdit() ? [h("button", { type: "button", class: "link", onclick: toggle }, body.paused ? t("resume") : t("pause")), " ",
        h("button", { type: "button", class: "link danger", onclick: remove }, t("delete"))] : null));
  });
  const gallery = PLAYBOOKS.map((p) => h("li", { class: "playbook" },
    h("h3", {}, t(`pb_${p.key}`)), h("p", {}, t(`pbd_${p.key}`)),
    h("p", { class: "note" }, t(p.type)),
    h("a", { class: "button", href: `#/new/${p.key}`, "data-playbook": p.key }, t("startDraft"))));
  view.replaceChildren(
    h("h1", {}, t("campaigns")),
    rows.length
      ? h("table", { class: "campaigns" }, h("thead", {}, h("tr", {}, [t("name"), t("status"), t("type"), t("placement"), t("exposures"), t("clickRate"), t("conversionRate"), t("actions")].map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows))
      : h("p", { class: "note" }, t("noCampaigns")),
    h("h2", {}, t("playbooks")),
    h("ul", { class: "playbooks" }, gallery));
}

/** Field-level differences between two campaign lists (by id). */
function detail(before, after) {
  const rows = [];
  const byId = (cfg) => new Map((cfg?.campaigns ?? []).map((c) => [c.id, c]));
  const a = byId(before), b = byId(after);
  const show = (v) => (v === undefined ? "–" : JSON.stringify(v).slice(0, 160));
  for (const [id, c] of b) {
    const old = a.get(id);
    if (!old) { rows.push([id, t("added"), "–", c.name ?? ""]); continue; }
    for (const k of new Set([...Object.keys(old), ...Object.keys(c)])) {
      if (k === "allocation" && c.allocation?.type === "bandit") continue;
      if (JSON.stringify(old[k]) !== JSON.stringify(c[k])) rows.push([id, k, show(old[k]), show(c[k])]);
    }
  }
  for (const [id] of a) if (!b.has(id)) rows.push([id, t("removed"), "", "–"]);
  return rows;
}

function diffTable(rows) {
  return h("table", { class: "diff" }, h("thead", {}, h("tr", {}, [t("campaigns"), t("field"), t("before"), t("after")].map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((x, i) => h(i ? "td" : "th", i ? {} : { scope: "row" }, x))))));
}

async function publish(view) {
  const s = ctx.site;
  const [pending, versions, list] = await Promise.all([
    api("GET", `${sitePath(s)}/publish`).catch((e) => ({ error: e })),
    api("GET", `${sitePath(s)}/versions`),
    api("GET", `${sitePath(s)}/campaigns`),
  ]);
  const liveVersion = versions.versions[0]?.version;
  const live = liveVersion ? await api("GET", `${sitePath(s)}/versions/${liveVersion}`) : null;
  const drafts = { campaigns: list.campaigns.map((c) => c.campaign).filter((c) => c.paused !== true) };
  const out = h("div", { class: "publish-result", role: "status" });
  const pendingBox = pending.error
    ? h("div", { class: "problems", role: "alert" }, h("p", {}, pending.error.message), h("ul", {}, pending.error.problems.map((p) => h("li", {}, p))))
    : pending.changes.length
      ? h("div", {}, h("ul", { class: "changes" }, pending.changes.map((c) => h("li", {}, c))), diffTable(detail(live, drafts)))
      : h("p", { class: "note" }, t("nothingPending"));
  const button = h("button", { type: "button", class: "primary", id: "publish-now", disabled: !canEdit() || !!pending.error || !pending.changes?.length, onclick: async () => {
    try {
      const r = await api("POST", `${sitePath(s)}/publish`);
      await publish(view);
      ctx.flash(r.published ? t("published", r) : t("notPublished", r));
    } catch (e) {
      out.textContent = t("error", { message: e.message });
    }
  } }, t("publishNow"));
  const rollbackRows = versions.versions.map((v, i) => {
    const confirmBox = h("div", { class: "rollback-confirm" });
    const ask = action(async () => {
      const old = await api("GET", `${sitePath(s)}/versions/${v.version}`);
      const go = h("button", { type: "button", class: "primary", onclick: action(async () => {
        const r = await api("POST", `${sitePath(s)}/rollback`, { version: v.version });
        await publish(view);
        ctx.flash(t("published", r));
      }) }, t("confirm"));
      confirmBox.replaceChildren(h("p", {}, t("rollbackConfirm", { version: v.version })), diffTable(detail(live, old)), go);
      go.focus();
    });
    return h("tr", { "data-version": v.version },
      h("th", { scope: "row" }, String(v.version), i === 0 ? h("span", { class: "badge live" }, ` ${t("live")}`) : null),
      h("td", {}, new Date(v.published_ms).toLocaleString(lang() === "ko" ? "ko-KR" : "en-US")),
      h("td", {}, i === 0 || !canEdit() ? null : h("button", { type: "button", class: "link", onclick: ask }, t("rollback")), confirmBox));
  });
  view.replaceChildren(
    h("h1", {}, t("publish")),
    h("section", { class: "card" }, h("h2", {}, t("pending")), pendingBox, button, out),
    h("section", { class: "card" }, h("h2", {}, t("versions")),
      h("table", {}, h("thead", {}, h("tr", {}, [t("version"), t("publishedAt"), ""].map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rollbackRows))));
}

/** Whether the signed-in admin may change campaigns and publish here (the
 * server checks it anyway; this only spares viewers buttons that would be
 * refused). */
function canEdit() {
  return ["editor", "owner"].includes(roleHere());
}

/** The signed-in admin's role on the current site. */
function roleHere() {
  const order = ["viewer", "editor", "owner"];
  const mine = [ctx.roles[ctx.site], ctx.roles["*"]].filter(Boolean);
  return mine.sort((a, b) => order.indexOf(b) - order.indexOf(a))[0];
}

async function team(view) {
  const s = ctx.site;
  const owner = roleHere() === "owner";
  const [admins, tokens] = await Promise.all([
    api("GET", `${sitePath(s)}/admins`),
    owner ? api("GET", "/v1/admin/tokens") : Promise.resolve({ tokens: [] }),
  ]);
  const roleSelect = (value) => h("select", {}, ["viewer", "editor", "owner"].map((r) => h("option", { value: r, selected: r === value }, t(`r_${r}`))));
  const rows = admins.admins.map((a) => {
    const here = a.site !== "*";
    const select = roleSelect(a.role);
    select.disabled = !owner || !here;
    select.setAttribute("aria-label", `${t("role")}: ${a.email}`);
    select.addEventListener("change", action(async () => {
      await api("PUT", `${sitePath(s)}/admins/${encodeURIComponent(a.email)}`, { role: select.value });
      await team(view);
    }));
    const remove = owner && here ? h("button", { type: "button", class: "link danger", onclick: action(async () => {
      await api("DELETE", `${sitePath(s)}/admins/${encodeURIComponent(a.email)}`);
      await team(view);
    }) }, t("remove")) : null;
    return h("tr", { "data-admin": a.email },
      h("th", { scope: "row" }, a.email),
      h("td", {}, here ? t("thisSite") : t("allSites")),
      h("td", {}, select),
      h("td", {}, remove));
  });
  const email = h("input", { type: "email", required: true, autocomplete: "off" });
  const newRole = roleSelect("viewer");
  const give = h("form", { class: "inline-form give-role", onsubmit: action(async (e) => {
    e.preventDefault();
    await api("PUT", `${sitePath(s)}/admins/${encodeURIComponent(email.value.trim())}`, { role: newRole.value });
    await team(view);
  }) }, field(t("email"), email), field(t("role"), newRole), h("button", { type: "submit", class: "primary" }, t("give")));
  const shown = h("p", { class: "token-once", role: "status" });
  const tokenRows = tokens.tokens.filter((k) => k.site === s || k.site === "*").map((k) =>
    h("tr", { "data-token": k.name },
      h("th", { scope: "row" }, k.name),
      h("td", {}, k.site === "*" ? t("allSites") : t("thisSite")),
      h("td", {}, t(`r_${k.role}`)),
      h("td", {}, k.created_by),
      h("td", {}, k.expires_ms ? new Date(k.expires_ms).toLocaleDateString(lang() === "ko" ? "ko-KR" : "en-US") : ""),
      h("td", {}, h("button", { type: "button", class: "link danger", onclick: action(async () => {
        await api("DELETE", `/v1/admin/tokens/${encodeURIComponent(k.name)}`);
        await team(view);
      }) }, t("revoke")))));
  const tokenName = h("input", { type: "text", required: true, pattern: "[A-Za-z0-9_-]{1,64}", autocomplete: "off" });
  const tokenRole = roleSelect("viewer");
  const tokenDays = h("input", { type: "number", min: "1", max: "365", value: "90", required: true });
  const make = h("form", { class: "inline-form new-token", onsubmit: action(async (e) => {
    e.preventDefault();
    const r = await api("POST", "/v1/admin/tokens", { name: tokenName.value.trim(), site: s, role: tokenRole.value, expires_days: Number(tokenDays.value) });
    await team(view);
    view.querySelector(".token-once").textContent = t("tokenOnce", { token: r.token });
  }) }, field(t("name"), tokenName), field(t("role"), tokenRole), field(t("days"), tokenDays), h("button", { type: "submit", class: "primary" }, t("newToken")));
  view.replaceChildren(
    h("h1", {}, t("team")),
    h("section", { class: "card" }, h("p", { class: "note" }, t("teamHelp")),
      h("table", { class: "team" }, h("thead", {}, h("tr", {}, [t("email"), t("where"), t("role"), ""].map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows)),
      owner ? give : h("p", { class: "note" }, t("ownersOnly"))),
    owner ? h("section", { class: "card" }, h("h2", {}, t("tokens")), h("p", { class: "note" }, t("tokensHelpApi")),
      tokenRows.length
        ? h("table", { class: "tokens" }, h("thead", {}, h("tr", {}, [t("name"), t("where"), t("role"), t("madeBy"), t("expires"), ""].map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, tokenRows))
        : h("p", { class: "note" }, t("noTokens")),
      make, shown) : null);
}

start().catch((e) => {
  view.replaceChildren(h("p", { class: "problem", role: "alert" }, t("error", { message: e.message })));
});
