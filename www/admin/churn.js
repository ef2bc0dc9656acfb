// `#/churn`: the churn model fitted on the site's purchase histories: its
// parameters with their standard errors, how P(alive) spreads over the
// customers, and the valuable repeat customers most likely gone.
import { api, site as sitePath } from "./api.js";
import { h } from "./dom.js";
import { t, num, pct } from "./i18n.js";
import { barChart, lineChart } from "./charts.js";

const fixed = (x, d = 3) => Number(x).toLocaleString(undefined, { maximumSignificantDigits: d });

/** The page; `act` wraps a button's action so failures are shown. */
export async function churn(view, ctx, { editor, act }) {
  const s = ctx.site;
  const path = `${sitePath(s)}/churn-model`;
  const again = () => churn(view, ctx, { editor, act });
  const model = await api("GET", path).catch((e) => (e.status === 404 ? null : Promise.reject(e)));
  const fit = editor
    ? h("button", { type: "button", id: "fit-churn", onclick: act(async () => {
      await api("POST", path);
      ctx.flash(t("churnFitted"));
      await again();
    }) }, model ? t("churnRefit") : t("churnFit"))
    : null;
  const intro = h("section", { class: "card" },
    h("h1", {}, t("churn")),
    h("p", {}, t("churnHelp")),
    model ? h("p", { class: "note" }, t("churnFittedAt", { when: new Date(model.fitted_ms).toLocaleString(), n: num(model.bgnbd.customers) })) : h("p", { class: "note" }, t("churnNotFitted")),
    h("div", { class: "actions" }, fit));
  if (!model) {
    view.replaceChildren(intro);
    return;
  }
  const row = (name, value, se) => h("tr", { "data-param": name },
    h("th", { scope: "row" }, name), h("td", {}, fixed(value, 4)), h("td", {}, fixed(se, 2)));
  const b = model.bgnbd, g = model.gamma_gamma;
  const params = h("section", { class: "card" },
    h("h2", {}, t("churnParams")),
    h("table", { class: "numbers churn-params" },
      h("caption", {}, t("churnParams")),
      h("thead", {}, h("tr", {}, [t("parameter"), t("estimateCol"), t("stdError")].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {},
        row("r", b.r, b.std_errors.r), row("alpha", b.alpha, b.std_errors.alpha),
        row("a", b.a, b.std_errors.a), row("b", b.b, b.std_errors.b),
        row("p", g.p, g.std_errors.p), row("q", g.q, g.std_errors.q), row("v", g.v, g.std_errors.v))),
    h("p", { class: "note" }, t("churnLogLik", { ll: fixed(b.log_likelihood, 6), n: num(b.customers) })));
  const bins = model.p_alive_histogram ?? [];
  const spread = h("section", { class: "card" },
    h("h2", {}, t("pAliveSpread")),
    barChart(t("pAliveSpread"), bins.map((_, i) => `${i * 10}–${i * 10 + 10}%`), bins));
  const risky = (model.at_risk ?? []).map((c) => h("tr", { "data-customer": c.customer },
    h("th", { scope: "row" }, c.customer), h("td", {}, num(c.orders)), h("td", {}, num(c.revenue)),
    h("td", {}, num(c.days_since_last)), h("td", { "data-metric": "p_alive" }, pct(c.p_alive)), h("td", {}, num(Math.round(c.clv_90d)))));
  const atRisk = h("section", { class: "card" },
    h("h2", {}, t("atRiskCustomers")),
    risky.length
      ? h("table", { class: "numbers at-risk" },
        h("caption", {}, t("atRiskCustomers")),
        h("thead", {}, h("tr", {}, [t("customer"), t("ordersCol"), t("revenue"), t("daysSinceLast"), "P(alive)", t("clv90")].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, risky))
      : h("p", { class: "note" }, t("noData")));
  const hold = model.holdout;
  const round2 = (x) => Math.round(x * 100) / 100;
  const check = h("section", { class: "card holdout" },
    h("h2", {}, t("holdoutCheck")),
    hold
      ? [
        h("p", {}, t("holdoutSummary", { days: num(hold.days), n: num(hold.customers), predicted: num(Math.round(hold.predicted_purchases)), actual: num(hold.actual_purchases) })),
        lineChart(t("holdoutChart"), hold.by_repeat_purchases.map((r) => r.repeat_purchases),
          [{ name: t("predicted"), values: hold.by_repeat_purchases.map((r) => round2(r.predicted)) },
            { name: t("actual"), values: hold.by_repeat_purchases.map((r) => round2(r.actual)) }]),
      ]
      : h("p", { class: "note" }, t("holdoutTooFew")));
  view.replaceChildren(intro, params, spread, check, atRisk);
}
