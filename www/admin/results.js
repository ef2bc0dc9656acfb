// Results: per campaign and variant, against the holdouts, with charts of
// the days, the bandit's allocation, the lifecycle mix and offers per day.
import { api, site as sitePath } from "./api.js";
import { h, select } from "./dom.js";
import { t, num, pct } from "./i18n.js";
import { lineChart, stackedShare, barChart, intervalChart } from "./charts.js";

const rate = (r) => (r ? `${pct(r.value)} (${pct(r.low)}–${pct(r.high)})` : "–");

function groupRow(name, g) {
  return h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, num(g.shoppers)), h("td", {}, num(g.converted)), h("td", {}, rate(g.rate)));
}

function table(caption, head, rows, cls) {
  return h("table", { class: cls },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows));
}

const fixed = (x) => (Math.round(x * 100) / 100).toLocaleString();
const interval = (r) => `${fixed(r.value)} (${fixed(r.low)}–${fixed(r.high)})`;
const score = (r) => `${Math.round(r.value * 100)} (${Math.round(r.low * 100)}–${Math.round(r.high * 100)})`;

/** Answers to a feedback question per variant: the mean for ratings, the
 *  net promoter score for 0–10, the share of each choice for choices. */
function feedbackTable(campaign, variants, scales) {
  const rows = variants.map((v) => {
    const f = v.feedback;
    const scale = scales[v.variant] ?? {};
    // A scale is "rating", "nps", or {kind: "choice", choices}.
    const kind = typeof scale === "string" ? scale : scale.kind;
    let summary;
    if (kind === "nps") summary = `${t("npsScore")}: ${score(f.nps)}`;
    else if (kind === "choice") {
      summary = (scale.choices ?? []).map((label, i) => `${label} ${pct((f.distribution[i] ?? 0) / f.answers)}`).join(" · ");
    } else summary = `${t("meanAnswer")}: ${interval(f.mean)}`;
    return h("tr", { "data-variant": v.variant },
      h("th", { scope: "row" }, v.variant),
      h("td", { "data-metric": "answers" }, num(f.answers)),
      h("td", { "data-metric": "feedback" }, summary));
  });
  return table(`${t("feedbackAnswers")} · ${campaign}`, [t("variant"), t("answers"), t("summary")], rows, "numbers feedback");
}

