// The demo shop's own script: catalog, cart and a minimal consent bar (the
// part a shop's consent manager would play). It only talks to dangol through
// window.dangol, exactly as a real shop would.
(function () {
  var CATALOG = [
    { id: "knit-01", name: "Wool crew knit", category: "knit", price: 59000, color: "#c9a77c" },
    { id: "knit-02", name: "Cable cardigan", category: "knit", price: 72000, color: "#8d6e63" },
    { id: "coat-01", name: "Wool blend coat", category: "outer", price: 189000, color: "#455a64" },
    { id: "scarf-01", name: "Cashmere scarf", category: "acc", price: 39000, color: "#b71c1c" },
    { id: "boot-01", name: "Chelsea boots", category: "shoes", price: 129000, color: "#3e2723" },
    { id: "cap-01", name: "Knit beanie", category: "acc", price: 19000, color: "#1565c0" }
  ];
  var won = new Intl.NumberFormat("ko-KR", { style: "currency", currency: "KRW" });

  function store(key, value) {
    try {
      if (value === undefined) return JSON.parse(localStorage.getItem("demo-shop:" + key) || "null");
      localStorage.setItem("demo-shop:" + key, JSON.stringify(value));
    } catch (e) { return null; }
  }
  function cart() { return store("cart") || []; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function card(p) {
    var c = el("div", { class: "card", "data-product": p.id });
    var a = el("a", { href: "product.html?id=" + p.id });
    var sw = el("div", { class: "swatch" }); sw.style.background = p.color;
    a.appendChild(sw); a.appendChild(el("div", {}, p.name));
    a.appendChild(el("div", { class: "price" }, won.format(p.price)));
    c.appendChild(a);
    return c;
  }

  var grid = document.getElementById("products");
  if (grid) CATALOG.forEach(function (p) { grid.appendChild(card(p)); });

  var detail = document.getElementById("product");
  if (detail) {
    var id = new URLSearchParams(location.search).get("id") || CATALOG[0].id;
    var p = CATALOG.filter(function (x) { return x.id === id; })[0] || CATALOG[0];
    var sw = el("div", { class: "swatch" }); sw.style.background = p.color; sw.style.height = "280px";
    detail.appendChild(sw);
    detail.appendChild(el("h1", {}, p.name));
    detail.appendChild(el("p", { class: "price" }, won.format(p.price)));
    // GA4 ecommerce, as most shops already push it; dangol reads it too.
    var ga4Item = { item_id: p.id, item_name: p.name, item_category: p.category, price: p.price, quantity: 1 };
    window.dataLayer = window.dataLayer || [];
    window.dataLayer.push({ ecommerce: null });
    window.dataLayer.push({ event: "view_item", ecommerce: { currency: "KRW", value: p.price, items: [ga4Item] } });
    var add = el("button", { id: "add-to-cart" }, "Add to cart");
    add.addEventListener("click", function () {
      var c = cart(); c.push({ id: p.id, name: p.name, price: p.price }); store("cart", c);
      window.dataLayer.push({ ecommerce: null });
      window.dataLayer.push({ event: "add_to_cart", ecommerce: { currency: "KRW", value: p.price, items: [ga4Item] } });
      add.textContent = "Added ✓";
    });
    detail.appendChild(add);
  }

  var lines = document.getElementById("cart-lines");
  if (lines) {
    var total = 0;
    cart().forEach(function (item) {
      var tr = el("tr"); tr.appendChild(el("td", {}, item.name)); tr.appendChild(el("td", {}, won.format(item.price)));
      lines.appendChild(tr); total += item.price;
    });
    document.getElementById("cart-total").textContent = won.format(total);
  }

  var pay = document.getElementById("place-order");
  if (pay) pay.addEventListener("click", function () {
    var lines = cart();
    var total = lines.reduce(function (s, l) { return s + l.price; }, 0);
    withDangol(function (d) {
      d.track("purchase", {
        transaction_id: "demo-" + Date.now(), value: total, currency: "KRW",
        items: lines.map(function (l) { return { item_id: l.id, item_name: l.name, price: l.price, quantity: 1 }; })
      });
    });
    store("cart", []);
    document.getElementById("order-status").textContent = "Thank you! Your order is placed.";
  });

  // dangol.js loads async: it may come before or after this script.
  function withDangol(fn) {
    if (window.dangol) fn(window.dangol);
    else window.addEventListener("dangol:loaded", function () { fn(window.dangol); }, { once: true });
  }

  // A demo sign-in: the shop declares what it knows about its member.
  var login = document.getElementById("member-login");
  if (login) login.addEventListener("click", function () {
    withDangol(function (d) {
      d.set({ tier: "silver", points: 1200, name: "Minji" });
      // Reload once dangol has taken the call (it may still be loading).
      if (d.ready) location.reload();
      else window.addEventListener("dangol:ready", function () { location.reload(); }, { once: true });
    });
  });

  // The consent bar: the shop asks, dangol obeys.
  var bar = document.getElementById("consent-bar");
  var choice = store("consent");
  if (choice === "granted") withDangol(function (d) { d.consent.grant(); });
  if (bar && !choice) bar.hidden = false;
  function decide(granted) {
    store("consent", granted ? "granted" : "denied");
    withDangol(function (d) { granted ? d.consent.grant() : d.consent.deny(); });
    if (bar) bar.hidden = true;
  }
  var yes = document.getElementById("consent-accept");
  var no = document.getElementById("consent-decline");
  if (yes) yes.addEventListener("click", function () { decide(true); });
  if (no) no.addEventListener("click", function () { decide(false); });
  document.documentElement.setAttribute("data-shop-ready", "1");
})();
