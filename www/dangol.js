/*! dangol loader: one async script tag; never blocks rendering, never throws into the page. */
(function (w, d) {
  var s = d.currentScript;
  if (!s || (w.dangol && w.dangol.loader)) return;
  try { performance.mark("dangol:start"); } catch (e) { /* no User Timing */ }
  var src = new URL(s.src, location.href);
  var site = s.getAttribute("data-site") || "";
  var endpoint = s.getAttribute("data-endpoint") || src.origin;
  var key = s.getAttribute("data-key") || "";
  // The site's keys in localStorage: "dangol:<site>:<name>".
  var prefix = "dangol:" + site + ":";
  var base = new URL("pkg/", src);
  // Pages that sign shoppers in (dangol.identify) load the identity build.
  var first = s.hasAttribute("data-identify") ? "id/" : "";
  // The build this loader belongs to (the build writes it in). The widget's
  // files are asked for by it, so a loader cached from before an upgrade
  // never pairs one build's glue with another's wasm.
  var build = "DANGOL_BUILD";
  var v = /^[0-9a-f]+$/.test(build) ? "?v=" + build : "";
  var widget = null; // the widget's module, once it started
  var queue = [];
  // The widget's calls, numbered by their place here (the build writes in
  // the engine's list, `dangol_engine::calls::NAMES`; in the unbuilt source
  // no name is found, so a call does nothing).
  var CALLS = "DANGOL_CALLS";
  function call(name, args) {
    if (!widget) { queue.push([name, args]); return; }
    try { return widget.call(CALLS.indexOf(name), args[0], args[1]); }
    catch (e) { console.warn("dangol: " + name + "() failed (" + e + "); the page is unaffected"); }
  }
  function api(name) { return function () { return call(name, [].slice.call(arguments)); }; }
  w.dangol = {
    loader: 1,
    consent: { grant: api("grant"), deny: api("deny"), status: api("consentStatus"), purposes: api("consentPurposes") },
    track: api("track"),
    set: api("set"),
    decisions: api("decisions"),
    // Resolves once the widget has loaded (the profile's JSON is the
    // second module's work).
    export: function () { return new Promise(function (ok) { call("export", [ok]); }); },
    forget: api("forget"),
    identify: api("identify"),
    on: api("on"),
    refresh: api("refresh"),
    destroy: function () {
      call("destroy", []);
      unwatch.splice(0).forEach(function (f) { f(); });
      dl.push = push;
      for (var m in patched) history[m] = patched[m];
      w.removeEventListener("popstate", onPop);
      w.removeEventListener("pagehide", onHide);
      widget = null;
      queue = [];
      listening = null;
      delete w.dangol;
    }
  };
  // GA4 e-commerce events and Consent Mode calls pushed to dataLayer,
  // including those made before dangol loaded. Tag managers push DOM nodes,
  // cyclic objects and huge arrays too: only the fields dangol reads are
  // copied (the widget walks the copy within its budget), and the rest of
  // an entry is never touched. The build writes in the engine's lists:
  // [events, event fields, item fields, the most items read].
  var GA4 = "DANGOL_GA4";
  function layer(e) {
    function pick(from, fields) {
      var out = {};
      fields.forEach(function (f) { if (from[f] !== undefined) out[f] = from[f]; });
      return out;
    }
    function object(v) { return v && typeof v == "object"; }
    try {
      if (!object(e) || typeof GA4 == "string") return;
      // gtag("consent", "default" | "update", {...}) pushes its arguments.
      if (e[0] == "consent") {
        var s = object(e[2]) ? e[2] : {};
        return call("consentMode", ["" + e[1], [s.personalization_storage, s.analytics_storage]]);
      }
      if (GA4[0].indexOf(e.event) < 0) return;
      var ec = object(e.ecommerce) ? e.ecommerce : {}, props = pick(ec, GA4[1]), items = ec.items;
      if (Array.isArray(items)) {
        props.items = items.slice(0, GA4[3]).map(function (i) { return object(i) ? pick(i, GA4[2]) : null; });
      }
      call("dataLayer", [e.event, props]);
    } catch (x) { /* an entry that throws when read is not one dangol reads */ }
  }
  var dl = (w.dataLayer = w.dataLayer || []);
  var patched = {};
  var seen = dl.length;
  var push = dl.push;
  dl.push = function () {
    var r = push.apply(dl, arguments);
    for (var i = 0; i < arguments.length; i++) layer(arguments[i]);
    return r;
  };
  // Single-page apps: route changes are page views.
  ["pushState", "replaceState"].forEach(function (m) {
    var orig = history[m];
    if (typeof orig !== "function") return;
    patched[m] = orig;
    history[m] = function () {
      var r = orig.apply(this, arguments);
      call("navigate", []);
      return r;
    };
  });
  function onPop() { call("navigate", []); }
  w.addEventListener("popstate", onPop);
  // The shopper's consent actions (grant, deny, forget) made before the
  // widget loaded must not be lost when they leave the page first: they
  // are kept for the next page's widget, which takes them and removes the
  // key (the engine's rules, `Key::Queued`). Nothing else queued is kept,
  // nothing is written when the widget loaded, and the record stays short
  // (a forget() in it always stays).
  function onHide() {
    if (widget || !w.dangol) return;
    try {
      var k = prefix + "queued", old = localStorage.getItem(k), all = old ? old.split(" ") : [];
      queue.forEach(function (c) {
        // grant(list) as "grant:a,b" (an array joins with commas).
        if (/^(grant|deny|forget)$/.test(c[0])) all.push(c[0] + (Array.isArray(c[1][0]) ? ":" + c[1][0] : ""));
      });
      if (all.length > 8) all = (all.indexOf("forget") < 0 ? [] : ["forget"]).concat(all.slice(-7));
      if (all.join(" ") != (old || "")) localStorage.setItem(k, all.join(" "));
    } catch (e) { /* storage blocked: nothing can be kept */ }
  }
  w.addEventListener("pagehide", onHide);
  // Calls made now are queued until the wasm is ready; pages that ran before
  // this script wait for this event to find window.dangol.
  try { w.dispatchEvent(new Event("dangol:loaded")); } catch (e) { /* very old browser */ }
  // A promise that resolves in a later task (ahead of other queued tasks
  // where the browser has scheduler.yield): the page's input and paint run
  // in between, so the widget never makes a long task.
  function nextTask() {
    var s = w.scheduler;
    return s && s.yield ? s.yield() : new Promise(function (r) { setTimeout(r, 0); });
  }
  // A first visit (no config stored) asks for the config now, while the
  // wasm loads, rather than after it: the same anonymous request, sooner.
  var config = null;
  try {
    if (/^[\w-]{1,64}$/.test(site) && /^https?:\/\//.test(endpoint) && !localStorage.getItem(prefix + "config")) {
      config = fetch(endpoint.replace(/\/+$/, "") + "/v1/sites/" + site + "/config/compact", {
        mode: "cors", credentials: "omit", referrerPolicy: "no-referrer", signal: AbortSignal.timeout ? AbortSignal.timeout(8000) /* the widget's TIMEOUT_MS */ : undefined
      });
      config.catch(function () { /* the widget reports it */ });
    }
  } catch (e) { config = null; /* storage blocked: the widget asks itself */ }
  // A module's wasm as the build packs it (xtask/src/pack.rs): the code's
  // opcodes and each kind of operand in a stream of its own, which
  // compress a sixth smaller than the instructions as they come. The
  // decoder (crates/unpack, a wasm of its own that comes in front of the
  // first module's pack) puts it back together byte for byte, in a memory
  // of its own that goes once the module is compiled.
  var decoder;
  function unpack(b, A) {
    var i = 0, n, m, c, e, at;
    // A pack's numbers: the decoder's length (0 for none), then the
    // module's size.
    function leb() {
      for (n = 0, m = 1; c = b[i++], n += (c & 127) * m, c > 127; m *= 128);
      return n;
    }
    if (leb()) decoder = new A.Module(b.subarray(i, i += n));
    b = b.subarray(i);
    i = 0;
    e = new A.Instance(decoder).exports;
    at = e.memory.grow(Math.ceil((b.length + leb() + 5) / 65536)) * 65536;
    new Uint8Array(e.memory.buffer).set(b, at);
    return new Uint8Array(e.memory.buffer, at + b.length, e.u(at, b.length, at + b.length, n + 5));
  }
  // A module's wasm, fetched without the page's URL, unpacked and
  // compiled; the glue only instantiates what this hands it.
  function compile(path) {
    var A = w.WebAssembly;
    if (!A) return Promise.reject(new Error("this browser has no WebAssembly"));
    return fetch(new URL(path + "dangol_bg.pack" + v, base), { referrerPolicy: "no-referrer" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status + " for " + r.url);
      return r.arrayBuffer();
    }).then(function (b) {
      try {
        b = unpack(new Uint8Array(b), A);
      } catch (e) {
        throw new Error(path + "dangol_bg.pack does not unpack (" + e.message + ")");
      }
      return A.compile(b);
    });
  }
  // The wasm downloads and compiles from here on.
  var wasm = compile(first);
  wasm.catch(function () { /* reported by init below */ });
  // The widget's second module ("more/": overlays, coupons, loyalty and
  // feedback prompts, the words of "Why this offer?") and its third
  // ("rare/": the profile's JSON form, for dangol.export() and upgrading an
  // earlier widget's profile): each imported once, on first use.
  var loaded = {};
  function load(path) {
    return loaded[path] || (loaded[path] = import(new URL(path + "dangol.js" + v, base).href).then(function (m) {
      return m.default(compile(path)).then(function () { return m; });
    }).catch(function (e) { delete loaded[path]; throw e; }));
  }
  // The widget's I/O. Each request carries an id; its answer goes back
  // through the widget's "answer" call, always from a promise
  // callback (never inside the call that asked), an error as its message.
  function answer(id, work) {
    new Promise(function (ok) { ok(work()); })
      .catch(function (e) { return "" + (e && e.message || e); })
      .then(function (value) {
        tell("answer", id, value);
      });
  }
  // What the page and the shopper do, reported as the widget's calls.
  function tell(name, a, b) {
    if (widget) try { widget.call(CALLS.indexOf(name), a, b); } catch (e) { /* the widget reports its own problems */ }
  }
  function report(kind, value) { tell("page", kind, value); }
  // An action on the offer `handle`: 0 click, 1 dismiss, 2 answer (the
  // rating), 3 claim (the slot), 4 personalisation off, 5 coupon code
  // shown, 6 "Why this offer?" opened (where its words go), 7 seen.
  function act(handle, code, arg) { tell("offer", handle, [code, arg]); }
  var TIMEOUT_MS = 8000; // the widget's TIMEOUT_MS
  var unwatch = [];
  var sheet = null;
  function observe(observer, node) {
    observer.observe(node);
    unwatch.push(function () { observer.disconnect(); });
  }
  // The page's signals, reported as the widget's "page" call (kind, value):
  // 0 scroll [depth %, scrollY], 1 exit intent (the pointer left through
  // the top edge), 2 a tracked click [name, properties],
  // 3 visibility, 4 input, 5 a second passed, 6 elements added, 7 another
  // tab changed localStorage [key, newValue]. The listeners are added in a
  // task of their own while the wasm loads: before the widget reads storage,
  // so no other tab's change can fall between the two, and not in the
  // widget's first task, which paints the first offer (adding a `storage`
  // listener can take a millisecond or more). What they hear before the
  // widget starts is dropped: it reads the page and storage when it starts.
  function listen() {
    if (!listening) return; // destroyed before
    function on(target, name, f, passive) {
      target.addEventListener(name, f, passive);
      unwatch.push(function () { target.removeEventListener(name, f, passive); });
    }
    var passive = { passive: true };
    var root = d.documentElement;
    on(w, "scroll", function () {
      var h = root.scrollHeight;
      report(0, [h > 0 ? (w.scrollY + w.innerHeight) / h * 100 : 0, w.scrollY]);
    }, passive);
    on(d, "mouseout", function (e) { if (!e.relatedTarget && e.clientY <= 0) report(1); });
    // A click inside [data-dangol-track="name"]: the name and GA4-style
    // properties from the element's data-dangol-* attributes (numbers
    // parsed where GA4 has numbers).
    on(d, "click", function (e) {
      var marked = e.target && e.target.closest && e.target.closest("[data-dangol-track]");
      if (!marked) return;
      var props = {};
      ["item-id", "item-name", "item-category", "item-brand", "price", "quantity", "value", "currency", "transaction-id"].forEach(function (attr, i) {
        var raw = marked.getAttribute("data-dangol-" + attr), n = parseFloat(raw);
        if (raw != null) props[attr.replace("-", "_")] = i > 3 && i < 7 && isFinite(n) ? n : raw;
      });
      report(2, [marked.getAttribute("data-dangol-track"), props]);
    });
    function visibility() { report(3, !d.hidden); }
    on(d, "visibilitychange", visibility);
    on(w, "pagehide", visibility);
    ["pointermove", "pointerdown", "keydown", "touchstart", "wheel"].forEach(function (name) {
      on(d, name, function () { report(4); }, passive);
    });
    on(w, "storage", function (e) { report(7, [e.key, e.newValue]); });
  }
  var listening = nextTask().then(listen);
  var host = {
    // Anonymous requests (no cookies, no page URL) with a timeout; a batch
    // of events only while no other tab of the site holds `lock`. The
    // first config request may be the one started above.
    req: function (id, method, url, body, key, etag, lock) {
      answer(id, function () {
        var headers = {};
        if (body) headers["Content-Type"] = "application/json";
        if (key) headers["X-Dangol-Key"] = key;
        if (etag) headers["If-None-Match"] = etag;
        function go() {
          var abort = new AbortController();
          var timer = setTimeout(function () { abort.abort(); }, TIMEOUT_MS);
          var started = method == "GET" && config;
          if (method == "GET") config = null;
          return (started || fetch(url, {
            method: method, headers: headers, body: body || null, keepalive: method != "GET",
            mode: "cors", credentials: "omit", referrerPolicy: "no-referrer", signal: abort.signal
          })).then(function (r) {
            function h(name) { return r.headers.get(name); }
            return r.text().then(function (text) {
              clearTimeout(timer);
              // Retry-After in seconds (the server never sends a date), as ms.
              var retry = parseInt(h("Retry-After"), 10);
              return [r.status, text, h("ETag"), h("X-Dangol-Signature"), retry >= 0 ? retry * 1000 : null];
            });
          }, function (e) {
            clearTimeout(timer);
            throw e && /^(Abort|Timeout)Error$/.test(e.name) ? "no answer within " + TIMEOUT_MS + " ms" : e;
          });
        }
        var locks = lock && navigator.locks;
        // The config's revalidation waits a task: the first offer, drawn
        // from the stored config in the task that asks, paints first.
        return locks ? locks.request(lock, { ifAvailable: true }, function (held) { return held ? go() : -1; })
          : method == "GET" && !config ? nextTask().then(go) : go();
      });
    },
    // Ed25519 in WebCrypto: 1 signed, 0 not, 2 this browser cannot check.
    verify: function (id, key, signature, text) {
      answer(id, function () { return host.check(key, signature, text); });
    },
    // The same check as a promise (the second module's, for the
    // recommendations model).
    check: function (key, signature, text) {
      return new Promise(function (ok) {
        var subtle = w.crypto && crypto.subtle;
        var alg = { name: "Ed25519" };
        function bytes(b64) { return Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); }); }
        if (!subtle) return ok(2);
        ok(subtle.importKey("raw", bytes(key), alg, false, ["verify"]).then(function (k) {
          return subtle.verify(alg, k, bytes(signature), new TextEncoder().encode(text)).then(function (good) { return good ? 1 : 0; });
        }, function (e) {
          if (e && e.name == "NotSupportedError") return 2;
          throw e;
        }));
      });
    },
    // Answers in a later task, or after `ms`.
    later: function (id, ms) {
      answer(id, function () { return ms ? new Promise(function (r) { setTimeout(r, ms); }) : nextTask(); });
    },
    // The page's TCF consent manager: false without one; else listens to
    // it (each answer reported as 8, tcData) and returns its answer if it
    // gave one at once, else true.
    tcf: function () {
      var api = w.__tcfapi, first = true, live = false;
      if (typeof api != "function") return false;
      try {
        api("addEventListener", 2, function (data, ok) {
          if (!ok) return;
          if (live) report(8, data); else first = data;
        });
      } catch (e) { /* a broken consent manager is no signal */ }
      live = true;
      return first;
    },
    // The offer `handle`'s actions, for the second module to report.
    sink: function (handle) { return function (code, arg) { act(handle, code, arg); }; },
    // "Actually seen": at least half of `node` in view for a full second
    // while the page is visible; reported once (7).
    seen: function (node, handle) {
      var timer = null;
      function arm() {
        timer = setTimeout(function () {
          if (d.hidden) return arm();
          observer.disconnect();
          act(handle, 7);
        }, 1000);
      }
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (!(e.isIntersecting && e.intersectionRatio >= 0.499)) { clearTimeout(timer); timer = null; }
          else if (!timer) arm();
        });
      }, { threshold: [0, 0.5] });
      observe(observer, node);
    },
    // A banner in a slot, in Shadow DOM, its text as text (never HTML),
    // styled by the shared sheet (`css`), with "Why this offer?" when
    // `why` is given. Returns the banner's element.
    banner: function (slot, handle, campaign, css, theme, headline, body, image, ctaText, ctaUrl, why, off) {
      function el(tag, cls, parent, text) {
        var e = d.createElement(tag);
        e.className = cls;
        e.setAttribute("part", cls);
        if (text) e.textContent = text;
        if (parent) parent.appendChild(e);
        return e;
      }
      var root = slot.shadowRoot;
      // Only a root the widget made itself is reused; never the shop's.
      if (root && !slot.hasAttribute("data-dangol-host")) throw "the slot already has a shadow root of its own";
      if (!root) {
        root = slot.attachShadow({ mode: "open" });
        slot.setAttribute("data-dangol-host", "");
      }
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(css);
      }
      root.adoptedStyleSheets = [sheet];
      var node = el("div", "banner");
      node.setAttribute("data-theme", theme);
      node.setAttribute("role", "region");
      node.setAttribute("aria-label", headline);
      if (image) {
        var img = el("img", "image", node);
        img.setAttribute("src", image);
        img.setAttribute("alt", "");
      }
      var text = el("div", "text", node);
      el("p", "headline", text, headline);
      if (body) el("p", "body", text, body);
      if (ctaUrl) {
        var link = el("a", "cta", node, ctaText);
        link.setAttribute("href", ctaUrl);
        link.addEventListener("click", function () { act(handle, 0); });
      }
      root.replaceChildren(node);
      if (why) {
        var button = el("button", "why", node, why);
        button.type = "button";
        button.setAttribute("aria-expanded", "false");
        var panel = el("div", "explain", root);
        panel.hidden = true;
        var words = el("p", "explain-text", panel);
        var offButton = el("button", "off", panel, off);
        offButton.type = "button";
        button.addEventListener("click", function () {
          var open = panel.hidden;
          if (open && !words.textContent) act(handle, 6, words);
          panel.hidden = !open;
          button.setAttribute("aria-expanded", "" + open);
        });
        offButton.addEventListener("click", function () {
          act(handle, 4);
          // The slot gets the shop's own content back.
          root.replaceChildren(d.createElement("slot"));
        });
      }
      slot.setAttribute("data-dangol-rendered", campaign);
      return node;
    },
    // Takes an offer off: an overlay is removed; a slot the widget rendered
    // into gets the shop's own content back.
    clear: function (e) {
      if (e.hasAttribute("data-dangol-overlay")) return e.remove();
      var root = e.shadowRoot;
      if (root && e.hasAttribute("data-dangol-rendered")) root.replaceChildren(d.createElement("slot"));
      e.removeAttribute("data-dangol-rendered");
    },
    // The timers and the observer behind the page's signals (see `listen`).
    watch: function () {
      var tick = setInterval(function () { report(5); }, 1000);
      unwatch.push(function () { clearInterval(tick); });
      var added = new MutationObserver(function () { report(6); });
      added.observe(d.documentElement, { childList: true, subtree: true });
      unwatch.push(function () { added.disconnect(); });
    },
    more: function (id) { answer(id, function () { return load("more/"); }); },
    rare: function (id) { answer(id, function () { return load("rare/"); }); },
    // What the page says about itself, read afresh: [page type, category
    // (its dangol:* meta tags), URL, path, query, referrer, viewport
    // width, the browser's language, Global Privacy Control, the page's
    // own language, hidden].
    page: function () {
      function meta(name) {
        var m = d.querySelector('meta[name="dangol:' + name + '"]');
        return m && m.getAttribute("content");
      }
      var n = navigator;
      return [meta("page-type"), meta("category"), location.href, location.pathname, location.search, d.referrer,
        w.innerWidth, n.language, n.globalPrivacyControl, d.documentElement.getAttribute("lang"), d.hidden];
    },
    // Every slot: [placement, element, placement, element...].
    slots: function () {
      var out = [];
      d.querySelectorAll("[data-dangol-slot]").forEach(function (e) { out.push(e.getAttribute("data-dangol-slot"), e); });
      return out;
    },
    online: function () { return navigator.onLine !== false; },
    // `n` random bytes as hex ("" without crypto).
    hex: function (n) {
      var c = w.crypto;
      return c ? Array.from(c.getRandomValues(new Uint8Array(n)), function (b) { return (b | 256).toString(16).slice(1); }).join("") : "";
    },
    // A number in language `tag`: an amount of `currency`, or with at
    // most two decimals.
    num: function (tag, n, currency) {
      try {
        return new Intl.NumberFormat(tag, currency ? { style: "currency", currency: currency } : { maximumFractionDigits: 2 }).format(n);
      } catch (e) { return "" + n; }
    },
    // The site's keys in localStorage ("dangol:<site>:<name>"): op 0 reads
    // `name` (null when absent or unreadable), 1 writes `value`, 2 removes
    // `name`, 3 lists the names starting with `name`, 4 removes every key
    // of the site, 5 checks that storage can be used. A failure answers
    // its message (3: an empty list).
    store: function (op, name, value) {
      try {
        var ls = localStorage, mine = [], i, k, key = prefix + name;
        if (!ls) throw "localStorage is not available";
        if (!op) return ls.getItem(key);
        if (op == 1) ls.setItem(key, value);
        if (op == 2) ls.removeItem(key);
        if (op == 3 || op == 4) {
          for (i = 0; i < ls.length; i++) if ((k = ls.key(i)) && !k.indexOf(key)) mine.push(k);
          if (op == 3) return mine.map(function (k) { return k.slice(prefix.length); });
          mine.forEach(function (k) { ls.removeItem(k); });
        }
      } catch (e) { return op ? (op == 3 ? [] : "" + (e && e.message || e)) : null; }
    }
  };
  // The first module's glue: the build writes it in here, as a function
  // returning what wasm-bindgen's module exports, so a first visit fetches
  // the loader and the wasm and nothing else. The identity build has the
  // first module's import and export names, so the same glue takes it.
  // (The unbuilt source imports the glue.)
  var glue = /* DANGOL_GLUE */ null;
  (glue ? Promise.resolve().then(glue) : import(new URL(first + "dangol.js" + v, base).href))
    .then(function (m) {
      // The widget starts in a task of its own, so the page's input and
      // paint can run between instantiating the wasm and starting it.
      return m.default(wasm).then(function () { return listening; }).then(nextTask).then(function () {
        if (!w.dangol) return; // destroyed before it loaded
        m.start(site, endpoint, key, host);
        widget = m;
        for (var i = 0; i < seen; i++) layer(dl[i]);
        queue.splice(0).forEach(function (c) { call(c[0], c[1]); });
        w.dangol.ready = true;
        try { w.dispatchEvent(new Event("dangol:ready")); } catch (e) { /* very old browser */ }
      });
    })
    .catch(function (e) { console.warn("dangol: the widget could not load (" + e + "); the page is unaffected"); });
})(window, document);
