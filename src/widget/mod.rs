//! The widget's exported object: what `window.dangol` delegates to. Each
//! method translates between JavaScript and the page lifecycle in
//! [`state`] and [`lifecycle`]; none of them throws.

mod actions;
mod answers;
mod callbacks;
mod effects;
mod kept;
mod lifecycle;
mod offers;
mod pending;
mod state;
mod sync;
mod watch;

use std::cell::RefCell;

use dangol_engine::calls;
use dangol_engine::config::is_identifier;
use dangol_engine::consent::{Consent, Purposes, granted};
use dangol_engine::decide::Decision;
use dangol_engine::session::{Input, Session};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::platform::json;
use crate::platform::log::{Problem, warn, warn_once};
use state::{Cell, Inner, Phase};

#[cfg(feature = "bench")]
pub(crate) use lifecycle::parse_config;

/// A running widget. Returned by [`start`]; `window.dangol` delegates to
/// the page's one (see [`start_page`] and [`call`]).
#[derive(Clone)]
pub struct Widget {
    inner: Cell,
}

thread_local! {
    /// The page's widget, which [`call`] reaches.
    static PAGE: RefCell<Option<Widget>> = const { RefCell::new(None) };
}

/// Starts the page's widget (see [`start`]); the loader then reaches it
/// through [`call`]. A plain function and a widget kept here rather than
/// an exported class: no class glue, no borrow checks on every call.
#[wasm_bindgen(js_name = start)]
pub fn start_page(
    site: String,
    endpoint: String,
    key: Option<String>,
    host: Option<crate::platform::host::Host>,
) {
    let widget = start(site, endpoint, key, host);
    PAGE.with(|page| *page.borrow_mut() = Some(widget));
}

/// The page API, as `window.dangol` calls it, and the loader's reports,
/// by number (`dangol_engine::calls`; the loader forwards each call here
/// with `NAMES.indexOf(name)`): one export rather than one per call keeps
/// the glue and the wasm smaller, and numbers keep the names out of the
/// wasm. An unknown number, or no widget started, does nothing; `destroy`
/// also lets the widget go.
///
/// ```js
/// call(0, ["measurement"]);                                        // grant
/// call(5, "add_to_cart", { items: [{ item_id: "knit-01" }] });     // track
/// ```
#[wasm_bindgen]
pub fn call(number: u32, a: JsValue, b: JsValue) -> JsValue {
    // A clone: a callback the call runs may call again.
    let Some(widget) = PAGE.with(|page| page.borrow().clone()) else {
        return JsValue::UNDEFINED;
    };
    let out = widget.call(number, a, b);
    if number == calls::DESTROY {
        PAGE.with(|page| page.borrow_mut().take());
    }
    out
}

/// Starts the widget for `site`, talking to the server at `endpoint`. With
/// `key` (the site's Ed25519 public key, base64, from the script tag's
/// `data-key`), only configs signed with it are used. `host` is the
/// loader's I/O (see [`crate::platform::host::Host`]): its requests, the
/// signature check, a later task, the second module (`pkg/more/`,
/// which overlays, coupons, loyalty prompts, feedback questions and the
/// words of "Why this offer?" need) and the third (`pkg/rare/`, the
/// profile's JSON form). Without it the widget decides and
/// renders banners from what the browser stores, and asks the network
/// for nothing.
///
/// Never throws: a bad site id or endpoint logs one console warning and
/// returns a widget that does nothing.
///
/// ```js
/// import init, { start, call } from "/pkg/dangol.js";
/// // The shipped glue instantiates the module it is handed (the loader
/// // compiles it while the glue loads).
/// await init(WebAssembly.compileStreaming(fetch("/pkg/dangol_bg.wasm")));
/// start("demo", "https://shop.example", "MCowBQYDK2VwAyEA...", host);
/// call("grant"); // the shopper accepted personalisation
/// ```
pub fn start(
    site: String,
    endpoint: String,
    key: Option<String>,
    host: Option<crate::platform::host::Host>,
) -> Widget {
    let endpoint = dangol_engine::cat::trim_end(&endpoint, b'/').to_string();
    // A session with nothing read yet; boot starts the page's own.
    let mut inner = Inner::new(site, endpoint, Session::new(String::new()));
    inner.public_key = key.filter(|k| !k.is_empty());
    inner.host = host;
    let widget = Widget {
        inner: Box::leak(Box::new(RefCell::new(inner))),
    };
    widget.inner.borrow_mut().self_ref = Some(widget.inner);
    if let Err(problem) = widget.check_setup() {
        warn_once(
            Problem::Setup,
            &dangol_engine::cat::cat(&[
                &problem,
                "; the widget stays off and the page is unaffected",
            ]),
        );
        widget.inner.borrow_mut().phase = Phase::Off;
        return widget;
    }
    lifecycle::boot(widget.inner);
    widget
}

