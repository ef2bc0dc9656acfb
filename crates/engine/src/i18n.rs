//! The widget's own words in Korean and English. Offer copy comes from the
//! shop's config; these are the few words around it (close, copy, why this
//! offer...), chosen from the page's `lang`, then the config's `locale`.

/// A language the widget speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 한국어.
    Ko,
    /// English.
    #[default]
    En,
}

impl Lang {
    /// The page's `lang` (`ko`, `ko-KR`, `en-US`...) when it names a
    /// language we speak, else the config's `locale`, else English.
    pub fn pick(page_lang: &str, config_locale: Option<&str>) -> Lang {
        let primary = |tag: &str| {
            let tag = tag.trim_ascii();
            let head = &tag[..tag
                .bytes()
                .position(|b| b == b'-' || b == b'_')
                .unwrap_or(tag.len())];
            // Two letters, either case.
            match head.as_bytes() {
                [a, b] => match [a | 0x20, b | 0x20] {
                    [b'k', b'o'] => Some(Lang::Ko),
                    [b'e', b'n'] => Some(Lang::En),
                    _ => None,
                },
                _ => None,
            }
        };
        primary(page_lang)
            .or_else(|| config_locale.and_then(primary))
            .unwrap_or_default()
    }

    /// A BCP 47 tag for number formatting.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ko => "ko-KR",
            Lang::En => "en-US",
        }
    }

    /// The widget's fixed words in this language.
    pub fn words(self) -> &'static Words {
        match self {
            Lang::Ko => &KO,
            Lang::En => &EN,
        }
    }
}

/// The widget's fixed words.
#[derive(Debug)]
pub struct Words {
    /// The "Why this offer?" button.
    pub why: &'static str,
    /// The switch-off control under the explanation.
    pub off: &'static str,
    /// The close button of overlays (its accessible name).
    pub close: &'static str,
    /// The coupon's copy button, before and after copying.
    pub copy: &'static str,
    /// After copying.
    pub copied: &'static str,
    /// The coupon needs personalisation consent.
    pub claim_needs_consent: &'static str,
    /// Every code was claimed.
    pub claim_exhausted: &'static str,
    /// The claim failed for another reason.
    pub claim_failed: &'static str,
    /// After a feedback answer.
    pub thanks: &'static str,
}

static EN: Words = Words {
    why: "Why this offer?",
    off: "Turn off personalised offers",
    close: "Close",
    copy: "Copy code",
    copied: "Copied",
    claim_needs_consent: "Allow personalised offers to get your own code.",
    claim_exhausted: "Sorry, every code for this offer has been claimed.",
    claim_failed: "Your code could not be fetched right now. Please try again later.",
    thanks: "Thank you for your answer!",
};

static KO: Words = Words {
    why: "이 혜택을 보는 이유",
    off: "맞춤 혜택 끄기",
    close: "닫기",
    copy: "코드 복사",
    copied: "복사됨",
    claim_needs_consent: "맞춤 혜택을 허용하시면 나만의 코드를 받을 수 있어요.",
    claim_exhausted: "죄송해요, 이 혜택의 코드가 모두 소진되었어요.",
    claim_failed: "지금은 코드를 불러오지 못했어요. 잠시 후 다시 시도해 주세요.",
    thanks: "답변해 주셔서 감사합니다!",
};

impl Lang {
    /// "1,200 / 2,000 points to Gold".
    pub fn points_to(self, points: &str, next: &str, tier: &str) -> String {
        match self {
            Lang::Ko => format!("{tier}까지 {points} / {next} 포인트"),
            Lang::En => format!("{points} / {next} points to {tier}"),
        }
    }

    /// At the top tier: "2,400 points: you're Gold, our top tier".
    pub fn top_tier(self, points: &str, tier: &str) -> String {
        match self {
            Lang::Ko => format!("{points} 포인트 · 최고 등급 {tier}이에요"),
            Lang::En => format!("{points} points: you're {tier}, our top tier"),
        }
    }

    /// "Gold unlocks: free shipping".
    pub fn unlocks(self, tier: &str, perks: &str) -> String {
        match self {
            Lang::Ko => format!("{tier} 혜택: {perks}"),
            Lang::En => format!("{tier} unlocks: {perks}"),
        }
    }

    /// The accessible name of an answer button: "4 of 5".
    pub fn score_of(self, n: u8, of: u8) -> String {
        match self {
            Lang::Ko => format!("{of}점 중 {n}점"),
            Lang::En => format!("{n} of {of}"),
        }
    }

    /// When a claimed code expires: "Valid until 12/31/2026 (3 days left)".
    pub fn valid_until(self, date: &str, days: u32) -> String {
        match self {
            Lang::Ko => format!("{date}까지 사용 가능 ({days}일 남음)"),
            Lang::En if days == 1 => format!("Valid until {date} (1 day left)"),
            Lang::En => format!("Valid until {date} ({days} days left)"),
        }
    }

    /// The explanation sentence from plain-words reasons (a general one
    /// when there are none).
    pub fn because(self, reasons: &[String]) -> String {
        if reasons.is_empty() {
            // Chosen from personal data none of whose values says
            // anything in words (an empty cart, say).
            return match self {
                Lang::Ko => "이 쇼핑몰에서의 활동을 바탕으로 보여 드리는 혜택이에요.",
                Lang::En => "You see this because of your activity on this shop.",
            }
            .to_string();
        }
        match self {
            Lang::Ko => format!("{} 보여 드리는 혜택이에요.", reasons.join(", ")),
            Lang::En => format!("You see this because {}.", reasons.join(", and ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_language_wins_then_the_config() {
        assert_eq!(Lang::pick("ko-KR", Some("en")), Lang::Ko);
        assert_eq!(Lang::pick("en", Some("ko")), Lang::En);
        assert_eq!(Lang::pick("ja", Some("ko")), Lang::Ko);
        assert_eq!(Lang::pick("", None), Lang::En);
        assert_eq!(Lang::pick("KO_kr", None), Lang::Ko);
        assert_eq!(Lang::pick("kok", None), Lang::En);
        assert_eq!(Lang::pick(" eN-gb", Some("ko")), Lang::En);
        assert_eq!(Lang::pick("K", Some("Ko")), Lang::Ko);
    }

    #[test]
    fn sentences_read_naturally_in_both_languages() {
        assert_eq!(
            Lang::En.points_to("1,200", "2,000", "Gold"),
            "1,200 / 2,000 points to Gold"
        );
        assert_eq!(
            Lang::Ko.points_to("1,200", "2,000", "골드"),
            "골드까지 1,200 / 2,000 포인트"
        );
        let reasons = ["a".to_string(), "b".to_string()];
        assert_eq!(Lang::En.because(&reasons), "You see this because a, and b.");
        assert_eq!(Lang::Ko.because(&reasons), "a, b 보여 드리는 혜택이에요.");
        assert_eq!(
            Lang::En.because(&[]),
            "You see this because of your activity on this shop."
        );
        assert_eq!(Lang::Ko.score_of(4, 5), "5점 중 4점");
        assert_ne!(Lang::Ko.words().close, Lang::En.words().close);
    }
}
