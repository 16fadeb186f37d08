//! Precision and recall of the matching at [`DEFAULT_THRESHOLD`] on the generated test
//! list `server/tests/data/watchlist_eval.json` (see `make_watchlist_eval.py` beside it):
//! 240 listed names from Faker's name lists in 15 locales (Latin with accents, Cyrillic,
//! Greek), 916 true variants of them and 240 names not listed. Printed, and held above
//! the floors README and BENCHMARKS.md state.

use super::matcher::{Candidate, DEFAULT_THRESHOLD, Index, Listed};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Floors, set a little under the figures measured when the threshold was chosen.
const RECALL_FLOOR: f64 = 0.98;
const PRECISION_FLOOR: f64 = 0.99;

#[derive(Deserialize)]
struct Fixture {
    listed: Vec<FixtureListed>,
    variants: Vec<Variant>,
    controls: Vec<Control>,
}

#[derive(Deserialize)]
struct FixtureListed {
    name: String,
    aliases: Vec<String>,
}

#[derive(Deserialize)]
struct Variant {
    name: String,
    of: usize,
    kind: String,
}

#[derive(Deserialize)]
struct Control {
    name: String,
}

fn candidate(name: &str) -> Candidate {
    Candidate {
        name: name.to_owned(),
        date_of_birth: None,
        organisation: None,
    }
}

/// (true positives, false positives, false negatives, misses by variant kind).
fn measure(
    fixture: &Fixture,
    index: &Index,
    threshold: f64,
) -> (u32, u32, u32, BTreeMap<String, u32>) {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut missed = BTreeMap::new();
    for v in &fixture.variants {
        let hits = index.screen(&candidate(&v.name), threshold);
        if hits.iter().any(|h| h.entry == v.of) {
            tp += 1;
        } else {
            fn_ += 1;
            *missed.entry(v.kind.clone()).or_insert(0) += 1;
            if threshold == DEFAULT_THRESHOLD {
                let listed = fixture.listed.get(v.of).map_or("", |l| l.name.as_str());
                println!("missed ({}): {:?} for {listed:?}", v.kind, v.name);
            }
        }
        // A hit on another entry is a false alarm (the variant's own entry aside).
        fp += u32::from(hits.iter().any(|h| h.entry != v.of));
    }
    for c in &fixture.controls {
        fp += u32::from(!index.screen(&candidate(&c.name), threshold).is_empty());
    }
    (tp, fp, fn_, missed)
}

#[test]
fn precision_and_recall_on_the_generated_list() {
    let text = include_str!("../../tests/data/watchlist_eval.json");
    let fixture: Fixture = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => panic!("fixture: {e}"),
    };
    assert!(fixture.listed.len() >= 200 && fixture.controls.len() >= 200);
    let index = Index::build(
        fixture
            .listed
            .iter()
            .map(|l| Listed {
                id: Uuid::now_v7(),
                name: l.name.clone(),
                aliases: l.aliases.clone(),
                date_of_birth: None,
                organisation: None,
                reason: String::new(),
                block: true,
            })
            .collect(),
    );
    for threshold in [0.85, 0.90, DEFAULT_THRESHOLD, 0.93, 0.95] {
        let (tp, fp, fn_, missed) = measure(&fixture, &index, threshold);
        let precision = f64::from(tp) / f64::from(tp + fp).max(1.0);
        let recall = f64::from(tp) / f64::from(tp + fn_).max(1.0);
        println!(
            "threshold {threshold:.2}: precision {precision:.3} recall {recall:.3} \
             (tp {tp}, fp {fp}, fn {fn_}; missed by kind {missed:?})"
        );
        if threshold == DEFAULT_THRESHOLD {
            assert!(recall >= RECALL_FLOOR, "recall {recall:.3}");
            assert!(precision >= PRECISION_FLOOR, "precision {precision:.3}");
        }
    }
}