impl Widget {
    /// An action on the offer `handle`: `[code, arg]` (see
    /// `render::Action::from_code`).
    fn offer(&self, handle: &JsValue, action: &JsValue) {
        let at = |i: u32| js_sys::Reflect::get_u32(action, i).unwrap_or(JsValue::UNDEFINED);
        let (Some(handle), Some(code)) = (handle.as_f64(), at(0).as_f64()) else {
            return;
        };
        if let Some(action) = crate::render::Action::from_code(code as u32, at(1)) {
            actions::act(self.inner, handle as u32, action);
        }
    }

    fn check_setup(&self) -> Result<(), String> {
        let inner = self.inner.borrow();
        if !is_identifier(&inner.site) {
            return Err(dangol_engine::cat::cat(&[
                "the script tag's data-site `",
                &inner.site,
                "` is not a site id",
            ]));
        }
        if !(inner.endpoint.starts_with("https://") || inner.endpoint.starts_with("http://")) {
            return Err(dangol_engine::cat::cat(&[
                "the endpoint `",
                &inner.endpoint,
                "` is not an http(s) URL",
            ]));
        }
        Ok(())
    }
}

impl Widget {
    /// The page API by number (see [`call`]).
    pub fn call(&self, number: u32, a: JsValue, b: JsValue) -> JsValue {
        match number {
            calls::GRANT => self.grant(a),
            calls::DENY => self.deny(),
            calls::CONSENT_STATUS => return self.consent_status().into(),
            calls::CONSENT_PURPOSES => return self.consent_purposes(),
            calls::DECISIONS => return self.decisions(),
            calls::TRACK => self.track(a, b),
            calls::DATA_LAYER => self.data_layer(a, b),
            calls::CONSENT_MODE => self.consent_mode(a, b),
            calls::SET => self.set(a),
            calls::EXPORT => self.export(a),
            calls::NAVIGATE => self.navigate(),
            calls::FORGET => self.forget(),
            calls::IDENTIFY => self.identify(a, b),
            calls::ON => self.on(a, b),
            calls::REFRESH => self.refresh(),
            calls::DESTROY => self.destroy(),
            calls::ANSWER => answers::answer(self.inner, a, b),
            calls::PAGE => watch::page_signal(self.inner, &a, &b),
            calls::OFFER => self.offer(&a, &b),
            _ => {}
        }
        JsValue::UNDEFINED
    }
}

impl Widget {
    /// The shopper accepted: both purposes, or only those listed
    /// (`"personalisation"`, `"measurement"`; the others are refused). The
    /// session upgrades at once, without a reload.
    ///
    /// ```js
    /// dangol.consent.grant();                      // both
    /// dangol.consent.grant(["measurement"]);       // measurement only
    /// ```
    pub fn grant(&self, purposes: JsValue) {
        let list = purposes.is_truthy().then(|| json::from_js(&purposes));
        let chosen = match granted(list.as_ref(), |name| {
            warn(&dangol_engine::cat::cat(&[
                "dangol.consent.grant: unknown purpose ",
                name,
                "; known: personalisation, measurement",
            ]))
        }) {
            Ok(chosen) => chosen,
            Err(problem) => {
                return warn(&dangol_engine::cat::cat(&[
                    "dangol.consent.grant: ",
                    problem,
                ]));
            }
        };
        {
            let mut inner = self.inner.borrow_mut();
            if inner.phase == Phase::Off {
                return;
            }
            inner.input(Input::Own(chosen));
        }
        sync::flush(self.inner);
    }

