//! Text that people read: names, organisations, notes, reader names. One check for all
//! of them, used by the API, the import and the door agent's configuration, so that no
//! way in stores what would mislead the person reading it: control characters (a NUL,
//! a line break that forges a second log line), bidirectional overrides (U+202E makes
//! `gpj.exe` read as `exe.jpg`), or a name of nothing but invisible characters.

/// Whether line breaks and tabs are allowed (notes) or not (names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: no control character at all.
    Single,
    /// Notes: `\n` and `\t` allowed, no other control character.
    Multi,
}

/// Bidirectional formatting characters: embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Line and paragraph separators (U+2028, U+2029) and deprecated format controls
/// (U+206A–U+206F, interlinear annotations U+FFF9–U+FFFB): not category Cc, so
/// `char::is_control` misses them, yet they break lines or hide text in viewers.
fn is_other_control(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{206A}'..='\u{206F}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Characters that show nothing: white space and the zero-width and filler characters.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{3164}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
        || is_bidi_control(c)
}

/// Why `value` cannot be stored as text people read, if it cannot: 1 to `max`
/// characters after trimming, no control or bidirectional-override character, and at
/// least one visible character.
pub fn text_problem(value: &str, max: usize, lines: Lines) -> Option<String> {
    let length = value.trim().chars().count();
    if length == 0 || length > max {
        return Some(format!("must be 1 to {max} characters"));
    }
    let allowed_control = |c: char| lines == Lines::Multi && (c == '\n' || c == '\t');
    let control = |c: char| (c.is_control() && !allowed_control(c)) || is_other_control(c);
    if value.chars().any(control) {
        return Some(match lines {
            Lines::Single => "must not contain control characters (line breaks, NUL, ...)".into(),
            Lines::Multi => {
                "must not contain control characters other than newlines and tabs".into()
            }
        });
    }
    if value.chars().any(is_bidi_control) {
        return Some("must not contain bidirectional control characters".into());
    }
    if value.chars().all(is_invisible) {
        return Some("must contain a visible character".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_read_is_what_is_there() {
        for (value, lines, ok) in [
            ("Ada Lovelace", Lines::Single, true),
            ("Zoë Ñúñez-Øster", Lines::Single, true),
            ("李小龍", Lines::Single, true),
            ("  padded  ", Lines::Single, true),
            ("Ada\u{0}", Lines::Single, false),
            ("Ada\r\nMallory", Lines::Single, false),
            ("Ada\nLovelace", Lines::Single, false),
            ("Ada\tLovelace", Lines::Single, false),
            ("Ada\u{2028}Mallory", Lines::Single, false),
            ("line\u{2029}break", Lines::Multi, false),
            ("hid\u{FFF9}den\u{FFFB}", Lines::Single, false),
            ("line one\nline two\tindented", Lines::Multi, true),
            ("carriage\rreturn", Lines::Multi, false),
            ("bell\u{7}", Lines::Multi, false),
            ("\u{202E}gpj.exe", Lines::Single, false),
            ("isolate\u{2066}x\u{2069}", Lines::Multi, false),
            ("\u{200B}", Lines::Single, false),
            ("\u{200B}\u{200C}\u{FEFF}", Lines::Single, false),
            ("\u{200B}A", Lines::Single, true),
            ("", Lines::Single, false),
            ("   ", Lines::Multi, false),
            ("\u{85}", Lines::Single, false),
        ] {
            assert_eq!(text_problem(value, 128, lines).is_none(), ok, "{value:?}");
        }
        assert!(text_problem(&"x".repeat(129), 128, Lines::Single).is_some());
        assert!(text_problem(&"x".repeat(128), 128, Lines::Single).is_none());
    }
}
