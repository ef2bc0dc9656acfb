//! The offers' stylesheet, shared by every shadow root through
//! `adoptedStyleSheets` (works under `style-src` without `unsafe-inline`).
//! Shops theme it with CSS custom properties set on the page.

#[cfg(feature = "full")]
use std::cell::RefCell;

#[cfg(feature = "full")]
use wasm_bindgen::JsValue;
#[cfg(feature = "full")]
use web_sys::{CssStyleSheet, ShadowRoot};

#[cfg(feature = "full")]
use crate::platform::describe;

/// What banners in slots need: the first module's rules.
macro_rules! base_css {
    () => {
        ":host{display:block;contain:content}\
.banner{display:flex;flex-wrap:wrap;align-items:center;gap:12px 16px;box-sizing:border-box;width:100%;min-height:inherit;\
padding:var(--dangol-padding,20px 24px);border-radius:var(--dangol-radius,12px);\
font-family:var(--dangol-font,system-ui,sans-serif);background:var(--dangol-bg,#f7f4ef);color:var(--dangol-fg,#1d1d1f)}\
.banner[data-theme=dark]{background:var(--dangol-dark-bg,#1d1d1f);color:var(--dangol-dark-fg,#fff)}\
.banner[data-theme=accent]{background:var(--dangol-accent-bg,#ffe7d6);color:var(--dangol-accent-fg,#3a1a00)}\
.image{width:72px;height:72px;object-fit:cover;border-radius:8px}\
.text{flex:1 1 240px;min-width:0}\
.headline{margin:0;font-size:var(--dangol-headline-size,1.25rem);font-weight:700}\
.body{margin:4px 0 0;opacity:.85}\
.cta{flex:none;padding:10px 16px;border-radius:999px;text-decoration:none;font-weight:600;\
background:var(--dangol-cta-bg,#c2410c);color:var(--dangol-cta-fg,#fff)}\
.cta:focus-visible,.why:focus-visible,.off:focus-visible{outline:3px solid var(--dangol-focus,#1c7ed6);outline-offset:2px}\
.why{flex:none;background:none;border:0;padding:4px;font:inherit;font-size:.8rem;text-decoration:underline;color:inherit;opacity:.75;cursor:pointer}\
.explain{margin-top:8px;padding:12px 16px;border-radius:8px;background:var(--dangol-explain-bg,#fff);color:var(--dangol-explain-fg,#1d1d1f);\
font-family:var(--dangol-font,system-ui,sans-serif);font-size:.9rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}\
.explain[hidden]{display:none}.explain-text{margin:0 0 8px}\
.off{font:inherit;padding:6px 12px;border-radius:999px;border:1px solid currentColor;background:none;color:inherit;cursor:pointer}"
    };
}

