//! Verifying the config's Ed25519 signature with the browser's WebCrypto.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::describe;

/// Why a signature could not be checked.
#[derive(Debug)]
pub enum Unverifiable {
    /// The browser's WebCrypto has no Ed25519.
    Unsupported,
    /// Anything else (bad key or signature encoding...).
    Failed(String),
}

fn base64(text: &str) -> Result<Uint8Array, Unverifiable> {
    let window = web_sys::window().ok_or(Unverifiable::Failed("no window".into()))?;
    let binary = window.atob(text).map_err(|e| {
        Unverifiable::Failed(dangol_engine::cat::cat(&[
            "not base64 (",
            &describe(&e),
            ")",
        ]))
    })?;
    let bytes: Vec<u8> = binary.chars().map(|c| c as u32 as u8).collect();
    Ok(Uint8Array::from(bytes.as_slice()))
}

fn call(target: &JsValue, method: &str, args: &Array) -> Result<Promise, Unverifiable> {
    let f = Reflect::get(target, &JsValue::from_str(method))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or(Unverifiable::Unsupported)?;
    f.apply(target, args)
        .map_err(|e| Unverifiable::Failed(describe(&e)))?
        .dyn_into::<Promise>()
        .map_err(|_| {
            Unverifiable::Failed(dangol_engine::cat::cat(&[
                method,
                " did not return a promise",
            ]))
        })
}

/// Whether `signature` (base64) signs `data` under `public_key` (base64).
pub async fn verify_ed25519(
    public_key: &str,
    signature: &str,
    data: &str,
) -> Result<bool, Unverifiable> {
    let window = web_sys::window().ok_or(Unverifiable::Unsupported)?;
    let crypto = Reflect::get(&window, &JsValue::from_str("crypto"))
        .map_err(|_| Unverifiable::Unsupported)?;
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle"))
        .map_err(|_| Unverifiable::Unsupported)?;
    if subtle.is_undefined() {
        return Err(Unverifiable::Unsupported);
    }
    let algorithm = Object::new();
    let _ = Reflect::set(
        &algorithm,
        &JsValue::from_str("name"),
        &JsValue::from_str("Ed25519"),
    );
    let usages = Array::of1(&JsValue::from_str("verify"));
    let import = call(
        &subtle,
        "importKey",
        &Array::of5(
            &JsValue::from_str("raw"),
            &base64(public_key)?.into(),
            &algorithm,
            &JsValue::FALSE,
            &usages,
        ),
    )?;
    let key = JsFuture::from(import).await.map_err(|e| {
        let name = Reflect::get(&e, &JsValue::from_str("name"))
            .ok()
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        if name == "NotSupportedError" {
            Unverifiable::Unsupported
        } else {
            Unverifiable::Failed(describe(&e))
        }
    })?;
    let data = Uint8Array::from(data.as_bytes());
    let verify = call(
        &subtle,
        "verify",
        &Array::of4(&algorithm, &key, &base64(signature)?.into(), &data),
    )?;
    let ok = JsFuture::from(verify)
        .await
        .map_err(|e| Unverifiable::Failed(describe(&e)))?;
    Ok(ok.as_bool() == Some(true))
}
