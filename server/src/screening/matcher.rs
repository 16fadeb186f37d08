//! The matching rule, pure: an index of a watchlist version and the score of one
//! candidate against it.
//!
//! Two passes. The exact pass looks the candidate's normalised key (sorted words, see
//! [`super::normalise`]) up in a hash map: case, accents, script and word order never
//! hide a listed name, and a hit scores 1. The phonetic pass blocks by Double Metaphone
//! codes: only listed names sharing a code with two of the candidate's words (or with
//! one, when they also share a word spelled the same) are scored, word by word with
//! Jaro-Winkler (raised to [`PHONETIC_FLOOR`] for words that sound alike), so screening
//! does not scan the list. A listed and a candidate date of birth that differ rule the
//! entry out; the same organisation adds [`ORGANISATION_BONUS`].

use super::normalise::{codes, key, words};
use chrono::NaiveDate;
use rphonetic::DoubleMetaphone;
use std::collections::HashMap;
use uuid::Uuid;

/// The algorithm's name, recorded with each screening; change it with the rule.
pub const ALGORITHM: &str = "nfkd-translit-dm1-jw/1";
/// Score from which a listed entry matches (tuned on server/tests/data/watchlist_eval).
pub const DEFAULT_THRESHOLD: f64 = 0.92;
/// Similarity of two words with a Double Metaphone code in common, at least.
const PHONETIC_FLOOR: f64 = 0.92;
/// Added when both sides name the same organisation (normalised).
const ORGANISATION_BONUS: f64 = 0.03;
/// Matches kept per screening (the best first).
pub const MAX_MATCHES: usize = 10;

/// A listed entry as the matcher needs it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: Uuid,
    pub name: String,
    pub aliases: Vec<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub organisation: Option<String>,
    pub reason: String,
    /// Whether a match blocks (else it flags).
    pub block: bool,
}

/// Who is screened.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub organisation: Option<String>,
}

/// One listed entry the candidate matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Position of the entry in the list the index was built from.
    pub entry: usize,
    pub score: f64,
    /// The listed name or alias that scored best.
    pub matched_name: String,
}

struct Name {
    entry: u32,
    text: String,
    words: Vec<String>,
    codes: Vec<Vec<String>>,
}

/// A watchlist version, indexed for screening. Built once per list version.
pub struct Index {
    entries: Vec<Listed>,
    organisations: Vec<Option<String>>,
    names: Vec<Name>,
    exact: HashMap<String, Vec<u32>>,
    phonetic: HashMap<String, Vec<u32>>,
    encoder: DoubleMetaphone,
}

impl Index {
    pub fn build(entries: Vec<Listed>) -> Index {
        let encoder = DoubleMetaphone::default();
        let mut index = Index {
            organisations: entries
                .iter()
                .map(|e| e.organisation.as_deref().map(key).filter(|k| !k.is_empty()))
                .collect(),
            entries: Vec::new(),
            names: Vec::new(),
            exact: HashMap::new(),
            phonetic: HashMap::new(),
            encoder,
        };
        for (entry, listed) in entries.iter().enumerate() {
            let entry = u32::try_from(entry).unwrap_or(u32::MAX);
            for text in std::iter::once(&listed.name).chain(&listed.aliases) {
                let words = words(text);
                if words.is_empty() {
                    continue;
                }
                let codes: Vec<Vec<String>> =
                    words.iter().map(|w| codes(&index.encoder, w)).collect();
                let id = u32::try_from(index.names.len()).unwrap_or(u32::MAX);
                index.exact.entry(words.join(" ")).or_default().push(id);
                let mut own: Vec<&String> = codes.iter().flatten().collect();
                own.sort();
                own.dedup();
                for code in own {
                    index.phonetic.entry(code.clone()).or_default().push(id);
                }
                index.names.push(Name {
                    entry,
                    text: text.clone(),
                    words,
                    codes,
                });
            }
        }
        index.entries = entries;
        index
    }

