// `#/segments`: the site's segments (built-in ones first) with their size,
// who entered and left each day, a sample of members, exports, and a form
// for a segment of one's own (a condition in the campaigns' language).
import { api, jsonLines, site as sitePath } from "./api.js";
import { h, field } from "./dom.js";
import { t, num, lang } from "./i18n.js";

const day = (d) => new Date(d * 86400000).toLocaleDateString(lang() === "ko" ? "ko-KR" : "en-US", { month: "short", day: "numeric", timeZone: "UTC" });

/** The page; `act` wraps a button's action so failures are shown. */
export async function segments(view, ctx, { editor, act }) {
  const s = ctx.site;
  const again = () => segments(view, ctx, { editor, act });
  const list = (await api("GET", `${sitePath(s)}/segments`)).segments;
  const cards = await Promise.all(list.map(async (seg) => {
    const path = `${sitePath(s)}/segments/${encodeURIComponent(seg.id)}`;
    const [one, sample] = await Promise.all([
      api("GET", `${path}?days=14`),
      seg.members ? jsonLines(`${path}/members?format=jsonl&limit=10`) : [],
    ]);
    const rows = one.days.map((d) => h("tr", {},
      h("th", { scope: "row" }, day(d.day)), h("td", {}, num(d.entered)), h("td", {}, num(d.left)), h("td", {}, num(d.members))));
    return h("section", { class: "card segment", "data-segment": seg.id },
      h("h2", {}, seg.name, " ", h("small", {}, seg.builtin ? t("builtIn") : seg.id)),
      h("p", { class: "members" }, t("segmentMembers", { n: num(seg.members) })),
      h("details", {}, h("summary", {}, t("condition")), h("pre", {}, JSON.stringify(seg.condition, null, 2))),
      h("div", { class: "actions" },
        editor ? h("button", { type: "button", onclick: act(async () => {
          const r = await api("POST", `${path}/refresh`);
          ctx.flash(t("segmentRefreshed", { n: num(r.members) }));
          await again();
        }) }, t("refreshNow")) : null,
        h("a", { class: "button", href: `${path}/members?format=csv`, download: `${seg.id}.csv` }, t("exportCsv")),
        h("a", { class: "button", href: `${path}/members?format=jsonl`, download: `${seg.id}.jsonl` }, t("exportJsonl")),
        editor && !seg.builtin ? h("button", { type: "button", class: "danger", onclick: act(async () => { await api("DELETE", path); await again(); }) }, t("delete")) : null),
      sample.length
        ? h("details", { class: "members-sample" }, h("summary", {}, t("membersSample", { n: num(sample.length) })),
          h("ul", {}, sample.map((m) => h("li", {}, m.customer_id ? `${m.customer_id} (${m.anon})` : m.anon))))
        : null,
      rows.length
        ? h("table", { class: "segment-days" }, h("caption", {}, t("segmentDays")),
          h("thead", {}, h("tr", {}, [t("day"), t("entered"), t("left"), t("members")].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, rows))
        : null);
  }));
  const id = h("input", { type: "text", required: true, pattern: "[A-Za-z0-9_-]{1,64}", autocomplete: "off" });
  const name = h("input", { type: "text", required: true, maxlength: "100", autocomplete: "off" });
  const condition = h("textarea", { rows: "4", required: true, spellcheck: "false" }, '{"lifecycle": "dormant", "rfm.m": {"$gte": 3}}');
  const make = h("form", { class: "new-segment", onsubmit: act(async (e) => {
    e.preventDefault();
    let parsed;
    try { parsed = JSON.parse(condition.value); } catch (err) { throw new Error(t("conditionNotJson", { message: err.message })); }
    const made = await api("POST", `${sitePath(s)}/segments`, { id: id.value.trim(), name: name.value.trim(), condition: parsed });
    ctx.flash(t("segmentMade", { n: num(made.members) }));
    await again();
  }) }, field(t("id"), id, t("idHelp")), field(t("name"), name), field(t("condition"), condition, t("segmentConditionHelp")),
  h("button", { type: "submit", class: "primary" }, t("addSegment")));
  view.replaceChildren(
    h("h1", {}, t("segments")),
    h("section", { class: "card" }, h("p", { class: "note" }, t("segmentsHelp")), editor ? make : h("p", { class: "note" }, t("editorsOnly"))),
    ...cards);
}
