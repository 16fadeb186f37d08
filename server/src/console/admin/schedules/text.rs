//! Weekly windows and holidays as people write them in a form, one window a line:
//! `mon-fri 08:00-18:00`, `sat,sun 10:00-14:00`, `fri 22:00-06:00` (past midnight);
//! holidays as `YYYY-MM-DD` separated by spaces, commas or lines. Read back into the
//! API's `WindowSpec`s and dates, and written out the same way, so an edit form shows
//! what it will save.

use crate::store::{ClockTime, Day, WindowSpec};
use chrono::NaiveDate;

const DAYS: [(Day, &str, &str); 7] = [
    (Day::Mon, "mon", "Mon"),
    (Day::Tue, "tue", "Tue"),
    (Day::Wed, "wed", "Wed"),
    (Day::Thu, "thu", "Thu"),
    (Day::Fri, "fri", "Fri"),
    (Day::Sat, "sat", "Sat"),
    (Day::Sun, "sun", "Sun"),
];

fn index(day: Day) -> usize {
    DAYS.iter().position(|(d, _, _)| *d == day).unwrap_or(0)
}

fn day(text: &str) -> Option<usize> {
    let text = text.trim().to_ascii_lowercase();
    let short = text.get(..3)?;
    DAYS.iter().position(|(_, name, _)| *name == short)
}

/// Days written as runs: `Mon–Fri, Sun` (`short` names for the form: `mon-fri,sun`).
fn days_words(days: &[Day], form: bool) -> String {
    let mut marked = [false; 7];
    for d in days {
        if let Some(slot) = marked.get_mut(index(*d)) {
            *slot = true;
        }
    }
    let name = |i: usize| {
        DAYS.get(i)
            .map_or("", |(_, short, long)| if form { short } else { long })
    };
    let sep = if form { "," } else { ", " };
    let mut runs = Vec::new();
    let mut i = 0;
    while i < 7 {
        if marked.get(i) == Some(&true) {
            let start = i;
            while marked.get(i + 1) == Some(&true) {
                i += 1;
            }
            runs.push(match i - start {
                0 => name(start).to_owned(),
                1 => format!("{}{sep}{}", name(start), name(i)),
                _ => format!("{}{}{}", name(start), if form { "-" } else { "–" }, name(i)),
            });
        }
        i += 1;
    }
    runs.join(sep)
}

fn clock(time: &ClockTime) -> String {
    time.0.format("%H:%M").to_string()
}

/// A window in words: `Mon–Fri 08:00–18:00`, `Fri 22:00–06:00 (into the next day)`.
pub fn window_words(window: &WindowSpec) -> String {
    let next_day = if window.end <= window.start {
        " (into the next day)"
    } else {
        ""
    };
    format!(
        "{} {}–{}{next_day}",
        days_words(&window.days, false),
        clock(&window.start),
        clock(&window.end)
    )
}

/// Windows as the form's text, one a line.
pub fn windows_text(windows: &[WindowSpec]) -> String {
    windows
        .iter()
        .map(|w| {
            format!(
                "{} {}-{}",
                days_words(&w.days, true),
                clock(&w.start),
                clock(&w.end)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Holidays as the form's text, one a line.
pub fn holidays_text(holidays: &[NaiveDate]) -> String {
    holidays
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line: days then `HH:MM-HH:MM`.
fn window(line: &str) -> Result<WindowSpec, String> {
    let (days_part, times) = line
        .trim()
        .rsplit_once(char::is_whitespace)
        .ok_or("write the days, a space and the times, e.g. mon-fri 08:00-18:00")?;
    let (start, end) = times
        .split_once('-')
        .ok_or("write the times as HH:MM-HH:MM, e.g. 08:00-18:00")?;
    let start = ClockTime::parse(start.trim()).ok_or("a start time is HH:MM, 00:00 to 23:59")?;
    let end = ClockTime::parse(end.trim()).ok_or("an end time is HH:MM, 00:00 to 23:59")?;
    let mut marked = [false; 7];
    for part in days_part.split(',').filter(|p| !p.trim().is_empty()) {
        let unknown = || {
            format!(
                "{:?} is not a day (mon, tue, … sun, or a run such as mon-fri)",
                part.trim()
            )
        };
        match part.split_once('-') {
            Some((from, to)) => {
                let from = day(from).ok_or_else(unknown)?;
                let to = day(to).ok_or_else(unknown)?;
                let mut i = from;
                loop {
                    if let Some(slot) = marked.get_mut(i) {
                        *slot = true;
                    }
                    if i == to {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => {
                let i = day(part).ok_or_else(unknown)?;
                if let Some(slot) = marked.get_mut(i) {
                    *slot = true;
                }
            }
        }
    }
    let days: Vec<Day> = DAYS
        .iter()
        .zip(marked)
        .filter(|(_, on)| *on)
        .map(|((d, _, _), _)| *d)
        .collect();
    if days.is_empty() {
        return Err("name at least one day".to_owned());
    }
    Ok(WindowSpec { days, start, end })
}

/// The form's windows, each line one; a problem names its line.
pub fn windows(text: &str) -> Result<Vec<WindowSpec>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| window(line).map_err(|problem| format!("line {}: {problem}", n + 1)))
        .collect()
}

/// The form's holidays.
pub fn holidays(text: &str) -> Result<Vec<NaiveDate>, String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map_err(|_| format!("{t:?} is not a date written YYYY-MM-DD"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_round_trip_and_read_as_words() {
        let read =
            windows("mon-fri 08:00-18:00\n\nsat,sun 10:00-14:00\nfri-mon 22:00-06:00").unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(window_words(&read[0]), "Mon–Fri 08:00–18:00");
        assert_eq!(window_words(&read[1]), "Sat, Sun 10:00–14:00");
        assert_eq!(
            window_words(&read[2]),
            "Mon, Fri–Sun 22:00–06:00 (into the next day)"
        );
        assert_eq!(windows(&windows_text(&read)).unwrap(), read);
    }

    #[test]
    fn problems_name_the_line() {
        assert_eq!(
            windows("mon 08:00-18:00\nfunday 08:00-09:00").unwrap_err(),
            "line 2: \"funday\" is not a day (mon, tue, … sun, or a run such as mon-fri)"
        );
        assert!(
            windows("mon 8-18")
                .unwrap_err()
                .starts_with("line 1: a start time")
        );
        assert!(holidays("2026-12-25, 2026-13-01").is_err());
        assert_eq!(holidays("2026-12-25\n2026-12-26").unwrap().len(), 2);
    }
}
