//! Names as the matcher compares them: Unicode NFKD, accents stripped, non-Latin scripts
//! transliterated to ASCII, lower case, punctuation dropped, and the words sorted, so
//! `Dr. José-María  GARCÍA`, `garcia jose maria` and `Хосе Мария Гарсия` meet on the same
//! words. Pure functions, no I/O.

use rphonetic::DoubleMetaphone;
use unicode_normalization::UnicodeNormalization;

/// The words of `name`, normalised and sorted (duplicates kept: a repeated word is part
/// of the name).
pub fn words(name: &str) -> Vec<String> {
    // NFKD first: compatibility forms (ligatures, full-width letters) become plain
    // letters and accents separate from their letters; dropping the combining marks
    // strips accents before deunicode transliterates what is still not ASCII (Cyrillic,
    // Greek, Arabic, CJK...).
    let decomposed: String = name
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect();
    let ascii = deunicode::deunicode(&decomposed);
    let mut words: Vec<String> = ascii
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '\'')
        .map(|w| {
            w.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.sort();
    words
}

/// The exact-pass key: the sorted normalised words joined by one space.
pub fn key(name: &str) -> String {
    words(name).join(" ")
}

/// A word's Double Metaphone codes (primary, and the alternate when it differs); none for
/// a single letter (an initial would put half the list in one block).
pub fn codes(encoder: &DoubleMetaphone, word: &str) -> Vec<String> {
    if word.len() < 2 {
        return Vec::new();
    }
    let result = encoder.double_metaphone(word);
    let mut codes = vec![result.primary()];
    let alternate = result.alternate();
    if alternate != codes[0] {
        codes.push(alternate);
    }
    codes.retain(|c| !c.is_empty());
    codes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accents_punctuation_and_order_do_not_matter() {
        assert_eq!(key("Dr. José-María  GARCÍA"), "dr garcia jose maria");
        assert_eq!(key("garcia, jose maria dr"), "dr garcia jose maria");
        assert_eq!(key("Ørsted Søren"), key("soren orsted"));
    }

    #[test]
    fn other_scripts_are_transliterated() {
        assert_eq!(key("Иван Петров"), "ivan petrov");
        assert_eq!(key("Γιώργος Παπαδόπουλος"), key("Giorgos Papadopoulos"));
        assert_eq!(key("ｊｏｈｎ"), "john");
    }

    #[test]
    fn a_name_of_only_punctuation_has_no_words() {
        assert!(words(" -.,' ").is_empty());
        assert_eq!(key(""), "");
    }

    #[test]
    fn initials_get_no_phonetic_code() {
        let encoder = DoubleMetaphone::default();
        assert!(codes(&encoder, "j").is_empty());
        assert_eq!(codes(&encoder, "smith"), codes(&encoder, "smyth"));
    }
}
