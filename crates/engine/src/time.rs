//! Time as the engine sees it: passed in, never read from a clock. Days and
//! weeks are the shopper's local ones, from the UTC offset the browser
//! reports, so caps roll over at the shopper's midnight.

use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;

/// "Now" for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// Milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// Minutes to add to UTC for local time (UTC+9 → 540). Note: the
    /// opposite sign of JavaScript's `getTimezoneOffset()`.
    pub utc_offset_minutes: i32,
    /// When the current session began (ms since the epoch).
    pub session_start_ms: i64,
}

impl Moment {
    /// A moment at `now_ms` in UTC whose session starts now.
    pub fn utc(now_ms: i64) -> Self {
        Self {
            now_ms,
            utc_offset_minutes: 0,
            session_start_ms: now_ms,
        }
    }

    fn local_ms(&self, ts: i64) -> i64 {
        ts + i64::from(self.utc_offset_minutes) * 60_000
    }

    /// The local day number of `ts` (days since 1970-01-01, local).
    pub fn day_of(&self, ts: i64) -> i64 {
        self.local_ms(ts).div_euclid(DAY_MS)
    }

    /// The local week number of `ts`; weeks start on Monday.
    pub fn week_of(&self, ts: i64) -> i64 {
        // 1970-01-01 was a Thursday: shift so that weeks begin on Monday.
        (self.day_of(ts) + 3).div_euclid(7)
    }

    /// Today's local weekday, 1 = Monday … 7 = Sunday.
    pub fn weekday(&self) -> u8 {
        ((self.day_of(self.now_ms) + 3).rem_euclid(7) + 1) as u8
    }

    /// The local date now: year, month (1–12), day of the month (1–31).
    pub fn local_date(&self) -> (i64, u8, u8) {
        // Days to the proleptic Gregorian calendar (H. Hinnant's
        // `civil_from_days`).
        let z = self.day_of(self.now_ms) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// The local hour now, 0–23.
    pub fn local_hour(&self) -> u8 {
        (self.local_ms(self.now_ms).rem_euclid(DAY_MS) / 3_600_000) as u8
    }
}

/// The day number (days since 1970-01-01) of a `YYYY-MM-DD` date; `None`
/// for anything else or a date that does not exist.
pub fn day_number(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = crate::cat::digits(&date[..4])? as i64;
    let m = crate::cat::digits(&date[5..7])? as i64;
    let d = crate::cat::digits(&date[8..])? as i64;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > days_in[(m - 1) as usize] {
        return None;
    }
    // H. Hinnant's `days_from_civil`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_read_dates_and_refuse_what_is_not_one() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-02-29"), Some(11_016));
        assert_eq!(day_number("2026-12-01"), Some(20_788));
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20261201",
            "soon",
            "",
        ] {
            assert_eq!(day_number(bad), None, "{bad}");
        }
        // The inverse of the local date.
        let m = Moment::utc(20_788 * DAY_MS + 5);
        assert_eq!(m.local_date(), (2026, 12, 1));
    }

    #[test]
    fn local_dates_follow_the_calendar() {
        for (ms, offset, date) in [
            (0, 0, (1970, 1, 1)),
            (951_782_400_000, 0, (2000, 2, 29)),
            (951_868_799_999, 0, (2000, 2, 29)),
            (951_868_800_000, 0, (2000, 3, 1)),
            (1_796_081_400_000, 540, (2026, 12, 1)),
            (1_796_081_400_000, 0, (2026, 11, 30)),
            (-1, 0, (1969, 12, 31)),
        ] {
            let m = Moment {
                now_ms: ms,
                utc_offset_minutes: offset,
                session_start_ms: ms,
            };
            assert_eq!(m.local_date(), date, "{ms} at {offset}");
        }
    }

    // 2026-11-25 (a Wednesday) 14:30 UTC.
    const WED_1430_UTC: i64 = 1_795_617_000_000;

    #[test]
    fn weekday_and_hour_follow_the_offset() {
        let utc = Moment::utc(WED_1430_UTC);
        assert_eq!((utc.weekday(), utc.local_hour()), (3, 14));
        let seoul = Moment {
            utc_offset_minutes: 540,
            ..utc
        };
        assert_eq!((seoul.weekday(), seoul.local_hour()), (3, 23));
        let later = Moment {
            now_ms: WED_1430_UTC + 3_600_000,
            ..seoul
        };
        assert_eq!((later.weekday(), later.local_hour()), (4, 0));
        let la = Moment {
            utc_offset_minutes: -480,
            ..utc
        };
        assert_eq!((la.weekday(), la.local_hour()), (3, 6));
    }

    #[test]
    fn days_and_weeks_roll_over_at_local_midnight_and_on_monday() {
        let seoul = Moment {
            utc_offset_minutes: 540,
            ..Moment::utc(WED_1430_UTC)
        };
        let before = WED_1430_UTC + 29 * 60_000; // 23:59 Seoul
        let after = WED_1430_UTC + 31 * 60_000; // 00:01 Seoul, Thursday
        assert_eq!(seoul.day_of(after) - seoul.day_of(before), 1);
        assert_eq!(seoul.week_of(after), seoul.week_of(before));
        let sunday_night = WED_1430_UTC + 4 * 86_400_000 + 29 * 60_000;
        let monday_morning = sunday_night + 2 * 60_000;
        assert_eq!(
            seoul.week_of(monday_morning) - seoul.week_of(sunday_night),
            1
        );
    }
}
