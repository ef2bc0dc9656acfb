// `#/webhooks`: the site's webhook endpoints (owners only): add one, see and
// rotate its secret, send a test, enable or disable it, and read its
// delivery log with every attempt, replaying a message when needed.
import { api, site as sitePath } from "./api.js";
import { h, field } from "./dom.js";
import { t, lang } from "./i18n.js";

const when = (ms) => (ms ? new Date(ms).toLocaleString(lang() === "ko" ? "ko-KR" : "en-US") : "");

/** The page; `act` wraps a button's action so failures are shown. */
export async function webhooks(view, ctx, { owner, act }) {
  const s = ctx.site;
  const again = () => webhooks(view, ctx, { owner, act });
  if (!owner) {
    view.replaceChildren(h("h1", {}, t("webhooks")), h("section", { class: "card" }, h("p", { class: "note" }, t("webhooksOwners"))));
    return;
  }
  const list = await api("GET", `${sitePath(s)}/webhooks`);
  const url = h("input", { type: "url", required: true, placeholder: "https://crm.example/hooks/dangol", autocomplete: "off" });
  const description = h("input", { type: "text", maxlength: "200", autocomplete: "off" });
  const boxes = list.event_types.map((e) => h("label", { class: "check" },
    h("input", { type: "checkbox", value: e, checked: e !== "webhook.test" }), ` ${e}`));
  const add = h("form", { class: "inline-form new-webhook", onsubmit: act(async (e) => {
    e.preventDefault();
    const events = boxes.map((b) => b.firstChild).filter((c) => c.checked).map((c) => c.value);
    const made = await api("POST", `${sitePath(s)}/webhooks`, { url: url.value.trim(), events, description: description.value.trim() });
    await again();
    ctx.flash(t("webhookMade", { id: made.id }));
  }) },
  field(t("webhookUrl"), url),
  field(t("description"), description),
  h("fieldset", { class: "events" }, h("legend", {}, t("webhookEvents")), boxes),
  h("button", { type: "submit", class: "primary" }, t("addWebhook")));

  const cards = await Promise.all(list.endpoints.map(async (e) => {
    const [one, log] = await Promise.all([
      api("GET", `${sitePath(s)}/webhooks/${e.id}`),
      api("GET", `${sitePath(s)}/webhooks/${e.id}/messages?limit=20`),
    ]);
    const path = `${sitePath(s)}/webhooks/${e.id}`;
    const secret = h("code", { class: "secret", hidden: true }, one.secret);
    const show = h("button", { type: "button", class: "link", "aria-expanded": "false", onclick: () => {
      secret.hidden = !secret.hidden;
      show.setAttribute("aria-expanded", String(!secret.hidden));
    } }, t("showSecret"));
    const rows = log.messages.map((m) => {
      const last = m.log[m.log.length - 1];
      return h("tr", { "data-message": m.id },
        h("th", { scope: "row" }, h("code", {}, m.id)),
        h("td", {}, m.type),
        h("td", {}, t(`ws_${m.state}`)),
        h("td", {}, String(m.log.length)),
        h("td", {}, last ? (last.error || `HTTP ${last.status}`) : ""),
        h("td", {}, when(m.state === "pending" ? m.next_ms : m.delivered_ms)),
        h("td", {}, m.state === "pending" ? null : h("button", { type: "button", class: "link", onclick: act(async () => {
          await api("POST", `${path}/messages/${m.id}/replay`);
          await again();
        }) }, t("replay"))));
    });
    return h("section", { class: "card webhook", "data-webhook": e.id },
      h("h2", {}, e.url),
      h("p", { class: "note" }, e.description || "", " ", h("small", {}, e.id)),
      h("p", { class: e.enabled ? "note" : "problem", role: "status" },
        e.enabled ? t("webhookOn") : t("webhookOff", { reason: e.disabled_reason || "" })),
      h("p", {}, t("webhookEvents"), ": ", e.events.join(", ")),
      h("p", {}, t("webhookQueue", one.messages)),
      h("p", {}, show, " ", secret),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: act(async () => { await api("POST", `${path}/test`); ctx.flash(t("testQueued")); await again(); }) }, t("sendTest")),
        h("button", { type: "button", onclick: act(async () => { await api("POST", `${path}/secret`); await again(); ctx.flash(t("secretRotated")); }) }, t("rotateSecret")),
        h("button", { type: "button", onclick: act(async () => { await api("PUT", path, { enabled: !e.enabled }); await again(); }) }, e.enabled ? t("disable") : t("enable")),
        h("button", { type: "button", class: "danger", onclick: act(async () => { await api("DELETE", path); await again(); }) }, t("delete"))),
      rows.length
        ? h("table", { class: "deliveries" },
          h("caption", {}, t("deliveryLog")),
          h("thead", {}, h("tr", {}, [t("messageId"), t("type"), t("status"), t("attempts"), t("lastAnswer"), t("when"), ""].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, rows))
        : h("p", { class: "note" }, t("noMessages")));
  }));
  view.replaceChildren(
    h("h1", {}, t("webhooks")),
    h("section", { class: "card" }, h("p", { class: "note" }, t("webhooksHelp")), add),
    ...(cards.length ? cards : [h("p", { class: "note" }, t("noWebhooks"))]));
}
