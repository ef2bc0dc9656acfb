//! The model as the server publishes it to the widget: the items a row of
//! product cards may show (what a card needs, from the catalog), each
//! item's neighbours by their place in that list, and the items by reach.
//! Compact (varints, length-prefixed UTF-8, base64 text like the config),
//! so it is stored and signed like any text. It starts with [`FORMAT`]; a
//! reader refuses any other.

use super::Model;
use crate::wire::{Reader, Writer, unbase64};

/// The published form's version; the first thing in it.
pub const FORMAT: u64 = 1;

/// What a product card shows of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// The shop's item id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its page.
    pub url: Option<String>,
    /// Its picture.
    pub image: Option<String>,
    /// Its price.
    pub price: f64,
    /// Its price on sale.
    pub sale_price: Option<f64>,
    /// Its category's place in [`Published::categories`].
    pub category: Option<u32>,
}

/// The published model: `model`'s item numbers are places in `cards`,
/// which are in the order of their ids (see [`Published::place`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Published {
    /// The site.
    pub site: String,
    /// When it was built (ms since the epoch).
    pub built_ms: i64,
    /// The categories' names.
    pub categories: Vec<String>,
    /// The items that may be recommended or lead to one.
    pub cards: Vec<Card>,
    /// Their neighbours and the items by reach.
    pub model: Model,
}

/// The most items a published model lists: the widget downloads it whole,
/// so a shop with a long tail publishes its most touched items (about
/// 100 KB brotli at most; see `cargo xtask bench`).
pub const MAX_ITEMS: usize = 2_000;

/// The most neighbours a published item keeps (a row shows at most 12
/// cards, from several items of the shopper's).
pub const MAX_NEIGHBOURS: usize = 10;

/// `p` cut down for the widget: the `max_items` items most touched
/// (`touches[i]`, say the weighted interactions with item `i`) among those
/// that lead to a recommendation or are one, each with at most
/// `neighbours` neighbours among them; items that are neither are left
/// out, and categories no item names.
pub fn bounded(p: Published, touches: &[f64], max_items: usize, neighbours: usize) -> Published {
    let n = p.cards.len();
    let mut wanted = vec![false; n];
    for (i, row) in p.model.neighbours.iter().enumerate() {
        if !row.is_empty() {
            wanted[i] = true;
        }
        for &(j, _) in row {
            if let Some(w) = wanted.get_mut(j as usize) {
                *w = true;
            }
        }
    }
    for &i in &p.model.popular {
        if let Some(w) = wanted.get_mut(i as usize) {
            *w = true;
        }
    }
    let touched = |i: usize| touches.get(i).copied().unwrap_or(0.0);
    let mut kept: Vec<usize> = (0..n).filter(|&i| wanted[i]).collect();
    kept.sort_by(|&a, &b| touched(b).total_cmp(&touched(a)).then(a.cmp(&b)));
    kept.truncate(max_items);
    // In the order of their ids, so the widget finds an item by bisection.
    kept.sort_by(|&a, &b| p.cards[a].id.cmp(&p.cards[b].id));
    let mut place = vec![u32::MAX; n];
    for (new, &old) in kept.iter().enumerate() {
        place[old] = new as u32;
    }
    let mut categories: Vec<String> = Vec::new();
    let mut category_place = vec![u32::MAX; p.categories.len()];
    let mut rows = p.model.neighbours;
    let mut cards = p.cards;
    let mut out_cards = Vec::with_capacity(kept.len());
    let mut out_rows = Vec::with_capacity(kept.len());
    for &old in &kept {
        let mut card = std::mem::replace(&mut cards[old], Card::empty());
        card.category = card.category.map(|k| {
            let k = k as usize;
            if category_place[k] == u32::MAX {
                category_place[k] = categories.len() as u32;
                categories.push(p.categories[k].clone());
            }
            category_place[k]
        });
        out_cards.push(card);
        let mut row: Vec<(u32, f32)> = std::mem::take(&mut rows[old])
            .into_iter()
            .filter_map(|(j, s)| Some((*place.get(j as usize).filter(|&&k| k != u32::MAX)?, s)))
            .collect();
        row.truncate(neighbours);
        out_rows.push(row);
    }
    let popular = p
        .model
        .popular
        .iter()
        .filter_map(|&i| place.get(i as usize).copied().filter(|&k| k != u32::MAX))
        .collect();
    Published {
        site: p.site,
        built_ms: p.built_ms,
        categories,
        cards: out_cards,
        model: Model {
            neighbours: out_rows,
            popular,
        },
    }
}

