//! The ranking on the shopper's device: their own items, by the shop's
//! ids, against the [published](super::published) model, and the words of
//! why each card is there. Nothing here leaves the browser.

use super::published::{Card, Published};
use super::{HISTORY_HALF_LIFE_DAYS, Kind, Touched, rank_from};
use crate::config::{Recommendations, Strategy};
use crate::i18n::Lang;
use crate::profile::Profile;

/// One item of the shopper's own history.
#[derive(Debug, Clone, PartialEq)]
pub struct Mine {
    /// The shop's item id.
    pub id: String,
    /// The weightiest thing they did with it.
    pub kind: Kind,
    /// When they last did it (ms since the epoch).
    pub ts_ms: i64,
}

/// What the profile remembers of items: viewed, in the cart, bought.
pub fn mine(profile: &Profile) -> Vec<Mine> {
    let mut out = Vec::new();
    for s in &profile.item_views {
        out.push(Mine {
            id: s.key.clone(),
            kind: Kind::View,
            ts_ms: s.at_ms,
        });
    }
    for l in &profile.cart {
        out.push(Mine {
            id: l.item.clone(),
            kind: Kind::Cart,
            ts_ms: profile.cart_ms,
        });
    }
    for s in &profile.bought {
        out.push(Mine {
            id: s.key.clone(),
            kind: Kind::Purchase,
            ts_ms: s.at_ms,
        });
    }
    out
}

/// One card of the row, and the item of the shopper's own it follows from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommended<'a> {
    /// What the card shows.
    pub card: &'a Card,
    /// The shopper's item that contributed most, and what they did with
    /// it; `None` for a best-seller.
    pub because: Option<(&'a Card, Kind)>,
}

/// The page a row is on, as the row reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Page<'a> {
    /// Its category (`<meta name="dangol:category">`): its best-sellers
    /// come first among the best-sellers.
    pub category: Option<&'a str>,
    /// Its path and query (`/product.html?id=knit-01`): the item whose
    /// card links here is the page's own, never recommended on it.
    pub path_and_query: &'a str,
}

/// Whether a card's `url` (absolute or a path, maybe with a fragment)
/// leads to the page at `path_and_query`.
fn leads_to(url: &str, path_and_query: &str) -> bool {
    // Byte scans, not `str::find` with a pattern (the substring searcher
    // costs a kilobyte of wasm).
    let bytes = url.as_bytes();
    let end = bytes.iter().position(|&b| b == b'#').unwrap_or(bytes.len());
    let url = &url[..end];
    let local = match bytes[..end].windows(3).position(|w| w == b"://") {
        Some(i) => match bytes[i + 3..end].iter().position(|&b| b == b'/') {
            Some(j) => &url[i + 3 + j..],
            None => "/",
        },
        None => url,
    };
    !path_and_query.is_empty() && local == path_and_query
}

/// The row for a shopper who did `mine` (none without personalisation
/// consent), on `page`: `n` cards, at most `per_category` of one
/// category, never an item they bought or have in the cart, nor the one
/// the page is about.
pub fn recommend<'a>(
    p: &'a Published,
    mine: &[Mine],
    n: usize,
    per_category: usize,
    page: Page<'_>,
    now_ms: i64,
) -> Vec<Recommended<'a>> {
    let history: Vec<Touched> = mine
        .iter()
        .filter_map(|m| {
            Some(Touched {
                item: p.place(&m.id)?,
                kind: m.kind,
                ts_ms: m.ts_ms,
                excluded: m.kind != Kind::View,
            })
        })
        .collect();
    // The page's own item.
    let skip = p
        .cards
        .iter()
        .position(|c| {
            c.url
                .as_deref()
                .is_some_and(|u| leads_to(u, page.path_and_query))
        })
        .map(|i| i as u32);
    let page_category = page.category;
    let page = page_category.and_then(|c| p.categories.iter().position(|k| k == c));
    let category = |i: u32| p.cards.get(i as usize).and_then(|c| c.category);
    // The page's category's best-sellers first, the others after.
    let mut popular = p.model.popular.clone();
    if let Some(page) = page {
        popular.sort_by_key(|&i| category(i) != Some(page as u32));
    }
    rank_from(
        &p.model.neighbours,
        &popular,
        &history,
        skip,
        n,
        per_category.max(1),
        &category,
        now_ms,
        HISTORY_HALF_LIFE_DAYS,
    )
    .into_iter()
    .filter_map(|pick| {
        Some(Recommended {
            card: p.cards.get(pick.item as usize)?,
            because: pick
                .because
                .and_then(|(i, kind)| Some((p.cards.get(i as usize)?, kind))),
        })
    })
    .collect()
}

