// The campaign editor: a form for every field of a campaign, the engine's
// refusals beside the field they concern, a preview by the real widget and
// a reach estimate.
import { api, site as sitePath } from "./api.js";
import { h, field, select, numberOrNull } from "./dom.js";
import { t, lang, num } from "./i18n.js";
import { audienceBuilder } from "./audience.js";
import { PLAYBOOKS, exampleAttributes, EXAMPLES } from "./playbooks.js";

const TYPES = ["banner", "coupon", "loyalty_prompt", "feedback_question", "recommendations"];
const KINDS = ["modal", "toast", "bar"];
const TRIGGERS = ["page_load", "exit_intent", "dwell", "scroll", "inactivity", "nth_page_view", "returning_with_cart"];
const TRIGGER_FIELD = { dwell: "seconds", inactivity: "seconds", scroll: "percent", nth_page_view: "n" };
const CAPS = ["per_session", "per_day", "per_week", "lifetime", "min_gap_minutes", "dismiss_cooldown_hours"];

const blankContent = (type) => ({
  banner: { type, headline: "", body: "", cta: { text: "", url: "" }, theme: "accent" },
  coupon: { type, headline: "", value: "", reveal: "", terms: "" },
  loyalty_prompt: { type, headline: "", body: "" },
  feedback_question: { type, question: "", scale: "rating" },
  recommendations: { type, headline: "", count: 4, per_category: 2 },
}[type]);

const toLocal = (ms) => (ms == null ? "" : new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 16));
const fromLocal = (s) => (s ? new Date(s).getTime() : undefined);

