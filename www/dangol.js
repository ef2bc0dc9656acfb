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
  import(new URL("dangol.js" + v, base).href)
    .then(function (m) {
      // The widget starts in a task of its own, so the page's input and
      // paint can run between instantiating the wasm and starting it.
      return m.default({ module_or_path: wasm }).then(nextTask).then(function () {
        if (!w.dangol) return; // destroyed before it loaded
        widget = m.start(site, endpoint, key, config, nextTask, loadMore);
        for (var i = 0; i < seen; i++) call("dataLayer", [dl[i]]);
        queue.splice(0).forEach(function (c) { call(c[0], c[1]); });
        w.dangol.ready = true;
        try { w.dispatchEvent(new Event("dangol:ready")); } catch (e) { /* very old browser */ }
      });
    })
    .catch(function (e) { console.warn("dangol: the widget could not load (" + e + "); the page is unaffected"); });
})(window, document);