    /// The shopper refused or withdrew consent: the profile, the unsent
    /// events and the id are deleted at once, in every open tab of the
    /// site, and the server is asked to erase what it holds for the id.
    ///
    /// ```js
    /// dangol.consent.deny();
    /// ```
    pub fn deny(&self) {
        // Honoured even by a widget that is off: a refusal always counts.
        self.inner
            .borrow_mut()
            .input(Input::Own(Purposes::both(Consent::Denied)));
    }

    /// The shopper signed in: their customer id as the shop knows it and
    /// the proof the shop's server computed (hex HMAC-SHA256 of the id under
    /// the site's identity secret), so the server links this browser with
    /// the customer's others. Kept for this page until measurement consent;
    /// `identify(null)` when the shopper signs out. A bad call logs one
    /// console warning naming the problem and is dropped.
    ///
    /// ```js
    /// dangol.identify("customer-42", "1e22f3f2…3d68");
    /// dangol.identify(null);
    /// ```
    #[cfg(feature = "identity")]
    pub fn identify(&self, customer: JsValue, proof: JsValue) {
        let customer = match customer.as_string() {
            Some(id) => Some(id),
            // `Object.is`, which the first module imports too, rather than
            // an `undefined` check of the identity build's own: both builds
            // then take the one glue the loader carries.
            None if customer.is_null() || js_sys::Object::is(&customer, &JsValue::UNDEFINED) => {
                None
            }
            None => {
                warn(
                    "dangol.identify: the customer id must be a string (or null to sign out); the call was dropped",
                );
                return;
            }
        };
        let input = match Input::identify_call(customer, proof.as_string()) {
            Ok(input) => input,
            Err(problem) => {
                warn(&dangol_engine::cat::cat(&[
                    "dangol.identify: ",
                    problem,
                    "; the call was dropped",
                ]));
                return;
            }
        };
        {
            let mut inner = self.inner.borrow_mut();
            if inner.phase == Phase::Off {
                return;
            }
            inner.input(input);
        }
        sync::flush(self.inner);
    }

    /// Without the identity build, a call names what to change.
    #[cfg(not(feature = "identity"))]
    pub fn identify(&self, _customer: JsValue, _proof: JsValue) {
        warn(
            "dangol.identify needs the identity build: add data-identify to the script tag; the call was dropped",
        );
    }

    /// Personalisation consent: `"unknown"`, `"granted"` or `"denied"`.
    ///
    /// ```js
    /// if (dangol.consent.status() === "unknown") showConsentBar();
    /// ```
    pub fn consent_status(&self) -> String {
        self.inner.borrow().consent().as_str().to_string()
    }

    /// Both purposes and whether Global Privacy Control is on.
    ///
    /// ```js
    /// const { personalisation, measurement, gpc } = dangol.consent.purposes();
    /// ```
    pub fn consent_purposes(&self) -> JsValue {
        let inner = self.inner.borrow();
        let mut out = dangol_engine::json::Map::new();
        let purposes = inner.session.purposes();
        out.set("personalisation", purposes.personalisation.as_str().into());
        out.set("measurement", purposes.measurement.as_str().into());
        out.set("gpc", inner.session.signals().gpc.into());
        json::to_js(&dangol_engine::json::Value::Object(out))
    }