/// The cards of `row` for a shopper who did `mine` (none without
/// personalisation consent) on `page`, by the row's strategy (see
/// [`recommend`]).
pub fn row<'a>(
    p: &'a Published,
    row: &Recommendations,
    mine: &[Mine],
    page: Page<'_>,
    now_ms: i64,
) -> Vec<Recommended<'a>> {
    let mine = match row.strategy {
        Strategy::Related => mine,
        Strategy::BestSellers => &[],
    };
    recommend(
        p,
        mine,
        row.count as usize,
        row.per_category as usize,
        page,
        now_ms,
    )
}

/// Why a card is in the row, in the shopper's language: "Because you
/// viewed Wool crew knit", "Often bought with what's in your cart", or
/// "Popular now" for a best-seller.
pub fn reason(lang: Lang, because: Option<(&Card, Kind)>) -> String {
    match (lang, because) {
        (Lang::Ko, Some((card, Kind::View))) => {
            crate::cat::cat(&["최근 본 ", &card.name, " 관련 상품"])
        }
        (Lang::Ko, Some((_, Kind::Cart))) => "장바구니 상품과 함께 많이 사요".into(),
        (Lang::Ko, Some((card, Kind::Purchase))) => {
            crate::cat::cat(&["구매하신 ", &card.name, "와(과) 잘 어울려요"])
        }
        (Lang::Ko, None) => "지금 인기 있는 상품".into(),
        (Lang::En, Some((card, Kind::View))) => {
            crate::cat::cat(&["Because you viewed ", &card.name])
        }
        (Lang::En, Some((_, Kind::Cart))) => "Often bought with what's in your cart".into(),
        (Lang::En, Some((card, Kind::Purchase))) => {
            crate::cat::cat(&["Goes with your ", &card.name])
        }
        (Lang::En, None) => "Popular now".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Model;
    use super::*;
    use crate::profile::{Input, ProfileConfig};

    const NOW: i64 = 1_800_000_000_000;
    const DAY: i64 = 86_400_000;

    fn card(id: &str, name: &str, category: u32) -> Card {
        Card {
            id: id.into(),
            name: name.into(),
            url: Some(format!("/p/{id}")),
            image: None,
            price: 10_000.0,
            sale_price: None,
            category: Some(category),
        }
    }

    /// knit-01 goes with knit-02 and coat-01; scarf-01 is the best-seller;
    /// bag-01 sells well among bags.
    fn published() -> Published {
        Published {
            site: "demo".into(),
            built_ms: NOW,
            categories: vec!["knit".into(), "outer".into(), "acc".into()],
            // In the order of their ids, as published.
            cards: vec![
                card("bag-01", "Tote bag", 2),
                card("coat-01", "Wool coat", 1),
                card("knit-01", "Wool crew knit", 0),
                card("knit-02", "Cable cardigan", 0),
                card("scarf-01", "Cashmere scarf", 2),
            ],
            model: Model {
                neighbours: vec![
                    vec![],
                    vec![(2, 0.5), (4, 0.2)],
                    vec![(3, 0.8), (1, 0.5)],
                    vec![(2, 0.8)],
                    vec![],
                ],
                popular: vec![4, 2, 0, 1, 3],
            },
        }
    }

    fn ids(row: &[Recommended<'_>]) -> Vec<String> {
        row.iter().map(|r| r.card.id.clone()).collect()
    }

    #[test]
    fn a_viewer_gets_what_goes_with_what_they_viewed_with_the_reason_then_best_sellers() {
        let p = published();
        let viewed = [Mine {
            id: "knit-01".into(),
            kind: Kind::View,
            ts_ms: NOW - DAY,
        }];
        let row = recommend(&p, &viewed, 3, 2, Page::default(), NOW);
        assert_eq!(ids(&row), ["knit-02", "coat-01", "scarf-01"]);
        assert_eq!(
            reason(Lang::En, row[0].because),
            "Because you viewed Wool crew knit"
        );
        assert_eq!(
            reason(Lang::Ko, row[0].because),
            "최근 본 Wool crew knit 관련 상품"
        );
        assert_eq!(reason(Lang::En, row[2].because), "Popular now");
    }

    #[test]
    fn a_best_sellers_row_ignores_the_shoppers_own_items() {
        let p = published();
        let viewed = [Mine {
            id: "knit-01".into(),
            kind: Kind::View,
            ts_ms: NOW - DAY,
        }];
        let mut config = Recommendations {
            headline: "H".into(),
            count: 2,
            per_category: 2,
            strategy: Strategy::Related,
        };
        assert_eq!(
            ids(&row(&p, &config, &viewed, Page::default(), NOW)),
            ["knit-02", "coat-01"]
        );
        config.strategy = Strategy::BestSellers;
        assert_eq!(
            ids(&row(&p, &config, &viewed, Page::default(), NOW)),
            ["scarf-01", "knit-01"]
        );
    }

    #[test]
    fn the_item_the_page_is_about_is_never_on_its_own_row() {
        let p = published();
        let viewed = [Mine {
            id: "knit-01".into(),
            kind: Kind::View,
            ts_ms: NOW - DAY,
        }];
        // On knit-02's page (its card links to /p/knit-02), as a path or
        // a whole URL, with or without a fragment.
        for url in ["/p/knit-02", "https://shop.example/p/knit-02#top"] {
            let mut q = p.clone();
            q.cards[3].url = Some(url.into());
            let page = Page {
                category: None,
                path_and_query: "/p/knit-02",
            };
            assert_eq!(
                ids(&recommend(&q, &viewed, 3, 3, page, NOW)),
                ["coat-01", "scarf-01", "knit-01"],
                "{url}"
            );
        }
        assert!(!leads_to("/p/knit-02", ""));
        assert!(!leads_to("https://shop.example", "/p/knit-02"));
        assert!(leads_to("https://shop.example", "/"));
    }

    #[test]
    fn what_is_in_the_cart_or_bought_is_never_shown_back() {
        let p = published();
        let mine = [
            Mine {
                id: "knit-01".into(),
                kind: Kind::Cart,
                ts_ms: NOW,
            },
            Mine {
                id: "knit-02".into(),
                kind: Kind::Purchase,
                ts_ms: NOW - 30 * DAY,
            },
            Mine {
                id: "scarf-01".into(),
                kind: Kind::Purchase,
                ts_ms: NOW - 30 * DAY,
            },
        ];
        let row = recommend(&p, &mine, 5, 5, Page::default(), NOW);
        assert_eq!(ids(&row), ["coat-01", "bag-01"]);
        assert_eq!(
            reason(Lang::En, row[0].because),
            "Often bought with what's in your cart"
        );
    }

    #[test]
    fn without_history_the_pages_category_leads_the_best_sellers_and_the_row_is_diverse() {
        let p = published();
        // No history (no personalisation consent): best-sellers only, the
        // page's category (acc) first.
        let acc = Page {
            category: Some("acc"),
            path_and_query: "",
        };
        let row = recommend(&p, &[], 4, 1, acc, NOW);
        assert_eq!(ids(&row), ["scarf-01", "knit-01", "coat-01"]);
        assert!(row.iter().all(|r| r.because.is_none()));
        // Two per category: both accessories first.
        let row = recommend(&p, &[], 4, 2, acc, NOW);
        assert_eq!(ids(&row), ["scarf-01", "bag-01", "knit-01", "coat-01"]);
        // An item the model does not know leads nowhere.
        let unknown = [Mine {
            id: "gone".into(),
            kind: Kind::View,
            ts_ms: NOW,
        }];
        assert_eq!(
            ids(&recommend(&p, &unknown, 2, 2, Page::default(), NOW)),
            ["scarf-01", "knit-01"]
        );
    }

    #[test]
    fn the_profile_hands_over_viewed_carted_and_bought_items() {
        let cfg = ProfileConfig::default();
        let mut profile = Profile::default();
        let view = Input::ViewItem {
            item: "knit-01".into(),
            category: Some("knit".into()),
            brand: None,
        };
        profile.apply(&view, &cfg, NOW - 2 * DAY, 0);
        let cart = Input::AddToCart {
            item: "coat-01".into(),
            category: None,
            price: 1.0,
            quantity: 1,
        };
        profile.apply(&cart, &cfg, NOW - DAY, 0);
        let mut kinds: Vec<(String, Kind)> =
            mine(&profile).into_iter().map(|m| (m.id, m.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("knit-01".into(), Kind::View),
                ("coat-01".into(), Kind::Cart)
            ]
        );
        let order = Input::Purchase {
            transaction_id: Some("T1".into()),
            value: 1.0,
            categories: vec![],
            items: vec!["coat-01".into()],
            coupon: false,
        };
        profile.apply(&order, &cfg, NOW, 0);
        kinds = mine(&profile).into_iter().map(|m| (m.id, m.kind)).collect();
        assert_eq!(kinds, [("coat-01".into(), Kind::Purchase)]);
        // Bought items are kept in the stored profile, and the items alone
        // read back from it.
        let back = Profile::from_value(&profile.to_value()).unwrap();
        assert_eq!(mine(&back), mine(&profile));
        profile.apply(&view, &cfg, NOW + DAY, 0);
        profile.apply(&cart, &cfg, NOW + DAY, 0);
        let items = Profile::items_from_value(&profile.to_value());
        assert_eq!(mine(&items), mine(&profile));
        assert_eq!(mine(&items).len(), 3);
        assert_eq!(items.orders, 0, "nothing else");
    }
}