/// Coupons, loyalty and feedback prompts and overlays: the second module's.
#[cfg(feature = "full")]
macro_rules! more_css {
    () => {
        ".value{margin:2px 0 0;font-size:var(--dangol-coupon-value-size,1.6rem);font-weight:800}\
.terms{margin:4px 0 0;font-size:.8rem;opacity:.7}.status{margin:4px 0 0;font-size:.85rem}.status:empty{display:none}\
.code{flex:none;padding:8px 14px;border:2px dashed currentColor;border-radius:8px;font-size:1.1rem;font-weight:700;letter-spacing:.05em}\
button.cta{border:0;font:inherit;cursor:pointer}button.cta[disabled]{opacity:.6;cursor:progress}\
.standing{margin:4px 0}.progress{width:100%;max-width:320px;height:10px;accent-color:var(--dangol-cta-bg,#c2410c)}\
.answers{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}.answer{font:inherit;min-width:40px;padding:6px 10px;border-radius:8px;\
border:1px solid currentColor;background:none;color:inherit;cursor:pointer}.answer:focus-visible{outline:3px solid var(--dangol-focus,#1c7ed6)}\
.backdrop{position:fixed;inset:0;background:var(--dangol-backdrop,rgba(0,0,0,.45));z-index:2147483646}\
.overlay{position:fixed;z-index:2147483647;box-sizing:border-box;color:var(--dangol-fg,#1d1d1f)}\
.modal{top:50%;left:50%;transform:translate(-50%,-50%);width:min(92vw,var(--dangol-modal-width,520px));max-height:90vh;overflow:auto;\
border-radius:var(--dangol-radius,12px);box-shadow:0 12px 40px rgba(0,0,0,.3)}\
.toast{right:16px;bottom:16px;width:min(92vw,var(--dangol-toast-width,380px));border-radius:var(--dangol-radius,12px);box-shadow:0 6px 24px rgba(0,0,0,.2)}\
.bar{left:0;right:0;bottom:0;box-shadow:0 -2px 12px rgba(0,0,0,.15)}.bar .banner{border-radius:0}\
.overlay .banner{padding-right:52px}\
.close{position:absolute;top:8px;right:8px;z-index:1;width:36px;height:36px;border:0;border-radius:50%;background:rgba(0,0,0,.08);\
color:inherit;font:inherit;font-size:1.3rem;line-height:1;cursor:pointer}.close:focus-visible{outline:3px solid var(--dangol-focus,#1c7ed6)}\
@media (prefers-reduced-motion:no-preference){.overlay{animation:dangol-in .2s ease-out}}\
@keyframes dangol-in{from{opacity:0;translate:0 12px}}\
.recs{display:block}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(var(--dangol-card-width,150px),1fr));gap:16px;\
margin:12px 0 0;padding:0;list-style:none}.card{min-width:0;font-size:.9rem;line-height:1.3}\
.card-link{display:block;color:inherit;text-decoration:none;border-radius:8px}\
.card-link:focus-visible{outline:3px solid var(--dangol-focus,#1c7ed6);outline-offset:2px}\
.card-image{display:block;aspect-ratio:1;border-radius:8px;overflow:hidden;background:var(--dangol-card-bg,rgba(0,0,0,.06))}\
.card-img{display:block;width:100%;height:100%;object-fit:cover}\
.card-name,.card-why{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2;overflow:hidden;height:2.6em}\
.card-name{margin-top:6px;font-weight:600}.card-price{display:block;height:1.3em;white-space:nowrap;overflow:hidden}\
.card-was{margin-right:6px;opacity:.8}.card-sale{font-weight:700;color:var(--dangol-sale-fg,#b42318)}\
.card-why{margin-top:2px;font-size:.8rem;opacity:.85}.banner[data-theme=dark] .card-sale{color:inherit}"
    };
}

/// The stylesheet's rules (in the first module, the loader adopts them for
/// banners in slots).
#[cfg(not(feature = "full"))]
pub const CSS: &str = base_css!();
#[cfg(feature = "full")]
const CSS: &str = concat!(base_css!(), more_css!());

#[cfg(feature = "full")]
thread_local! {
    static SHEET: RefCell<Option<CssStyleSheet>> = const { RefCell::new(None) };
}

#[cfg(feature = "full")]
fn sheet() -> Result<CssStyleSheet, String> {
    SHEET.with(|cell| {
        if let Some(sheet) = cell.borrow().as_ref() {
            return Ok(sheet.clone());
        }
        let sheet = CssStyleSheet::new().map_err(|e| describe(&e))?;
        sheet.replace_sync(CSS).map_err(|e| describe(&e))?;
        *cell.borrow_mut() = Some(sheet.clone());
        Ok(sheet)
    })
}

/// Gives `root` the shared stylesheet.
#[cfg(feature = "full")]
pub fn adopt(root: &ShadowRoot) -> Result<(), String> {
    let sheets = js_sys::Array::of1(&sheet()?.into());
    js_sys::Reflect::set(root, &JsValue::from_str("adoptedStyleSheets"), &sheets)
        .map_err(|e| describe(&e))?;
    Ok(())
}