impl Card {
    fn empty() -> Card {
        Card {
            id: String::new(),
            name: String::new(),
            url: None,
            image: None,
            price: 0.0,
            sale_price: None,
            category: None,
        }
    }
}

impl Published {
    /// The place of the item `id` in `cards` (by bisection: the cards are
    /// in the order of their ids, as [`read`] checks).
    pub fn place(&self, id: &str) -> Option<u32> {
        self.cards
            .binary_search_by(|c| c.id.as_str().cmp(id))
            .ok()
            .map(|i| i as u32)
    }
}

/// Writes `p` (base64 text).
pub fn write(p: &Published) -> String {
    let mut w = Writer::default();
    w.u(FORMAT);
    w.s(&p.site);
    w.i(p.built_ms);
    w.list(&p.categories, |w, c| w.s(c));
    w.list(&p.cards, |w, c| {
        w.s(&c.id);
        w.s(&c.name);
        w.opt(c.url.as_ref(), |w, s| w.s(s));
        w.opt(c.image.as_ref(), |w, s| w.s(s));
        w.n(c.price);
        w.opt(c.sale_price.as_ref(), |w, x| w.n(*x));
        w.opt(c.category.as_ref(), |w, x| w.u(u64::from(*x)));
    });
    // Scores as sixteenths of a thousandth of the highest (a varint of at
    // most three bytes instead of a float's eight): rankings only add and
    // compare them.
    let top = p
        .model
        .neighbours
        .iter()
        .flatten()
        .map(|(_, s)| f64::from(*s))
        .fold(0.0, f64::max);
    w.f(top);
    w.list(&p.model.neighbours, |w, row| {
        w.list(row, |w, (item, score)| {
            w.u(u64::from(*item));
            w.u(quantise(f64::from(*score), top));
        });
    });
    w.list(&p.model.popular, |w, item| w.u(u64::from(*item)));
    w.finish()
}

/// `score` in `0..=SCALE` of `top`.
fn quantise(score: f64, top: f64) -> u64 {
    if top > 0.0 {
        (score / top * SCALE).round().clamp(0.0, SCALE) as u64
    } else {
        0
    }
}

/// The highest score's quantised value.
const SCALE: f64 = 65_535.0;

