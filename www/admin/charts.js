// Charts drawn as SVG by our own code: no library, no CDN, no web font.
// Every chart has a title and a table-like <desc> for screen readers.

const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#2563eb", "#f97316", "#16a34a", "#a855f7", "#dc2626", "#0891b2", "#ca8a04"];

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text != null) el.textContent = text;
  return el;
}

function frame(title, width, height, summary) {
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", width, height });
  root.append(svg("title", {}, title), svg("desc", {}, summary));
  return root;
}

function legend(root, names, y) {
  let x = 40;
  names.forEach((name, i) => {
    root.append(svg("rect", { x, y: y - 9, width: 10, height: 10, fill: PALETTE[i % PALETTE.length] }));
    root.append(svg("text", { x: x + 14, y, class: "legend" }, name));
    x += 18 + name.length * 7;
  });
}

/** Lines over days: `series` is [{name, values}] aligned with `days`. */
export function lineChart(title, days, series) {
  const W = 560, H = 220, L = 40, B = 40, T = 16;
  const root = frame(title, W, H, `${title}: ${series.map((s) => `${s.name} ${s.values.join(", ")}`).join("; ")}`);
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => L + (days.length <= 1 ? (W - L - 10) / 2 : (i * (W - L - 10)) / (days.length - 1));
  const y = (v) => H - B - (v / max) * (H - B - T);
  root.append(svg("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, class: "axis" }));
  root.append(svg("text", { x: 4, y: T + 4, class: "tick" }, formatTick(max)));
  root.append(svg("text", { x: 4, y: H - B, class: "tick" }, "0"));
  days.forEach((d, i) => {
    if (days.length <= 8 || i % Math.ceil(days.length / 8) === 0) {
      root.append(svg("text", { x: x(i) - 14, y: H - B + 14, class: "tick" }, d.slice(5)));
    }
  });
  series.forEach((s, k) => {
    const color = PALETTE[k % PALETTE.length];
    const points = s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    root.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": 2 }));
    s.values.forEach((v, i) => root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, fill: color })));
  });
  legend(root, series.map((s) => s.name), H - 6);
  return root;
}

/** Stacked 100 % bars per day: `rows` is [{day, parts: [n...]}], `names` the parts. */
export function stackedShare(title, rows, names) {
  const W = 560, H = 220, L = 40, B = 40, T = 10;
  const root = frame(title, W, H, `${title}: ${rows.map((r) => `${r.day} ${r.parts.join("/")}`).join("; ")}`);
  const bw = Math.max(4, Math.min(40, (W - L - 10) / Math.max(1, rows.length) - 4));
  rows.forEach((r, i) => {
    const total = r.parts.reduce((a, b) => a + b, 0) || 1;
    let top = T;
    const x = L + i * (bw + 4);
    r.parts.forEach((n, k) => {
      const h = (n / total) * (H - B - T);
      if (h > 0) {
        const rect = svg("rect", { x, y: top, width: bw, height: h, fill: PALETTE[k % PALETTE.length] });
        rect.append(svg("title", {}, `${r.day} ${names[k]}: ${n}`));
        root.append(rect);
      }
      top += h;
    });
    if (rows.length <= 8 || i % Math.ceil(rows.length / 8) === 0) {
      root.append(svg("text", { x, y: H - B + 14, class: "tick" }, r.day.slice(5)));
    }
  });
  root.append(svg("text", { x: 4, y: T + 8, class: "tick" }, "100%"));
  root.append(svg("text", { x: 4, y: H - B, class: "tick" }, "0%"));
  legend(root, names, H - 6);
  return root;
}

/** Plain bars with labels under them. */
export function barChart(title, labels, values) {
  const W = 560, H = 200, L = 40, B = 30, T = 16;
  const root = frame(title, W, H, `${title}: ${labels.map((l, i) => `${l} ${values[i]}`).join(", ")}`);
  const max = Math.max(1, ...values);
  const bw = (W - L - 10) / labels.length - 8;
  labels.forEach((label, i) => {
    const h = (values[i] / max) * (H - B - T);
    const x = L + i * (bw + 8);
    root.append(svg("rect", { x, y: H - B - h, width: bw, height: h, fill: PALETTE[0] }));
    root.append(svg("text", { x: x + bw / 2 - 6, y: H - B - h - 3, class: "tick" }, String(values[i])));
    root.append(svg("text", { x: x + bw / 2 - 6, y: H - B + 14, class: "tick" }, label));
  });
  root.append(svg("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, class: "axis" }));
  return root;
}

/** Point estimates with 95 % intervals around zero: [{name, value, low, high}]. */
export function intervalChart(title, rows) {
  const W = 560, rowH = 28, H = 30 + rows.length * rowH, L = 150;
  const root = frame(title, W, H, `${title}: ${rows.map((r) => `${r.name} ${fmtPct(r.value)} (${fmtPct(r.low)} to ${fmtPct(r.high)})`).join("; ")}`);
  const span = Math.max(0.01, ...rows.flatMap((r) => [Math.abs(r.low), Math.abs(r.high)]));
  const x = (v) => L + ((v + span) / (2 * span)) * (W - L - 20);
  root.append(svg("line", { x1: x(0), y1: 6, x2: x(0), y2: H - 18, class: "axis" }));
  root.append(svg("text", { x: x(0) - 4, y: H - 4, class: "tick" }, "0"));
  root.append(svg("text", { x: x(-span) - 10, y: H - 4, class: "tick" }, fmtPct(-span)));
  root.append(svg("text", { x: x(span) - 30, y: H - 4, class: "tick" }, fmtPct(span)));
  rows.forEach((r, i) => {
    const cy = 20 + i * rowH;
    const color = r.low > 0 ? PALETTE[2] : r.high < 0 ? PALETTE[4] : PALETTE[0];
    root.append(svg("text", { x: 4, y: cy + 4, class: "legend" }, r.name));
    root.append(svg("line", { x1: x(r.low), y1: cy, x2: x(r.high), y2: cy, stroke: color, "stroke-width": 3 }));
    root.append(svg("circle", { cx: x(r.value), cy, r: 5, fill: color }));
  });
  return root;
}

function fmtPct(v) {
  return `${(v * 100).toFixed(1)}%`;
}

function formatTick(n) {
  return n >= 1000 ? `${Math.round(n / 100) / 10}k` : String(Math.round(n * 100) / 100);
}