export async function results(view, ctx, days = 30) {
  const s = ctx.site;
  const [r, ins, list] = await Promise.all([
    api("GET", `${sitePath(s)}/results?days=${days}`),
    api("GET", `${sitePath(s)}/insights?days=${days}`),
    api("GET", `${sitePath(s)}/campaigns`),
  ]);
  const res = r.results;
  const insights = ins.insights;
  const names = Object.fromEntries(list.campaigns.map((c) => [c.id, c.campaign.name || c.id]));
  // How each feedback question is answered (rating, nps, choice), by campaign and variant.
  const scales = Object.fromEntries(list.campaigns.map((c) => [c.id, Object.fromEntries(
    (c.campaign.variants ?? []).filter((v) => v.content?.type === "feedback_question").map((v) => [v.id, v.content.scale ?? {}]))]));
  const windowSelect = select([["7", "7"], ["30", "30"], ["90", "90"]], String(days), { id: "days" });
  windowSelect.addEventListener("change", () => results(view, ctx, Number(windowSelect.value)));

  const overall = h("section", { class: "card", "aria-labelledby": "overall" },
    h("h2", { id: "overall" }, t("overall")),
    table(t("overall"), ["", t("shoppers"), t("converted"), t("conversionRate")],
      [groupRow(t("personalised"), res.personalised), groupRow(t("globalHoldout"), res.global_holdout)]),
    h("p", { class: "uplift" }, `${t("uplift")}: `, h("strong", {}, rate(res.uplift))),
    res.uplift ? intervalChart(t("overall"), [{ name: t("uplift"), ...res.uplift }]) : null,
    res.dropped_events ? h("p", { class: "note" }, t("droppedEvents", { n: num(res.dropped_events) })) : null);

  const campaigns = res.campaigns.map((c) => {
    const rows = c.variants.map((v) => h("tr", { "data-variant": v.variant },
      h("th", { scope: "row" }, v.variant),
      h("td", { "data-metric": "exposures" }, num(v.exposures)),
      h("td", { "data-metric": "shoppers" }, num(v.shoppers)),
      h("td", { "data-metric": "clicks" }, num(v.clicks)),
      h("td", { "data-metric": "click_rate" }, rate(v.click_rate)),
      h("td", { "data-metric": "claims" }, num(v.claims)),
      h("td", { "data-metric": "redemptions" }, num(v.redemptions)),
      h("td", { "data-metric": "conversions" }, num(v.conversions)),
      h("td", { "data-metric": "conversion_rate" }, rate(v.conversion_rate)),
      h("td", { "data-metric": "revenue_per_shopper" }, num(v.revenue_per_shopper)),
      h("td", { "data-metric": "dismissals" }, num(v.dismissals))));
    const charts = [];
    const answered = c.variants.filter((v) => v.feedback);
    const feedback = answered.length ? feedbackTable(c.campaign, answered, scales[c.campaign] ?? {}) : null;
    if (answered.length && c.daily.some((d) => d.answers)) {
      const withAnswers = c.daily.filter((d) => d.answers);
      charts.push(lineChart(`${t("meanAnswerDaily")} · ${c.campaign}`, withAnswers.map((d) => d.day),
        [{ name: t("meanAnswer"), values: withAnswers.map((d) => Math.round(d.mean_answer * 100) / 100) }]));
    }
    if (c.daily.length) {
      charts.push(lineChart(`${t("daily")} · ${c.campaign}`, c.daily.map((d) => d.day),
        [{ name: t("exposures"), values: c.daily.map((d) => d.exposures) }, { name: t("conversions"), values: c.daily.map((d) => d.conversions) }]));
    }
    const intervals = [];
    if (c.uplift) intervals.push({ name: t("upliftVsHoldout"), ...c.uplift });
    if (intervals.length) charts.push(intervalChart(`${t("upliftVsHoldout")} · ${c.campaign}`, intervals));
    const alloc = insights.allocation[c.campaign];
    if (alloc?.length && c.variants.length > 1) {
      const ids = c.variants.map((v) => v.variant);
      charts.push(stackedShare(`${t("allocationOverTime")} · ${c.campaign}`, alloc.map((d) => ({ day: d.day, parts: ids.map((v) => d.exposures[v] ?? 0) })), ids));
    }
    return h("section", { class: "card campaign-result", "data-campaign": c.campaign, "aria-labelledby": `res-${c.campaign}` },
      h("h2", { id: `res-${c.campaign}` }, names[c.campaign] ?? c.campaign, h("small", {}, ` ${c.campaign}`)),
      table(t("variants"), [t("variant"), t("exposures"), t("shoppers"), t("clicks"), t("clickRate"), t("claims"), t("redemptions"), t("conversions"), t("conversionRate"), t("revenuePerShopper"), t("dismissals")], rows, "numbers"),
      feedback,
      table(t("upliftVsHoldout"), ["", t("shoppers"), t("converted"), t("conversionRate")],
        [groupRow(t("personalised"), c.treated), groupRow(t("holdoutGroup"), c.holdout)]),
      h("p", { class: "uplift" }, `${t("upliftVsHoldout")}: `, h("strong", {}, rate(c.uplift))),
      h("div", { class: "charts" }, charts));
  });

  const stageNames = ins.stages;
  const lifecycle = insights.lifecycle.length
    ? stackedShare(t("lifecycleMix"), insights.lifecycle.map((d) => ({ day: d.day, parts: d.stages })), stageNames)
    : h("p", { class: "note" }, t("noData"));
  const freqLabels = insights.frequency.map((_, i) => (i === insights.frequency.length - 1 ? `${i + 1}+` : String(i + 1)));
  const frequency = h("section", { class: "card", "aria-labelledby": "freq" },
    h("h2", { id: "freq" }, t("frequency")),
    barChart(t("frequency"), freqLabels, insights.frequency),
    h("p", { class: "note" }, t("frequencyHelp", { most: insights.most_offers_in_a_day })));

  view.replaceChildren(
    h("h1", {}, t("results")),
    h("div", { class: "field inline-field" }, h("label", { for: "days" }, t("days")), windowSelect),
    overall,
    ...(campaigns.length ? campaigns : [h("p", { class: "note" }, t("noData"))]),
    h("section", { class: "card", "aria-labelledby": "mix" }, h("h2", { id: "mix" }, t("lifecycleMix")), lifecycle),
    frequency,
  );
}
