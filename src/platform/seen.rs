//! "Actually seen": at least half of an element in the viewport for a full
//! second while the page is visible (IntersectionObserver and a timer).

use std::cell::RefCell;
use std::rc::Rc;

use gloo::timers::callback::Timeout;
use js_sys::Array;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

/// Share of the element that must be visible.
const RATIO: f64 = 0.5;
/// How long it must stay visible, in milliseconds.
const DWELL_MS: u32 = 1_000;

type Callback = Rc<RefCell<Option<Box<dyn FnOnce()>>>>;

/// Watches one element; dropping it stops watching.
pub struct Watch {
    observer: IntersectionObserver,
    _callback: Closure<dyn FnMut(Array)>,
    _timer: Rc<RefCell<Option<Timeout>>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

fn page_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| !d.hidden())
}

/// Arms a check in [`DWELL_MS`]: seen if the page is visible then, else
/// checked again a second later (the element is still in view, or the
/// observer would have cancelled the timer).
fn arm(timer: &Rc<RefCell<Option<Timeout>>>, on_seen: &Callback) {
    let (t, seen) = (Rc::downgrade(timer), on_seen.clone());
    *timer.borrow_mut() = Some(Timeout::new(DWELL_MS, move || {
        let Some(timer) = t.upgrade() else {
            return;
        };
        if page_visible() {
            if let Some(f) = seen.borrow_mut().take() {
                f();
            }
        } else {
            arm(&timer, &seen);
        }
    }));
}

/// Calls `on_seen` once, when `element` has been at least half visible for
/// a second while the page was visible. `None` where the browser has no
/// IntersectionObserver.
pub fn watch(element: &Element, on_seen: impl FnOnce() + 'static) -> Option<Watch> {
    let on_seen: Callback = Rc::new(RefCell::new(Some(Box::new(on_seen))));
    let timer: Rc<RefCell<Option<Timeout>>> = Rc::new(RefCell::new(None));
    let (t, seen) = (timer.clone(), on_seen.clone());
    let callback = Closure::<dyn FnMut(Array)>::new(move |entries: Array| {
        for entry in entries.iter() {
            let Ok(entry) = entry.dyn_into::<IntersectionObserverEntry>() else {
                continue;
            };
            let in_view = entry.is_intersecting() && entry.intersection_ratio() >= RATIO - 0.001;
            if !in_view {
                // Scrolled away before the second was up: start again.
                t.borrow_mut().take();
            } else if t.borrow().is_none() && seen.borrow().is_some() {
                arm(&t, &seen);
            }
        }
    });
    let init = IntersectionObserverInit::new();
    init.set_threshold(&Array::of2(&0.0.into(), &RATIO.into()));
    let observer =
        IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &init).ok()?;
    observer.observe(element);
    Some(Watch {
        observer,
        _callback: callback,
        _timer: timer,
    })
}