/// Reads a model [written](write) by the server; `None` when it is not
/// one (or names an item it does not list, or its cards are not in the
/// order of their ids).
pub fn read(text: &str) -> Option<Published> {
    let bytes = unbase64(text.trim_ascii())?;
    let mut r = Reader::new(&bytes);
    if r.u() != FORMAT {
        return None;
    }
    let site = r.s();
    let built_ms = r.i();
    let categories = r.list(Reader::s);
    let cards = r.list(|r| Card {
        id: r.s(),
        name: r.s(),
        url: r.opt(Reader::s),
        image: r.opt(Reader::s),
        price: r.n(),
        sale_price: r.opt(Reader::n),
        category: r.opt(Reader::u32),
    });
    let top = r.f();
    let neighbours = r.list(|r| r.list(|r| (r.u32(), (r.u() as f64 / SCALE * top) as f32)));
    let popular = r.list(Reader::u32);
    let n = cards.len() as u32;
    let in_range = neighbours.len() == cards.len()
        && cards.windows(2).all(|w| w[0].id < w[1].id)
        && neighbours.iter().flatten().all(|(i, _)| *i < n)
        && popular.iter().all(|i| *i < n)
        && cards
            .iter()
            .all(|c| c.category.is_none_or(|k| (k as usize) < categories.len()));
    let published = Published {
        site,
        built_ms,
        categories,
        cards,
        model: Model {
            neighbours,
            popular,
        },
    };
    r.finish(published).filter(|_| in_range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_model_reads_back_whole_and_a_broken_one_not_at_all() {
        let p = Published {
            site: "demo".into(),
            built_ms: 1_800_000_000_000,
            categories: vec!["knit".into(), "outer".into()],
            cards: vec![
                Card {
                    id: "coat-02".into(),
                    name: "코트".into(),
                    url: None,
                    image: Some("https://cdn.example/c.jpg".into()),
                    price: 129000.5,
                    sale_price: None,
                    category: None,
                },
                Card {
                    id: "knit-01".into(),
                    name: "Wool crew knit".into(),
                    url: Some("/p/knit-01".into()),
                    image: None,
                    price: 59000.0,
                    sale_price: Some(49000.0),
                    category: Some(0),
                },
            ],
            model: Model {
                neighbours: vec![vec![(1, 0.75)], vec![(0, 0.5)]],
                popular: vec![1, 0],
            },
        };
        let text = write(&p);
        // Scores come back as a share of the highest, in 65,535 steps.
        let back = read(&text).unwrap();
        assert_eq!(back.cards, p.cards);
        assert_eq!(back.model.popular, p.model.popular);
        assert_eq!(back.model.neighbours[0], [(1, 0.75)]);
        assert_eq!(back.model.neighbours[1][0].0, 0);
        assert!((back.model.neighbours[1][0].1 - 0.5).abs() < 0.75 / 65_535.0);
        assert_eq!((back.site.as_str(), back.built_ms), ("demo", p.built_ms));
        // Another format, cut short, or an item out of range: refused.
        let mut other = p.clone();
        other.model.popular = vec![2];
        assert_eq!(read(&write(&other)), None);
        assert_eq!(read(&text[..text.len() - 8]), None);
        assert_eq!(read("AgAA"), None);
        assert_eq!(read("not base64!"), None);
        // Cards out of the order of their ids: refused.
        let mut unsorted = p.clone();
        unsorted.cards.swap(0, 1);
        assert_eq!(read(&write(&unsorted)), None);
        assert_eq!(
            (p.place("coat-02"), p.place("knit-01"), p.place("x")),
            (Some(0), Some(1), None)
        );
    }

    #[test]
    fn a_bounded_model_keeps_the_most_touched_items_renumbered_and_drops_the_rest() {
        let card = |id: &str, category: Option<u32>| Card {
            id: id.into(),
            category,
            ..Card::empty()
        };
        let p = Published {
            site: "demo".into(),
            built_ms: 1,
            categories: vec!["a".into(), "b".into(), "c".into()],
            cards: vec![
                card("lonely", Some(0)),
                card("x", Some(1)),
                card("y", Some(2)),
                card("z", None),
                card("rare", Some(0)),
            ],
            model: Model {
                neighbours: vec![
                    vec![],
                    vec![(2, 0.9), (3, 0.5), (4, 0.1)],
                    vec![(1, 0.9)],
                    vec![(1, 0.5)],
                    vec![(1, 0.1)],
                ],
                popular: vec![1, 4, 2],
            },
        };
        // "lonely" leads nowhere and nothing leads to it; "rare" is the
        // least touched of the rest, and only three fit.
        let touches = [50.0, 9.0, 8.0, 7.0, 1.0];
        let b = bounded(p, &touches, 3, 1);
        let ids: Vec<&str> = b.cards.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["x", "y", "z"]);
        assert_eq!(b.categories, ["b", "c"]);
        assert_eq!(
            b.cards.iter().map(|c| c.category).collect::<Vec<_>>(),
            [Some(0), Some(1), None]
        );
        assert_eq!(
            b.model.neighbours,
            [vec![(1, 0.9)], vec![(0, 0.9)], vec![(0, 0.5)]]
        );
        assert_eq!(b.model.popular, [0, 1]);
        assert_eq!(read(&write(&b)).map(|r| r.cards), Some(b.cards));
    }
}