    pub fn entries(&self) -> &[Listed] {
        &self.entries
    }

    /// The exact pass alone (the bench's baseline): listed names with the same key.
    pub fn exact(&self, name: &str) -> usize {
        self.exact.get(&key(name)).map_or(0, Vec::len)
    }

    /// The entries `candidate` matches at `threshold` or above, best first, at most
    /// [`MAX_MATCHES`].
    pub fn screen(&self, candidate: &Candidate, threshold: f64) -> Vec<Hit> {
        let words = words(&candidate.name);
        if words.is_empty() {
            return Vec::new();
        }
        let codes: Vec<Vec<String>> = words.iter().map(|w| codes(&self.encoder, w)).collect();
        let mut scores: HashMap<u32, (f64, u32)> = HashMap::new();
        let mut consider = |name: u32, score: f64| {
            let Some(n) = self.names.get(name as usize) else {
                return;
            };
            let best = scores.entry(n.entry).or_insert((0.0, name));
            if score > best.0 {
                *best = (score, name);
            }
        };
        if let Some(names) = self.exact.get(&words.join(" ")) {
            for &name in names {
                consider(name, 1.0);
            }
        }
        // Blocking: listed names sharing a code with as many of the candidate's words as
        // it could (two, or all of them when it or the listed name has fewer).
        let mut shared: HashMap<u32, usize> = HashMap::new();
        for word_codes in &codes {
            let mut seen: Vec<u32> = word_codes
                .iter()
                .filter_map(|c| self.phonetic.get(c))
                .flatten()
                .copied()
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for name in seen {
                *shared.entry(name).or_default() += 1;
            }
        }
        for (name, count) in shared {
            let Some(n) = self.names.get(name as usize) else {
                continue;
            };
            // One word alike is enough when another is the same word (`Rita Owen` spelled
            // `Rita Oven`): the same first name alone blocks nothing, a code is needed too.
            let required = 2.min(words.len()).min(n.words.len());
            if count < required && !n.words.iter().any(|w| w.len() > 1 && words.contains(w)) {
                continue;
            }
            consider(name, similarity(&words, &codes, &n.words, &n.codes));
        }
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .filter_map(|(entry, (score, name))| {
                let listed = self.entries.get(entry as usize)?;
                if let (Some(a), Some(b)) = (listed.date_of_birth, candidate.date_of_birth)
                    && a != b
                {
                    return None;
                }
                let listed_org = self.organisations.get(entry as usize).cloned().flatten();
                let same_org = match (listed_org, &candidate.organisation) {
                    (Some(a), Some(b)) => a == key(b),
                    _ => false,
                };
                let score = if same_org {
                    (score + ORGANISATION_BONUS).min(1.0)
                } else {
                    score
                };
                let matched_name = self.names.get(name as usize)?.text.clone();
                (score >= threshold).then_some(Hit {
                    entry: entry as usize,
                    score,
                    matched_name,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.entry.cmp(&b.entry)));
        hits.truncate(MAX_MATCHES);
        hits
    }
}

/// How alike two words are: Jaro-Winkler, at least [`PHONETIC_FLOOR`] when they share a
/// Double Metaphone code.
fn word_similarity(a: &str, a_codes: &[String], b: &str, b_codes: &[String]) -> f64 {
    let jw = strsim::jaro_winkler(a, b);
    if a_codes.iter().any(|c| b_codes.contains(c)) {
        jw.max(PHONETIC_FLOOR)
    } else {
        jw
    }
}

/// Each word of `a` paired with its most alike word of `b`, averaged by word length.
fn directed(a: &[String], a_codes: &[Vec<String>], b: &[String], b_codes: &[Vec<String>]) -> f64 {
    let mut total = 0.0;
    let mut weight = 0.0;
    for (word, codes) in a.iter().zip(a_codes) {
        let best = b
            .iter()
            .zip(b_codes)
            .map(|(other, other_codes)| word_similarity(word, codes, other, other_codes))
            .fold(0.0, f64::max);
        let w = word.len() as f64;
        total += best * w;
        weight += w;
    }
    if weight == 0.0 { 0.0 } else { total / weight }
}

/// A candidate's and a listed name's similarity, 0..1: the word alignment both ways
/// (a missing middle name costs less than a different surname), or the two joined keys
/// compared whole when that is higher (words run together or split apart).
fn similarity(a: &[String], a_codes: &[Vec<String>], b: &[String], b_codes: &[Vec<String>]) -> f64 {
    let words = (directed(a, a_codes, b, b_codes) + directed(b, b_codes, a, a_codes)) / 2.0;
    let whole = strsim::jaro_winkler(&a.concat(), &b.concat());
    words.max(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str, aliases: &[&str], block: bool) -> Listed {
        Listed {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            date_of_birth: None,
            organisation: None,
            reason: String::new(),
            block,
        }
    }

    fn who(name: &str) -> Candidate {
        Candidate {
            name: name.to_owned(),
            date_of_birth: None,
            organisation: None,
        }
    }

    fn index() -> Index {
        Index::build(vec![
            listed("José María García", &[], true),
            listed("Ivan Petrov", &["Vanya Petrov"], false),
            listed("Catherine Smith", &[], true),
            listed("Γιώργος Παπαδόπουλος", &[], true),
        ])
    }

    fn best(index: &Index, name: &str) -> Option<(usize, f64)> {
        index
            .screen(&who(name), DEFAULT_THRESHOLD)
            .first()
            .map(|h| (h.entry, h.score))
    }

    #[test]
    fn normalised_exact_matches_score_one() {
        let index = index();
        assert_eq!(best(&index, "GARCIA, Jose Maria"), Some((0, 1.0)));
        assert_eq!(best(&index, "Иван Петров"), Some((1, 1.0)));
        assert_eq!(best(&index, "Giorgos Papadopoulos"), Some((3, 1.0)));
    }

    #[test]
    fn aliases_and_phonetic_variants_match() {
        let index = index();
        assert_eq!(best(&index, "vanya petrov").map(|b| b.0), Some(1));
        assert_eq!(best(&index, "Katherine Smyth").map(|b| b.0), Some(2));
        assert_eq!(best(&index, "Ivan Petroff").map(|b| b.0), Some(1));
    }

    #[test]
    fn other_names_do_not_match() {
        let index = index();
        assert_eq!(best(&index, "Catherine Jones"), None);
        assert_eq!(best(&index, "Maria Lopez"), None);
        assert_eq!(best(&index, "..."), None);
        assert_eq!(best(&index, "Petrov"), None);
    }

    #[test]
    fn a_different_date_of_birth_rules_out_and_an_organisation_raises() {
        let day = |d| NaiveDate::from_ymd_opt(1970, 1, d);
        let mut entry = listed("Ivan Petrov", &[], true);
        entry.date_of_birth = day(1);
        entry.organisation = Some("ACME Ltd".to_owned());
        let index = Index::build(vec![entry]);
        let mut candidate = who("Ivan Petroff");
        let plain = index.screen(&candidate, 0.0)[0].score;
        candidate.organisation = Some("acme ltd.".to_owned());
        let with_org = index.screen(&candidate, 0.0)[0].score;
        assert!(with_org > plain, "{with_org} > {plain}");
        candidate.date_of_birth = day(1);
        assert_eq!(index.screen(&candidate, 0.0).len(), 1);
        candidate.date_of_birth = day(2);
        assert!(index.screen(&candidate, 0.0).is_empty());
    }

    #[test]
    fn the_best_alias_names_the_match() {
        let index = index();
        let hits = index.screen(&who("Vanya Petrov"), DEFAULT_THRESHOLD);
        assert_eq!(hits[0].matched_name, "Vanya Petrov");
    }
}
