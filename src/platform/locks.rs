//! One page at a time across tabs: the Web Locks API
//! (`navigator.locks.request` with `ifAvailable`). Where a browser lacks it,
//! the task simply runs (the server's idempotent ids keep that safe).

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local};

/// Runs `task` holding the lock `name` if no other page holds it, else
/// calls `busy`. The lock is held until the task is done.
pub fn run_exclusive<F>(name: &str, task: F, busy: impl FnOnce() + 'static)
where
    F: Future<Output = ()> + 'static,
{
    let locks = web_sys::window()
        .map(|w| w.navigator())
        .and_then(|n| Reflect::get(&n, &JsValue::from_str("locks")).ok())
        .filter(|l| l.is_object());
    let request = locks.as_ref().and_then(|l| {
        Reflect::get(l, &JsValue::from_str("request"))
            .ok()?
            .dyn_into::<Function>()
            .ok()
    });
    let (Some(locks), Some(request)) = (locks, request) else {
        spawn_local(task);
        return;
    };
    let task = Rc::new(RefCell::new(Some((task, busy))));
    let callback = Closure::once_into_js(move |lock: JsValue| -> Promise {
        let Some((task, busy)) = task.borrow_mut().take() else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        if lock.is_null() {
            busy();
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        future_to_promise(async move {
            task.await;
            Ok(JsValue::UNDEFINED)
        })
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &JsValue::from_str("ifAvailable"), &JsValue::TRUE);
    if let Ok(p) = request.call3(&locks, &JsValue::from_str(name), &options, &callback)
        && let Ok(p) = p.dyn_into::<Promise>()
    {
        // A rejection (the lock manager went away) must not surface.
        spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(p).await;
        });
    }
}
