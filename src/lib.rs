//! The dangol widget: a thin layer between the browser and
//! [`dangol_engine`]. It reads the page, storage and network through
//! [`platform`], asks the engine what to show, and renders it with
//! [`render`]. No business rule lives here.
//!
//! Shops do not call this module directly: the loader `dangol.js` starts it
//! and exposes `window.dangol`.

#[cfg(feature = "more")]
mod more;
pub mod platform;
#[cfg(feature = "preview")]
pub mod preview;
#[cfg(feature = "rare")]
mod rare;
pub mod render;
// The second and third modules export only their own paths, not the widget.
#[cfg(not(any(feature = "more", feature = "rare")))]
mod widget;

#[cfg(all(feature = "bench", not(feature = "more")))]
use wasm_bindgen::prelude::*;

#[cfg(not(any(feature = "more", feature = "rare")))]
pub use widget::{Widget, call, start, start_page};

// A small free-list allocator: dlmalloc costs ~7 KB of wasm, and the widget
// allocates little. The widget runs on one thread.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Loading a stored config (100 campaigns, say) into one ready to decide,
/// `rounds` times, as a returning shopper's page does: reading the compact
/// form the server published. Each config is kept, as the page keeps the
/// one it loaded, until [`bench_config_drop`], so freeing them is timed
/// apart. For `cargo xtask bench` only; returns the campaigns read in all
/// (so no round can be skipped).
///
/// ```js
/// const compiled = benchConfigLoad(configText, "demo", 100);
/// benchConfigDrop();
/// ```
#[cfg(all(feature = "bench", not(feature = "more")))]
#[wasm_bindgen(js_name = benchConfigLoad)]
pub fn bench_config_load(text: &str, site: &str, rounds: u32) -> u32 {
    LOADED.with(|kept| {
        let mut kept = kept.borrow_mut();
        kept.reserve(rounds as usize);
        let mut compiled = 0;
        for _ in 0..rounds {
            if let Ok(config) = widget::parse_config(text, site) {
                compiled += config.campaigns().len() as u32;
                kept.push(config.into_inner());
            }
        }
        compiled
    })
}

/// Frees the configs [`bench_config_load`] kept; how many.
#[cfg(all(feature = "bench", not(feature = "more")))]
#[wasm_bindgen(js_name = benchConfigDrop)]
pub fn bench_config_drop() -> u32 {
    LOADED.with(|kept| {
        let dropped = std::mem::take(&mut *kept.borrow_mut());
        dropped.len() as u32
    })
}

#[cfg(all(feature = "bench", not(feature = "more")))]
thread_local! {
    static LOADED: std::cell::RefCell<Vec<dangol_engine::config::CompiledConfig>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Condition evaluation in the browser, for `cargo xtask bench` only (the
/// shipped bundle is built without the `bench` feature).
#[cfg(all(feature = "bench", not(feature = "more")))]
#[wasm_bindgen]
pub struct BenchConditions {
    conditions: Vec<dangol_engine::condition::Condition>,
    paths: dangol_engine::condition::Paths,
}

#[cfg(all(feature = "bench", not(feature = "more")))]
#[wasm_bindgen]
impl BenchConditions {
    /// Compiles an array of GrowthBook-style conditions once, together, as
    /// a config's audiences are (sharing their attribute paths).
    ///
    /// ```js
    /// const bench = new BenchConditions(conditions);
    /// const matched = bench.run(attributes, 1000);
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(conditions: JsValue) -> BenchConditions {
        let list = platform::json::from_js(&conditions);
        let mut paths = dangol_engine::condition::Paths::default();
        let conditions = list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| {
                        dangol_engine::condition::Condition::compile_with(
                            c,
                            &platform::regex::BrowserRegex,
                            &mut paths,
                        )
                        .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        BenchConditions { conditions, paths }
    }

    /// How many conditions compiled.
    pub fn len(&self) -> usize {
        self.conditions.len()
    }

    /// Whether none compiled.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Evaluates every condition against `attributes`, `rounds` times, as a
    /// page's decision does (each round looks the paths up once); returns
    /// how many evaluations matched (so none can be skipped).
    pub fn run(&self, attributes: JsValue, rounds: u32) -> u32 {
        let attributes = platform::json::from_js(&attributes);
        let groups = dangol_engine::json::Value::Object(dangol_engine::json::Map::new());
        let mut matched = 0;
        for _ in 0..rounds {
            let resolved = self.paths.resolve(&attributes);
            for c in &self.conditions {
                if c.eval_resolved(
                    &resolved,
                    &attributes,
                    &groups,
                    &platform::regex::BrowserRegex,
                ) {
                    matched += 1;
                }
            }
        }
        matched
    }
}

/// Ranking a recommendations row in the browser, for `cargo xtask bench`
/// only: the published model read once, then one shopper's row ranked.
#[cfg(all(feature = "bench", not(feature = "more")))]
#[wasm_bindgen]
pub struct BenchRecs {
    published: dangol_engine::recs::published::Published,
    mine: Vec<dangol_engine::recs::device::Mine>,
}

#[cfg(all(feature = "bench", not(feature = "more")))]
#[wasm_bindgen]
impl BenchRecs {
    /// Reads `model` (the published form) and makes a shopper who viewed
    /// `viewed` of its items over the last weeks and has two in the cart.
    ///
    /// ```js
    /// const bench = new BenchRecs(modelText, 20);
    /// const cards = bench.run(100);
    /// ```
    #[wasm_bindgen(constructor)]
    pub fn new(model: &str, viewed: u32) -> Result<BenchRecs, String> {
        use dangol_engine::recs::Kind;
        use dangol_engine::recs::device::Mine;
        let published = dangol_engine::recs::published::read(model)
            .ok_or("not a published recommendations model")?;
        let now = js_sys::Date::now() as i64;
        let step = (published.cards.len() / (viewed as usize + 2)).max(1);
        let mine = published
            .cards
            .iter()
            .step_by(step)
            .take(viewed as usize + 2)
            .enumerate()
            .map(|(i, card)| Mine {
                id: card.id.clone(),
                kind: if i < viewed as usize {
                    Kind::View
                } else {
                    Kind::Cart
                },
                ts_ms: now - i as i64 * 86_400_000,
            })
            .collect();
        Ok(BenchRecs { published, mine })
    }

    /// Ranks the shopper's row of 8 cards `rounds` times; returns the cards
    /// ranked in all (so no round can be skipped).
    pub fn run(&self, rounds: u32) -> u32 {
        let now = js_sys::Date::now() as i64;
        let mut cards = 0;
        for _ in 0..rounds {
            let row = dangol_engine::recs::device::recommend(
                &self.published,
                &self.mine,
                8,
                2,
                dangol_engine::recs::device::Page::default(),
                now,
            );
            cards += row.len() as u32;
        }
        cards
    }
}
