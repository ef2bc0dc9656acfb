//! The stored profile stays under 16 KB whatever the history.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

use dangol_engine::profile::{Input, MAX_BYTES, Profile, ProfileConfig};
use proptest::prelude::*;

fn id(seed: u64, len: usize) -> String {
    // Mixed scripts, so byte lengths vary: ASCII, Hangul, emoji.
    let alphabet = ["a", "b", "7", "한", "글", "😀", "-", "é"];
    (0..len)
        .map(|i| alphabet[((seed >> (i % 60)) as usize + i) % alphabet.len()])
        .collect()
}

fn input(kind: u8, a: u64, b: u64) -> Input {
    let item = id(a % 5000, (b % 150) as usize + 1);
    let category = Some(id(a % 300, (b % 90) as usize + 1));
    match kind % 10 {
        0 | 1 => Input::PageView {
            category,
            sale: b.is_multiple_of(7),
        },
        2 | 3 => Input::ViewItem {
            item,
            category,
            brand: Some(id(b % 200, 40)),
        },
        4 => Input::AddToCart {
            item,
            category,
            price: (b % 100_000) as f64,
            quantity: (b % 5) as u32 + 1,
        },
        5 => Input::RemoveFromCart { item },
        6 => Input::Purchase {
            transaction_id: Some(id(a, (b % 100) as usize + 1)),
            value: (b % 500_000) as f64,
            categories: (0..(b % 8)).map(|i| id(a + i, 30)).collect(),
            items: (0..(b % 9)).map(|i| id(a + 2 * i, 30)).collect(),
            coupon: b.is_multiple_of(3),
        },
        7 => Input::Engaged {
            seconds: (b % 600) as u32,
        },
        8 => Input::Exposure {
            campaign: id(a % 400, (b % 64) as usize + 1),
            variant: id(b % 7, (a % 64) as usize + 1),
        },
        _ => Input::Dismiss {
            campaign: id(a % 400, (b % 64) as usize + 1),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn a_hundred_thousand_random_events_keep_the_profile_under_16_kb(seed in any::<u64>()) {
        let cfg = ProfileConfig::default();
        let mut profile = Profile::default();
        let mut state = seed | 1;
        let mut next = || {
            // xorshift64*: a cheap deterministic stream for the event mix.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        let mut now = 1_795_617_000_000i64;
        let mut largest = 0;
        for i in 0..100_000u32 {
            now += (next() % 7_200_000) as i64;
            let (k, a, b) = (next() as u8, next(), next());
            profile.apply(&input(k, a, b), &cfg, now, 540);
            if i % 5_000 == 0 || i == 99_999 {
                let bytes = profile.to_value().to_string().len();
                largest = largest.max(bytes);
                prop_assert!(bytes < MAX_BYTES, "{bytes} bytes after {i} events");
            }
        }
        println!("largest stored profile: {largest} bytes");
        let back = Profile::from_value(&profile.to_value()).unwrap();
        prop_assert_eq!(back, profile);
    }
}