/** Renders the editor for `id` (or a new draft from `playbook`) into `view`. */
export async function editor(view, ctx, { id, playbook }) {
  const s = ctx.site;
  const [siteInfo, list] = await Promise.all([api("GET", sitePath(s)), api("GET", `${sitePath(s)}/campaigns`)]);
  const settings = siteInfo.settings;
  let draft;
  let isNew = !id;
  if (id) {
    draft = await api("GET", `${sitePath(s)}/campaigns/${encodeURIComponent(id)}`);
  } else {
    const pb = PLAYBOOKS.find((p) => p.key === playbook) ?? PLAYBOOKS[0];
    draft = structuredClone(pb.campaign);
    draft.placements = [defaultPlacement(settings, list)];
    // A second draft from the same playbook gets its own id.
    let n = 1;
    const base = draft.id;
    while (list.campaigns.some((c) => c.id === draft.id)) draft.id = `${base}-${++n}`;
  }
  draft.variants ??= [{ id: "a", content: blankContent("banner") }];
  draft.caps ??= {};
  draft.schedule ??= {};
  draft.allocation ??= { type: "fixed" };
  const others = list.campaigns.filter((c) => c.id !== draft.id).map((c) => c.campaign);
  const placements = knownPlacements(settings, list);

  const problemsBox = h("div", { class: "problems", role: "alert" });
  const form = h("form", { class: "editor", novalidate: true });
  const previewPane = h("section", { class: "preview", "aria-labelledby": "preview-title" });

  function input(path, value, attrs = {}) {
    const el = h(attrs.rows ? "textarea" : "input", { "data-path": path, ...attrs });
    el.value = value ?? "";
    return el;
  }

  // --- basics
  const idInput = input("id", draft.id, { required: true, readonly: !isNew, pattern: "[A-Za-z0-9_-]{1,64}" });
  const nameInput = input("name", draft.name);
  const pausedInput = h("input", { type: "checkbox", "data-path": "paused", checked: draft.paused === true });

  // --- content
  const typeSelect = select(TYPES.map((x) => [x, t(x)]), draft.variants[0]?.content?.type ?? "banner", { "data-path": "variants[0].content.type" });
  const variantsEl = h("div", { class: "variants" });
  function variantFields(v, i) {
    const c = v.content;
    const p = (k) => `variants[${i}].content.${k}`;
    const bind = (el, set) => { el.addEventListener("input", () => { set(el.value); changed(); }); return el; };
    const rows = [field(t("variantId"), bind(input(`variants[${i}].id`, v.id), (x) => (v.id = x)))];
    const text = (k, label, opts) => rows.push(field(label, bind(input(p(k), c[k], opts), (x) => (c[k] = x))));
    if (c.type === "banner") {
      text("headline", t("headline"));
      text("body", t("body"), { rows: 2 });
      rows.push(field(t("image"), bind(input(p("image"), c.image), (x) => (x ? (c.image = x) : delete c.image))));
      c.cta ??= { text: "", url: "" };
      rows.push(field(t("ctaText"), bind(input(p("cta.text"), c.cta.text), (x) => (c.cta.text = x))));
      rows.push(field(t("ctaUrl"), bind(input(p("cta.url"), c.cta.url), (x) => (c.cta.url = x))));
      const theme = select([["accent", "accent"], ["light", "light"], ["dark", "dark"]], c.theme ?? "accent", { "data-path": p("theme") });
      theme.addEventListener("change", () => { c.theme = theme.value; changed(); });
      rows.push(field(t("theme"), theme));
    } else if (c.type === "coupon") {
      text("headline", t("headline"));
      text("value", t("value"));
      text("body", t("body"), { rows: 2 });
      text("reveal", t("reveal"));
      text("terms", t("terms"));
    } else if (c.type === "loyalty_prompt") {
      text("headline", t("headline"));
      text("body", t("body"), { rows: 2 });
    } else if (c.type === "recommendations") {
      text("headline", t("headline"));
      const count = (k, label, max) => {
        const el = input(p(k), c[k], { type: "number", min: 1, max });
        el.addEventListener("input", () => { const n = numberOrNull(el); if (n == null) delete c[k]; else c[k] = n; changed(); });
        rows.push(field(label, el));
      };
      count("count", t("recsCount"), 12);
      count("per_category", t("recsPerCategory"), 12);
      const strategy = select([["related", t("recsRelated")], ["best_sellers", t("recsBestSellers")]], c.strategy ?? "related", { "data-path": p("strategy") });
      strategy.addEventListener("change", () => { c.strategy = strategy.value; changed(); });
      rows.push(field(t("recsStrategy"), strategy));
      rows.push(h("small", { class: "help" }, t("recsHelp")));
      if (i === 0) rows.push(recsModel());
    } else {
      text("question", t("question"));
      const scale = select([["rating", t("rating")], ["nps", t("nps")], ["choice", t("choice")]], c.scale, { "data-path": p("scale") });
      const choices = input(p("choices"), (c.choices ?? []).join("\n"), { rows: 3 });
      choices.addEventListener("input", () => { c.choices = choices.value.split("\n").map((x) => x.trim()).filter(Boolean); changed(); });
      scale.addEventListener("change", () => { c.scale = scale.value; if (c.scale !== "choice") delete c.choices; else c.choices ??= []; renderVariants(); changed(); });
      rows.push(field(t("scale"), scale));
      if (c.scale === "choice") rows.push(field(t("choices"), choices));
    }
    const remove = draft.variants.length > 1
      ? h("button", { type: "button", class: "link", onclick: () => { draft.variants.splice(i, 1); renderVariants(); changed(); } }, t("removeVariant"))
      : null;
    return h("fieldset", { class: "variant" }, h("legend", {}, `${t("variant")} ${v.id}`), rows, remove);
  }
  // The site's recommendations model: how fresh, what it covers, and a
  // button to build it now.
  function recsModel() {
    const status = h("p", { class: "recs-model", role: "status" }, "…");
    const show = (m) => {
      status.textContent = t("recsModel", {
        age: num(Math.round((Date.now() - m.built_ms) / 60000)), items: num(m.items), events: num(m.events),
        kb: num((m.bytes ?? 0) / 1024, 1),
      });
    };
    api("GET", `${sitePath(s)}/recs`).then(show, () => { status.textContent = t("recsNoModel"); });
    const build = h("button", { type: "button", onclick: async () => {
      build.disabled = true;
      try { show(await api("POST", `${sitePath(s)}/recs`)); }
      catch (e) { status.textContent = e.message; }
      finally { build.disabled = false; }
    } }, t("recsBuild"));
    return h("div", { class: "recs-box" }, status, build);
  }
  function renderVariants() {
    variantsEl.replaceChildren(...draft.variants.map(variantFields),
      h("small", { class: "help" }, t("tokensHelp")));
    couponBox.hidden = typeSelect.value !== "coupon";
    weightsField.hidden = draft.allocation.type !== "fixed";
  }
  typeSelect.addEventListener("change", () => {
    draft.variants = draft.variants.map((v) => ({ id: v.id, content: blankContent(typeSelect.value) }));
    if (typeSelect.value === "coupon") draft.coupon ??= { budget: 1000, valid_days: 14, prefix: "" };
    else delete draft.coupon;
    renderVariants();
    changed();
  });
  const addVariant = h("button", { type: "button", onclick: () => {
    const used = new Set(draft.variants.map((v) => v.id));
    const id = "abcdefghij".split("").find((x) => !used.has(x)) ?? `v${draft.variants.length + 1}`;
    draft.variants.push({ id, content: structuredClone(draft.variants[0].content) });
    renderVariants();
    changed();
  } }, t("addVariant"));

  // --- coupon policy and pool
  draft.coupon ??= typeSelect.value === "coupon" ? { budget: 1000, valid_days: 14, prefix: "" } : undefined;
  const budget = input("coupon.budget", draft.coupon?.budget, { type: "number", min: 1 });
  const validDays = input("coupon.valid_days", draft.coupon?.valid_days, { type: "number", min: 1 });
  const prefix = input("coupon.prefix", draft.coupon?.prefix);
  for (const [el, k] of [[budget, "budget"], [validDays, "valid_days"], [prefix, "prefix"]]) {
    el.addEventListener("input", () => {
      draft.coupon ??= {};
      draft.coupon[k] = k === "prefix" ? el.value : numberOrNull(el);
      changed();
    });
  }
  const codes = input("codes", "", { rows: 3, placeholder: "SPRING-0001\nSPRING-0002" });
  const poolInfo = h("p", { class: "note" });
  const uploadCodes = h("button", { type: "button", disabled: isNew, onclick: async () => {
    const list = codes.value.split(/\s+/).map((x) => x.trim()).filter(Boolean);
    try {
      const r = await api("POST", `${sitePath(s)}/campaigns/${encodeURIComponent(draft.id)}/codes`, { codes: list });
      poolInfo.textContent = t("poolSize", r.pool);
      codes.value = "";
    } catch (e) {
      poolInfo.textContent = t("error", { message: e.message });
    }
  } }, t("uploadCodes"));
  if (!isNew && draft.coupon) {
    api("GET", `${sitePath(s)}/campaigns/${encodeURIComponent(draft.id)}/codes`).then((r) => (poolInfo.textContent = t("poolSize", r.pool))).catch(() => {});
  }
  const couponBox = h("fieldset", { class: "coupon-policy" }, h("legend", {}, t("couponPolicy")),
    field(t("budget"), budget), field(t("validDays"), validDays), field(t("prefix"), prefix),
    field(t("pool"), codes), uploadCodes, poolInfo);

  // --- placement and trigger
  const placementSelect = select(placements.map((p) => [p.id, `${p.id} · ${t(p.kind)}${p.trigger ? ` · ${t(p.trigger.type)}` : ""}`]), draft.placements?.[0] ?? "", { "data-path": "placements" });
  placementSelect.addEventListener("change", () => { draft.placements = [placementSelect.value]; changed(); });
  const newId = h("input", { "aria-label": `${t("newPlacement")} ${t("id")}`, placeholder: "exit-offer" });
  const newKind = select(KINDS.map((k) => [k, t(k)]), "modal", { "aria-label": t("kind") });
  const newTrigger = select(TRIGGERS.map((k) => [k, t(k)]), "exit_intent", { "aria-label": t("trigger") });
  const newValue = h("input", { type: "number", min: 1, "aria-label": t("triggerValue"), placeholder: t("triggerValue") });
  const addedPlacements = [];
  const addPlacement = h("button", { type: "button", onclick: () => {
    const id = newId.value.trim();
    if (!id) return newId.focus();
    const trigger = { type: newTrigger.value };
    const key = TRIGGER_FIELD[newTrigger.value];
    if (key) trigger[key] = Number(newValue.value || 0);
    const p = { id, kind: newKind.value, trigger };
    addedPlacements.push(p);
    placements.push(p);
    placementSelect.append(h("option", { value: id }, `${id} · ${t(p.kind)} · ${t(trigger.type)}`));
    placementSelect.value = id;
    draft.placements = [id];
    changed();
  } }, t("addPlacement"));

  // --- schedule
  const start = input("schedule.start_ms", toLocal(draft.schedule.start_ms), { type: "datetime-local" });
  const end = input("schedule.end_ms", toLocal(draft.schedule.end_ms), { type: "datetime-local" });
  start.addEventListener("input", () => { draft.schedule.start_ms = fromLocal(start.value); changed(); });
  end.addEventListener("input", () => { draft.schedule.end_ms = fromLocal(end.value); changed(); });
  const weekdays = h("fieldset", { class: "weekdays", "data-path": "schedule.weekdays" }, h("legend", {}, t("weekdays")),
    t("weekdayNames").map((name, i) => {
      const box = h("input", { type: "checkbox", checked: (draft.schedule.weekdays ?? []).includes(i + 1) });
      box.addEventListener("change", () => {
        const set = new Set(draft.schedule.weekdays ?? []);
        if (box.checked) set.add(i + 1); else set.delete(i + 1);
        draft.schedule.weekdays = [...set].sort();
        changed();
      });
      return h("label", { class: "inline" }, box, name);
    }));
  const hoursFrom = input("schedule.hours", draft.schedule.hours?.[0], { type: "number", min: 0, max: 24 });
  const hoursTo = input("schedule.hours", draft.schedule.hours?.[1], { type: "number", min: 0, max: 24 });
  for (const el of [hoursFrom, hoursTo]) el.addEventListener("input", () => {
    const a = numberOrNull(hoursFrom), b = numberOrNull(hoursTo);
    if (a == null && b == null) delete draft.schedule.hours; else draft.schedule.hours = [a ?? 0, b ?? 24];
    changed();
  });

  // --- audience and reach
  const audience = audienceBuilder(draft.condition ?? {}, (c) => { draft.condition = c; changed(); });
  const reachOut = h("p", { class: "reach", "aria-live": "polite" });
  const reachButton = h("button", { type: "button", onclick: async () => {
    reachOut.textContent = t("loading");
    try {
      const r = (await api("POST", `${sitePath(s)}/reach?days=30`, { condition: draft.condition ?? {} })).reach;
      const sampled = r.sampled < r.shoppers;
      const words = sampled
        ? t("reachSampled", { matched: num(r.matched), shoppers: num(r.shoppers), low: num(r.matched_low), high: num(r.matched_high), sampled: num(r.sampled) })
        : t("reachOf", { matched: num(r.matched), shoppers: num(r.shoppers) });
      reachOut.replaceChildren(h("strong", {}, words),
        ...(r.unknown.length ? [h("small", { class: "help" }, " ", t("reachUnknown", { paths: r.unknown.join(", ") }))] : []));
    } catch (e) {
      reachOut.textContent = t("error", { message: e.message });
    }
  } }, t("estimate"));

  // --- delivery
  const capInputs = CAPS.map((k) => {
    const el = input(`caps.${k}`, draft.caps[k], { type: "number", min: 0 });
    el.addEventListener("input", () => { const v = numberOrNull(el); if (v == null) delete draft.caps[k]; else draft.caps[k] = v; changed(); });
    return field(t(k), el);
  });
  const stopAfter = h("input", { type: "checkbox", "data-path": "caps.stop_after_conversion", checked: draft.caps.stop_after_conversion === true });
  stopAfter.addEventListener("change", () => { draft.caps.stop_after_conversion = stopAfter.checked; changed(); });
  const holdout = input("holdout", draft.holdout == null ? "" : Math.round(draft.holdout * 1000) / 10, { type: "number", min: 0, max: 100, step: "0.1" });
  holdout.addEventListener("input", () => { const v = numberOrNull(holdout); if (v == null) delete draft.holdout; else draft.holdout = typeof v === "number" ? v / 100 : v; changed(); });
  const allocType = select([["fixed", t("fixed")], ["bandit", t("bandit")]], draft.allocation.type, { "data-path": "allocation.type" });
  const weights = input("allocation.weights", (draft.allocation.weights ?? []).map((w) => Math.round(w * 1000) / 10).join(", "));
  const minShare = input("allocation.min_share", draft.allocation.min_share == null ? "" : draft.allocation.min_share * 100, { type: "number", min: 0, max: 50 });
  const weightsField = field(t("weights"), weights);
  const minShareField = field(t("minShare"), minShare);
  const syncAllocation = () => {
    if (allocType.value === "bandit") {
      draft.allocation = { type: "bandit", min_share: (numberOrNull(minShare) ?? 0) / 100 };
    } else {
      const ws = weights.value.split(",").map((x) => x.trim()).filter(Boolean).map((x) => Number(x) / 100);
      draft.allocation = ws.length ? { type: "fixed", weights: ws } : { type: "fixed" };
    }
    weightsField.hidden = allocType.value !== "fixed";
    minShareField.hidden = allocType.value !== "bandit";
    changed();
  };
  for (const el of [allocType, weights, minShare]) el.addEventListener(el === allocType ? "change" : "input", syncAllocation);
  const priority = input("priority", draft.priority ?? 0, { type: "number" });
  priority.addEventListener("input", () => { draft.priority = numberOrNull(priority) ?? 0; changed(); });
  const group = input("group", draft.group);
  group.addEventListener("input", () => { if (group.value.trim()) draft.group = group.value.trim(); else delete draft.group; changed(); });
  nameInput.addEventListener("input", () => { draft.name = nameInput.value; changed(); });
  idInput.addEventListener("input", () => { draft.id = idInput.value.trim(); changed(); });
  pausedInput.addEventListener("change", () => { if (pausedInput.checked) draft.paused = true; else delete draft.paused; changed(); });

  // --- save
  const saveButton = h("button", { type: "submit", class: "primary" }, t("save"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearProblems();
    try {
      if (addedPlacements.length) {
        const next = { ...settings, placements: [...(settings.placements ?? []), ...addedPlacements] };
        await api("PUT", sitePath(s), { name: siteInfo.name, allowed_origins: siteInfo.allowed_origins, retention_days: siteInfo.retention_days, settings: next });
        settings.placements = next.placements;
        addedPlacements.length = 0;
      }
      await api("PUT", `${sitePath(s)}/campaigns/${encodeURIComponent(draft.id)}`, cleaned(draft));
      ctx.flash(t("saved"));
      if (isNew) {
        isNew = false;
        history.replaceState(null, "", `#/campaigns/${encodeURIComponent(draft.id)}`);
        idInput.readOnly = true;
        uploadCodes.disabled = false;
      }
    } catch (err) {
      showProblems(err.problems?.length ? err.problems : [err.message]);
    }
  });

  function clearProblems() {
    problemsBox.replaceChildren();
    for (const el of form.querySelectorAll(".problem")) el.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  }

  /** Puts each refusal beside its field (`campaign `x`: field.path: message`). */
  function showProblems(problems) {
    const loose = [];
    let first = null;
    for (const p of problems) {
      const m = /^campaign `[^`]*`: ([^:]+): (.*)$/.exec(p) || /^site: ([^:]+): (.*)$/.exec(p);
      const path = m?.[1]?.trim();
      const target = path && bestTarget(path);
      if (target) {
        target.setAttribute("aria-invalid", "true");
        const slot = target.closest(".field")?.querySelector(".problem") ?? target.parentElement.querySelector(".problem");
        if (slot) slot.textContent = m[2];
        else loose.push(p);
        first ??= target;
      } else loose.push(p);
    }
    problemsBox.replaceChildren(h("p", {}, t("fixProblems")), ...(loose.length ? [h("ul", {}, loose.map((p) => h("li", {}, p)))] : []));
    (first ?? problemsBox).focus?.();
  }

  function bestTarget(path) {
    let p = path;
    while (p) {
      const el = form.querySelector(`[data-path="${CSS.escape(p)}"]`);
      if (el) return el;
      p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : p.includes("[") ? p.slice(0, p.lastIndexOf("[")) : "";
    }
    return null;
  }

  // --- preview
  const example = select(["new", "vip", "dormant", "price", "cart", "custom"].map((k) => [k, t(`ex_${k}`)]), "new", { id: "example" });
  const custom = h("textarea", { id: "custom-attributes", rows: 8, spellcheck: "false", hidden: true });
  custom.value = JSON.stringify(EXAMPLES.new, null, 2);
  const customLabel = h("label", { for: "custom-attributes", hidden: true }, t("customAttributes"));
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const frame = h("iframe", { src: "/admin/preview.html", title: t("variantPreview"), class: "preview-frame" });
  example.addEventListener("change", () => {
    custom.hidden = customLabel.hidden = example.value !== "custom";
    runPreview();
  });
  custom.addEventListener("input", () => runPreview());
  previewPane.append(h("h2", { id: "preview-title" }, t("preview")), field(t("example"), example), customLabel, custom, outcome, frame);

  let timer = 0;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(runPreview, 250);
  }

  async function runPreview() {
    let attributes;
    try {
      attributes = exampleAttributes(example.value, example.value === "custom" ? JSON.parse(custom.value) : null);
    } catch (e) {
      outcome.replaceChildren(h("p", { class: "problem" }, t("conditionInvalid", { error: e.message })));
      return;
    }
    const win = frame.contentWindow;
    if (!win?.dangolPreview) {
      frame.addEventListener("load", runPreview, { once: true });
      return;
    }
    // Holdouts are left out: the preview shows what a targeted shopper gets.
    const config = {
      ...structuredClone(settings), schema: 1, site: s, version: 0, global_holdout: 0,
      placements: [...(settings.placements ?? []), ...addedPlacements],
      campaigns: [...others.filter((c) => c.paused !== true), cleaned(draft)].map((c) => ({ ...c, holdout: 0 })),
    };
    const placement = draft.placements?.[0] ?? "";
    let r;
    try {
      r = await win.dangolPreview({ config, campaign: draft.id, placement, attributes, lang: lang() });
    } catch (e) {
      // The editor was left while its preview frame still loaded (the
      // download is cancelled with the frame): nothing to show any more.
      if (!frame.isConnected) return;
      outcome.replaceChildren(h("p", { class: "problem" }, t("previewFailed", { error: String(e) })));
      return;
    }
    const chosen = r.decision?.chosen;
    const mine = r.decision?.audiences?.find((a) => a.campaign === draft.id);
    outcome.replaceChildren(...[
      h("p", { class: "gets", "data-chosen": chosen ? `${chosen.campaign_id}/${chosen.variant_id}` : "" },
        h("strong", {}, `${t("gets")}: `), chosen ? `${chosen.campaign_id} / ${chosen.variant_id}` : t("nothing")),
      mine ? h("p", { class: mine.matches ? "match" : "no-match" }, mine.matches ? t("matches") : t("noMatch")) : null,
      mine?.why?.length ? h("p", {}, h("strong", {}, `${t("whyShown")}: `), mine.why.join(", ")) : null,
      r.decision ? h("div", {}, h("h3", {}, t("reasons")), h("ul", { class: "reasons" }, r.decision.reasons.map((x) => h("li", { "data-reason": x.reason }, `${x.campaign ?? ""} — ${t(`r_${x.reason}`, x)}`)))) : null,
      r.problems?.length ? h("ul", { class: "problem" }, r.problems.map((p) => h("li", {}, p))) : null,
    ].filter(Boolean));
  }

  // --- layout
  form.append(
    h("h1", {}, isNew ? t("newCampaign") : `${t("edit")}: ${draft.name || draft.id}`),
    problemsBox,
    h("fieldset", {}, h("legend", {}, t("name")),
      field(t("id"), idInput, t("idHelp")), field(t("campaignName"), nameInput),
      h("label", { class: "inline" }, pausedInput, t("paused"))),
    h("fieldset", {}, h("legend", {}, t("content")), field(t("contentType"), typeSelect), variantsEl, addVariant),
    couponBox,
    h("fieldset", {}, h("legend", {}, t("where")), field(t("placement"), placementSelect, t("placementHelp")),
      h("details", {}, h("summary", {}, t("newPlacement")), h("div", { class: "row" }, newId, newKind, newTrigger, newValue, addPlacement)),
      h("div", { class: "row" }, field(t("start"), start), field(t("end"), end)),
      weekdays,
      h("div", { class: "row" }, field(t("hoursFrom"), hoursFrom), field(t("hoursTo"), hoursTo))),
    h("fieldset", {}, h("legend", {}, t("audience")), audience.el, reachButton, reachOut),
    h("fieldset", {}, h("legend", {}, t("delivery")),
      h("div", { class: "row caps" }, capInputs), h("label", { class: "inline" }, stopAfter, t("stop_after_conversion")),
      field(t("holdout"), holdout), field(t("allocation"), allocType), weightsField, minShareField,
      h("div", { class: "row" }, field(t("priority"), priority), field(t("group"), group))),
    h("div", { class: "actions" }, saveButton, h("a", { href: "#/campaigns" }, t("cancel"))),
  );
  view.replaceChildren(h("div", { class: "editor-layout" }, form, previewPane));
  renderVariants();
  minShareField.hidden = allocType.value !== "bandit";
  runPreview();
}

/** The draft without empty optional parts. */
function cleaned(draft) {
  const c = structuredClone(draft);
  if (c.schedule) {
    for (const k of ["start_ms", "end_ms"]) if (c.schedule[k] == null) delete c.schedule[k];
    if (!c.schedule.weekdays?.length) delete c.schedule.weekdays;
  }
  for (const v of c.variants ?? []) {
    const cta = v.content?.cta;
    if (cta && !cta.text && !cta.url) delete v.content.cta;
    for (const k of ["body", "terms", "reveal"]) if (v.content?.[k] === "") delete v.content[k];
  }
  if (c.coupon && c.variants?.[0]?.content?.type !== "coupon") delete c.coupon;
  return c;
}

function knownPlacements(settings, list) {
  const out = [...(settings.placements ?? [])];
  for (const c of list.campaigns) {
    for (const p of c.campaign.placements ?? []) {
      if (!out.some((x) => x.id === p)) out.push({ id: p, kind: "inline" });
    }
  }
  return out;
}

function defaultPlacement(settings, list) {
  return knownPlacements(settings, list).find((p) => p.kind === "inline")?.id ?? "home-hero";
}