    /// The decisions made on this page with their reasons ("why this offer?").
    ///
    /// ```js
    /// for (const d of dangol.decisions()) console.log(d.placement, d.reasons);
    /// ```
    pub fn decisions(&self) -> JsValue {
        let list = self
            .inner
            .borrow()
            .decisions
            .iter()
            .map(Decision::to_value)
            .collect();
        json::to_js(&dangol_engine::json::Value::Array(list))
    }

    /// Records an e-commerce or custom event with GA4's names and fields.
    /// A bad call logs one console warning naming the problem and is dropped.
    ///
    /// ```js
    /// dangol.track("add_to_cart", { items: [{ item_id: "knit-01", item_category: "knit", price: 59000 }] });
    /// ```
    pub fn track(&self, name: JsValue, props: JsValue) {
        let Some(name) = name.as_string() else {
            warn("dangol.track: the event name must be a string; the call was dropped");
            return;
        };
        self.inner
            .borrow_mut()
            .track(&name, &json::from_js(&props), "dangol.track");
        sync::flush(self.inner);
    }

    /// One GA4 e-commerce event from `dataLayer`: its name and the fields
    /// dangol reads, which the loader copied from the entry (tag managers
    /// push DOM nodes, cyclic objects and huge arrays too; the copy is
    /// walked within the usual budget).
    pub fn data_layer(&self, name: JsValue, props: JsValue) {
        let Some(name) = name.as_string() else {
            return;
        };
        self.inner
            .borrow_mut()
            .track(&name, &json::from_js(&props), "dataLayer");
        sync::flush(self.inner);
    }

    /// A Google Consent Mode call from `dataLayer` (`gtag("consent",
    /// command, settings)`): the command and `[personalization_storage,
    /// analytics_storage]`, as the loader read them.
    pub fn consent_mode(&self, command: JsValue, settings: JsValue) {
        let at = |i: u32| {
            js_sys::Reflect::get_u32(&settings, i)
                .ok()
                .and_then(|v| v.as_string())
        };
        let command = command.as_string().unwrap_or_default();
        if let Some(input) = Input::consent_mode(&command, at(0).as_deref(), at(1).as_deref()) {
            self.inner.borrow_mut().input(input);
            sync::flush(self.inner);
        }
    }

    /// Declares attributes the site knows (tier, points, name, birthday
    /// month...). They are used in decisions and text, kept locally with
    /// consent, and never sent anywhere.
    ///
    /// ```js
    /// dangol.set({ tier: "gold", points: 1200, name: "Minji", birthday_month: 3 });
    /// ```
    pub fn set(&self, attributes: JsValue) {
        let value = json::from_js(&attributes);
        if let Err(problem) = self.inner.borrow_mut().declare(&value) {
            warn(&dangol_engine::cat::cat(&[
                "dangol.set: ",
                &problem,
                "; the call was dropped",
            ]));
        }
    }

    /// Everything stored about the shopper, as JSON, handed to `done` (the
    /// loader's promise). The profile is written as JSON by the third
    /// module: few shoppers ask, so the first module carries no JSON writer
    /// of the profile.
    ///
    /// ```js
    /// const mine = await dangol.export();
    /// ```
    pub fn export(&self, done: JsValue) {
        let Ok(done) = done.dyn_into::<js_sys::Function>() else {
            return;
        };
        #[cfg_attr(not(any(feature = "full", feature = "identity")), allow(unused_mut))]
        let mut export = self.inner.borrow().export();
        // Builds that carry the profile's JSON writer anyway write it here.
        #[cfg(any(feature = "full", feature = "identity"))]
        {
            if let Some(profile) = export.get_mut("profile") {
                *profile = dangol_engine::profile::Profile::text_to_value(
                    profile.as_str().unwrap_or_default(),
                );
            }
            let _ = done.call1(&JsValue::NULL, &json::to_js(&export.into()));
        }
        #[cfg(not(any(feature = "full", feature = "identity")))]
        {
            let export = pending::Export {
                value: json::to_js(&export.into()),
                done,
            };
            let mut inner = self.inner.borrow_mut();
            if inner.host.is_some() {
                inner.ask(pending::Pending::Export(Box::new(export)), |host, id| {
                    host.rare(id)
                });
            } else {
                drop(inner);
                export.arrived(Err("the widget has no loader".into()));
            }
        }
    }

