// Inside the preview iframe: the widget's real engine and renderer (the
// dashboard's `preview` build) draw each variant for an example shopper.
import init, { Preview } from "/admin/preview/dangol.js";

const ready = init({ module_or_path: "/admin/preview/dangol_bg.wasm" });
// An editor re-rendered while its preview frame still loads removes the
// frame and cancels the download: no unhandled rejection for that; a
// preview asked for later still sees the failure.
ready.catch(() => {});

/** Called by the dashboard (same origin): decides and renders. */
window.dangolPreview = async function show({ config, campaign, placement, attributes, lang }) {
  await ready;
  const slots = document.getElementById("slots");
  slots.replaceChildren();
  let preview;
  try {
    preview = Preview.compile(config);
  } catch (reason) {
    return { problems: [String(reason)] };
  }
  const problems = preview.problems();
  const decision = preview.decide(placement, attributes, lang, Date.now());
  const own = config.campaigns.find((c) => c.id === campaign);
  // A recommendations row is filled from the site's published model, as
  // it is now (revalidated: a model just built shows at once).
  const model = own?.variants.some((v) => v.content?.type === "recommendations")
    ? await fetch(`/v1/sites/${encodeURIComponent(config.site)}/recs`, { cache: "no-cache" })
      .then((r) => (r.ok ? r.text() : undefined), () => undefined)
    : undefined;
  const rendered = [];
  for (const v of own ? own.variants : []) {
    const label = document.createElement("div");
    label.className = "slot-label";
    label.textContent = `${campaign} / ${v.id}`;
    const slot = document.createElement("div");
    slot.dataset.dangolSlot = placement;
    slot.dataset.previewVariant = v.id;
    slots.append(label, slot);
    const error = preview.render(slot, campaign, v.id, attributes, lang, model);
    if (error) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = error;
      slots.append(p);
    }
    rendered.push({ variant: v.id, error: error ?? null });
  }
  preview.free();
  return { problems, decision, rendered };
};
document.documentElement.dataset.ready = "1";
