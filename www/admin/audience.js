// The audience builder: rules over the attribute contract, kept in step
// with the condition JSON both ways.
import { h, select } from "./dom.js";
import { ATTRIBUTES, OPERATORS } from "./playbooks.js";
import { t } from "./i18n.js";

// A follow-up rule names a campaign inside its path
// (`campaigns.win-back.days_since_seen`); the contract lists it as `campaigns.*.…`.
const template = (path) => path.replace(/^campaigns\.[^.]+\./, "campaigns.*.");
const campaignOf = (path) => /^campaigns\.([^.]+)\./.exec(path)?.[1];
const attributeOf = (path) => ATTRIBUTES.find((a) => a.path === template(path));
const kindOf = (path) => attributeOf(path)?.kind;

function parseValue(kind, op, text) {
  const list = () => text.split(",").map((s) => s.trim()).filter(Boolean);
  if (op === "$in" || op === "$nin" || op === "$all") {
    return kind === "number" ? list().map(Number) : list();
  }
  if (op === "$exists" || kind === "bool") return text === "true";
  if (op === "$size" || kind === "number") return text.trim() === "" ? text : Number(text);
  return text;
}

function showValue(v) {
  return Array.isArray(v) ? v.join(", ") : String(v);
}

/** Rules from a condition, or null when the builder cannot show it. */
export function rulesOf(condition) {
  if (!condition || typeof condition !== "object" || Array.isArray(condition)) return null;
  const rules = [];
  for (const [path, v] of Object.entries(condition)) {
    if (path.startsWith("$") || !kindOf(path)) return null;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      for (const [op, x] of Object.entries(v)) {
        if (!OPERATORS[kindOf(path)].includes(op)) return null;
        rules.push({ path, op, value: x });
      }
    } else if (Array.isArray(v)) {
      return null;
    } else {
      rules.push({ path, op: "$eq", value: v });
    }
  }
  return rules;
}

/** The condition rules make; two rules on one path and operator need `$and`. */
export function conditionOf(rules) {
  const out = {};
  const seen = new Set();
  let clash = false;
  for (const r of rules) {
    const key = `${r.path} ${r.op}`;
    if (seen.has(key)) clash = true;
    seen.add(key);
  }
  if (clash) return { $and: rules.map((r) => conditionOf([r])) };
  for (const r of rules) {
    if (r.op === "$eq" && !(r.path in out)) out[r.path] = r.value;
    else {
      const prev = out[r.path];
      const ops = prev !== null && typeof prev === "object" && !Array.isArray(prev) ? prev : prev === undefined ? {} : { $eq: prev };
      ops[r.op] = r.value;
      out[r.path] = ops;
    }
  }
  return out;
}

/** The builder: `onChange(condition)` on every edit. Returns its element and a setter. */
export function audienceBuilder(initial, onChange) {
  const rowsEl = h("div", { class: "rules" });
  const advanced = h("p", { class: "note", hidden: true }, t("conditionAdvanced"));
  const json = h("textarea", { id: "condition-json", rows: 5, spellcheck: "false", "data-path": "condition" });
  const jsonError = h("small", { class: "problem", role: "alert" });
  let rules = rulesOf(initial) ?? [];
  let condition = initial ?? {};

  function emit(fromJson) {
    if (!fromJson) {
      condition = conditionOf(rules);
      json.value = JSON.stringify(condition, null, 2);
    }
    onChange(condition);
  }

  function row(rule, i) {
    const kind = kindOf(rule.path);
    const attr = select(ATTRIBUTES.map((a) => [a.path, a.path]), template(rule.path), { "aria-label": `${t("audience")} ${i + 1}` });
    const named = (path) => path.replace("*", campaignOf(rule.path) ?? "*");
    const campaign = attr.value.includes("*")
      ? h("input", { value: campaignOf(rule.path) ?? "", placeholder: t("ruleCampaign"), "aria-label": `${t("audience")} ${i + 1} ${t("ruleCampaign")}` })
      : null;
    campaign?.addEventListener("input", () => {
      rules[i].path = attr.value.replace("*", campaign.value.trim() || "*");
      emit();
    });
    const op = select(OPERATORS[kind].map((o) => [o, o]), rule.op, { "aria-label": `${t("audience")} ${i + 1} operator` });
    let value;
    const enumValues = attributeOf(rule.path)?.values;
    if (kind === "bool" || rule.op === "$exists") {
      value = select([["true", "true"], ["false", "false"]], String(rule.value));
    } else if (enumValues && (rule.op === "$eq" || rule.op === "$ne")) {
      value = select(enumValues.map((v) => [v, v]), String(rule.value));
    } else {
      value = h("input", { value: showValue(rule.value ?? "") });
    }
    value.setAttribute("aria-label", `${t("audience")} ${i + 1} value`);
    attr.addEventListener("change", () => {
      const k = kindOf(attr.value);
      rules[i] = { path: named(attr.value), op: OPERATORS[k][0], value: k === "bool" ? true : k === "number" ? 0 : ATTRIBUTES.find((a) => a.path === attr.value)?.values?.[0] ?? "" };
      render();
      emit();
    });
    op.addEventListener("change", () => {
      rules[i].op = op.value;
      rules[i].value = parseValue(kind, op.value, showValue(rules[i].value));
      render();
      emit();
    });
    value.addEventListener(value.tagName === "INPUT" ? "input" : "change", () => {
      rules[i].value = parseValue(kind, rules[i].op, value.value);
      emit();
    });
    const remove = h("button", { type: "button", class: "link", onclick: () => { rules.splice(i, 1); render(); emit(); } }, t("removeRule"));
    return h("div", { class: "rule" }, attr, ...(campaign ? [campaign] : []), op, value, remove);
  }

  function render() {
    rowsEl.replaceChildren(...(rules.length ? rules.map(row) : [h("p", { class: "note" }, t("everyone"))]));
  }

  json.addEventListener("input", () => {
    jsonError.textContent = "";
    let parsed;
    try {
      parsed = JSON.parse(json.value || "{}");
    } catch (e) {
      jsonError.textContent = t("conditionInvalid", { error: e.message });
      return;
    }
    condition = parsed;
    const r = rulesOf(parsed);
    advanced.hidden = r !== null;
    rowsEl.hidden = r === null;
    if (r) {
      rules = r;
      render();
    }
    emit(true);
  });

  const add = h("button", { type: "button", onclick: () => { rules.push({ path: "lifecycle", op: "$eq", value: "new" }); render(); emit(); } }, t("addRule"));
  json.value = JSON.stringify(condition, null, 2);
  advanced.hidden = rulesOf(condition) !== null;
  rowsEl.hidden = !advanced.hidden;
  render();
  const el = h("div", { class: "audience" }, rowsEl, advanced, add,
    h("div", { class: "field" }, h("label", { for: "condition-json" }, t("conditionJson")), json, jsonError));
  return { el, get: () => condition };
}