    /// A single-page app changed its route (the loader calls this on
    /// `history.pushState`, `replaceState` and `popstate`).
    pub fn navigate(&self) {
        lifecycle::navigated(self.inner);
    }

    /// Deletes everything local, in every open tab of the site, and asks
    /// the shop's server to erase the pseudonymous id (the server then
    /// refuses events for it, so nothing sent late brings data back).
    ///
    /// ```js
    /// dangol.forget();
    /// ```
    pub fn forget(&self) {
        self.inner.borrow_mut().input(Input::Forget);
    }

    /// Calls `callback(detail)` on `"decision"` (each placement decided,
    /// with its reasons; decisions already made on this page are replayed),
    /// `"exposure"` (an offer was actually seen: half of it in view for a
    /// second), `"click"`, `"dismiss"` or `"claim"` (detail `{campaign,
    /// variant}`). A callback that throws is reported once and changes
    /// nothing else.
    ///
    /// ```js
    /// dangol.on("exposure", ({ campaign, variant }) => analytics.log("offer_seen", campaign, variant));
    /// ```
    pub fn on(&self, name: JsValue, callback: JsValue) {
        let name = name.as_string().unwrap_or_default();
        let Some(event) = callbacks::NAMES.iter().position(|n| *n == name) else {
            warn(
                "dangol.on: the event name must be one of decision, exposure, click, dismiss, claim; the call was dropped",
            );
            return;
        };
        let Ok(f) = callback.dyn_into::<js_sys::Function>() else {
            warn(&dangol_engine::cat::cat(&[
                "dangol.on(\"",
                &name,
                "\"): the callback must be a function; the call was dropped",
            ]));
            return;
        };
        self.inner.borrow_mut().add_handler(event as u8, f);
        sync::flush(self.inner);
    }

    /// Decides again for the whole page with the newest config: offers on
    /// the page are taken off and every slot and overlay is decided anew.
    /// For pages that changed what they declared or swapped their content.
    ///
    /// ```js
    /// dangol.set({ tier: "gold" });
    /// dangol.refresh();
    /// ```
    pub fn refresh(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            // Off, or the first decision is still waiting for the consent
            // manager (and will include this refresh).
            if matches!(inner.phase, Phase::Off | Phase::Held) {
                return;
            }
            inner.clear_offers();
            let page = crate::platform::dom::page(inner.host.as_ref());
            inner.page = page.context;
            inner.page_lang = page.lang;
            // The newest config: the one the server sent after this page
            // first decided, else the page's own; a page that has none yet
            // reads the stored one (restored once consent came).
            let newest = match inner.newer.take() {
                Some(config) => Some(config),
                None if inner.config.is_none() => inner
                    .session
                    .cached_config()
                    .and_then(|(text, _)| lifecycle::parse_config(text, &inner.site).ok()),
                None => None,
            };
            if let Some(config) = newest.or_else(|| inner.config.take()) {
                inner.apply(config);
            }
        }
        sync::flush(self.inner);
    }

    /// Removes everything the widget added to the page (offers, overlays,
    /// listeners, timers and observers) and stops it. Stored data and
    /// consent stay; the loader also restores `history` and `dataLayer`.
    ///
    /// ```js
    /// dangol.destroy();
    /// ```
    pub fn destroy(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.clear_offers();
        inner.phase = Phase::Off;
        inner.handlers.clear();
        inner.calls.clear();
        // The loader's I/O and what waits on it: the widget stays in the
        // wasm's memory (see `state::Cell`), holding nothing of the page.
        inner.host = None;
        inner.pending.clear();
        // The page's listeners are the loader's, which removes them.
    }
}
