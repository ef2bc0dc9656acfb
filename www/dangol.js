/*! dangol loader: one async script tag; never blocks rendering, never throws into the page. */
(function (w, d) {
  var s = d.currentScript;
  if (!s || (w.dangol && w.dangol.loader)) return;
  try { performance.mark("dangol:start"); } catch (e) { /* no User Timing */ }
  var src = new URL(s.src, location.href);
  var site = s.getAttribute("data-site") || "";
  var endpoint = s.getAttribute("data-endpoint") || src.origin;
  var key = s.getAttribute("data-key") || "";
  var base = new URL("pkg/", src);
  // The build this loader belongs to (the build writes it in). The widget's
  // files are asked for by it, so a loader cached from before an upgrade
  // never pairs one build's glue with another's wasm.
  var build = "DANGOL_BUILD";
  var v = /^[0-9a-f]+$/.test(build) ? "?v=" + build : "";
  var widget = null;
  var queue = [];
  function call(name, args) {
    if (!widget) { queue.push([name, args]); return; }
    try { return widget.call(name, args[0], args[1]); }
    catch (e) { console.warn("dangol: " + name + "() failed (" + e + "); the page is unaffected"); }
  }
  function api(name) { return function () { return call(name, [].slice.call(arguments)); }; }
  w.dangol = {
    loader: 1,
    consent: { grant: api("grant"), deny: api("deny"), status: api("consentStatus"), purposes: api("consentPurposes") },
    track: api("track"),
    set: api("set"),
    decisions: api("decisions"),
    export: api("export"),
    forget: api("forget"),
    on: api("on"),
    refresh: api("refresh"),
    destroy: function () {
      call("destroy", []);
      unwatch.splice(0).forEach(function (f) { f(); });
      dl.push = push;
      for (var m in patched) history[m] = patched[m];
      w.removeEventListener("popstate", onPop);
      widget = null;
      queue = [];
      delete w.dangol;
    }
  };
  // GA4 ecommerce pushes, including those made before dangol loaded.
  var dl = (w.dataLayer = w.dataLayer || []);
  var patched = {};
  var seen = dl.length;
  var push = dl.push;
  dl.push = function () {
    var r = push.apply(dl, arguments);
    for (var i = 0; i < arguments.length; i++) call("dataLayer", [arguments[i]]);
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
    if (/^[\w-]{1,64}$/.test(site) && /^https?:\/\//.test(endpoint) && !localStorage.getItem("dangol:" + site + ":config")) {
      config = fetch(endpoint.replace(/\/+$/, "") + "/v1/sites/" + site + "/config/compact", {
        mode: "cors", credentials: "omit", referrerPolicy: "no-referrer", signal: AbortSignal.timeout ? AbortSignal.timeout(8000) /* the widget's TIMEOUT_MS */ : undefined
      });
      config.catch(function () { /* the widget reports it */ });
    }
  } catch (e) { config = null; /* storage blocked: the widget asks itself */ }
  // The wasm downloads and compiles while the glue loads, not after it.
  var wasm = fetch(new URL("dangol_bg.wasm" + v, base), { referrerPolicy: "no-referrer" });
  if (w.WebAssembly && WebAssembly.compileStreaming) wasm = WebAssembly.compileStreaming(wasm);
  wasm.catch(function () { /* reported by init below */ });
  // The widget's second module (overlays, coupons, loyalty and feedback
  // prompts, the words of "Why this offer?"): imported once, on first use.
  var more = null;
  function loadMore() {
    return more || (more = import(new URL("more/dangol.js" + v, base).href).then(function (m) {
      return m.default({ module_or_path: new URL("more/dangol_bg.wasm" + v, base) }).then(function () { return m; });
    }).catch(function (e) { more = null; throw e; }));
  }
  // The widget's I/O. Each request carries an id; its answer goes back
  // through widget.call("answer", id, value), always from a promise
  // callback (never inside the call that asked), an error as its message.
  function answer(id, work) {
    new Promise(function (ok) { ok(work()); })
      .catch(function (e) { return "" + (e && e.message || e); })
      .then(function (value) {
        if (widget) try { widget.call("answer", id, value); } catch (e) { /* the widget reports its own problems */ }
      });
  }
  var TIMEOUT_MS = 8000; // the widget's TIMEOUT_MS
  var unwatch = [];
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
            return (r.status == 200 && method == "GET" ? r.text() : Promise.resolve("")).then(function (text) {
              clearTimeout(timer);
              return [r.status, text, h("ETag"), h("X-Dangol-Signature"), h("Retry-After")];
            });
          }, function (e) {
            clearTimeout(timer);
            throw e && /^(Abort|Timeout)Error$/.test(e.name) ? "no answer within " + TIMEOUT_MS + " ms" : e;
          });
        }
        var locks = lock && navigator.locks;
        return locks ? locks.request(lock, { ifAvailable: true }, function (held) { return held ? go() : -1; }) : go();
      });
    },
    // Ed25519 in WebCrypto: 1 signed, 0 not, 2 this browser cannot check.
    verify: function (id, key, signature, text) {
      answer(id, function () {
        var subtle = w.crypto && crypto.subtle;
        var alg = { name: "Ed25519" };
        function bytes(b64) { return Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); }); }
        if (!subtle) return 2;
        return subtle.importKey("raw", bytes(key), alg, false, ["verify"]).then(function (k) {
          return subtle.verify(alg, k, bytes(signature), new TextEncoder().encode(text)).then(function (ok) { return ok ? 1 : 0; });
        }, function (e) {
          if (e && e.name == "NotSupportedError") return 2;
          throw e;
        });
      });
    },
    later: function (id) { answer(id, nextTask); },
    // The page's signals, reported as widget.call("page", kind, value):
    // 0 scroll [depth %, scrollY], 1 exit intent (the pointer left through
    // the top edge), 2 a click inside [data-dangol-track] (the element),
    // 3 visibility, 4 input, 5 a second passed, 6 elements added, 7 another
    // tab changed localStorage [key, newValue].
    watch: function () {
      function report(kind, value) {
        if (widget) try { widget.call("page", kind, value); } catch (e) { /* the widget reports its own problems */ }
      }
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
      on(d, "click", function (e) {
        var marked = e.target && e.target.closest && e.target.closest("[data-dangol-track]");
        if (marked) report(2, marked);
      });
      function visibility() { report(3, !d.hidden); }
      on(d, "visibilitychange", visibility);
      on(w, "pagehide", visibility);
      ["pointermove", "pointerdown", "keydown", "touchstart", "wheel"].forEach(function (name) {
        on(d, name, function () { report(4); }, passive);
      });
      on(w, "storage", function (e) { report(7, [e.key, e.newValue]); });
      var tick = setInterval(function () { report(5); }, 1000);
      var added = new MutationObserver(function () { report(6); });
      added.observe(root, { childList: true, subtree: true });
      unwatch.push(function () { clearInterval(tick); added.disconnect(); });
    },
    more: function (id) { answer(id, loadMore); }
  };
  import(new URL("dangol.js" + v, base).href)
    .then(function (m) {
      // The widget starts in a task of its own, so the page's input and
      // paint can run between instantiating the wasm and starting it.
      return m.default({ module_or_path: wasm }).then(nextTask).then(function () {
        if (!w.dangol) return; // destroyed before it loaded
        widget = m.start(site, endpoint, key, host);
        for (var i = 0; i < seen; i++) call("dataLayer", [dl[i]]);
        queue.splice(0).forEach(function (c) { call(c[0], c[1]); });
        w.dangol.ready = true;
        try { w.dispatchEvent(new Event("dangol:ready")); } catch (e) { /* very old browser */ }
      });
    })
    .catch(function (e) { console.warn("dangol: the widget could not load (" + e + "); the page is unaffected"); });
})(window, document);
