// Building DOM safely: text always through textContent, never HTML.

/** `h("div", {class: "x", onclick: f}, "text", child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let ids = 0;
/** A labelled form field: the input gets an id, the label points at it. */
export function field(label, input, help) {
  const id = input.id || `f${++ids}`;
  input.id = id;
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input);
  if (help) {
    const hid = `${id}-help`;
    input.setAttribute("aria-describedby", hid);
    wrap.append(h("small", { id: hid, class: "help" }, help));
  }
  wrap.append(h("small", { class: "problem", role: "alert" }));
  return wrap;
}

export function select(options, value, attrs = {}) {
  return h("select", attrs, options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

export function numberOrNull(input) {
  const s = input.value.trim();
  if (s === "") return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : s;
}
