//! Watchlist screening: one name against a 100,000-entry watchlist, p50/p99, next to two
//! baselines measured in the same run: the exact pass alone (one normalisation and a
//! hash lookup) and one Jaro-Winkler comparison with every listed name (what screening
//! would cost without phonetic blocking).
//!
//! `cargo bench -p gatehouse-server --bench screening` (entries from
//! `GATEHOUSE_BENCH_WATCHLIST`, default 100,000; queries from
//! `GATEHOUSE_BENCH_QUERIES`, default 2,000; the full scan runs on a tenth of them).
//!
//! Names: first names and surnames of the test list (`tests/data/watchlist_eval.json`,
//! Faker's name lists in 15 locales) combined at random, so the list holds the many
//! shared first names and surnames of a real one. Queries: a third listed names as
//! spelled, a third their true variants, a third names not listed.

use gatehouse_server::screening::matcher::{Candidate, DEFAULT_THRESHOLD, Index, Listed};
use gatehouse_server::screening::normalise;
use std::time::Instant;
use uuid::Uuid;

mod support;
use support::{Result, env_number, percentile};

/// A small deterministic generator (xorshift): the same list in every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn words(fixture: &serde_json::Value) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    let mut variants = Vec::new();
    for list in ["listed", "controls"] {
        for item in fixture[list].as_array().into_iter().flatten() {
            if let Some((first, last)) = item["name"].as_str().and_then(|n| n.split_once(' ')) {
                firsts.push(first.to_owned());
                lasts.push(last.to_owned());
            }
        }
    }
    for v in fixture["variants"].as_array().into_iter().flatten() {
        if let Some(name) = v["name"].as_str() {
            variants.push(name.to_owned());
        }
    }
    (firsts, lasts, variants)
}

fn candidate(name: &str) -> Candidate {
    Candidate {
        name: name.to_owned(),
        date_of_birth: None,
        organisation: None,
    }
}

/// Microseconds of each call of `f` over `queries`, sorted.
fn time(queries: &[String], mut f: impl FnMut(&str) -> usize) -> (Vec<f64>, usize) {
    let mut times = Vec::with_capacity(queries.len());
    let mut found = 0;
    for q in queries {
        let start = Instant::now();
        found += f(q);
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times, found)
}

fn main() -> Result<()> {
    let size = env_number("GATEHOUSE_BENCH_WATCHLIST", 100_000)?;
    let count = env_number("GATEHOUSE_BENCH_QUERIES", 2_000)?;
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../tests/data/watchlist_eval.json"))?;
    let (firsts, lasts, variants) = words(&fixture);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut names = Vec::with_capacity(size);
    let mut entries = Vec::with_capacity(size);
    for i in 0..size {
        let name = format!(
            "{} {}",
            firsts[rng.below(firsts.len())],
            lasts[rng.below(lasts.len())]
        );
        names.push(name.clone());
        entries.push(Listed {
            id: Uuid::now_v7(),
            name,
            aliases: if i % 10 == 0 {
                vec![format!(
                    "{} {}",
                    firsts[rng.below(firsts.len())],
                    lasts[rng.below(lasts.len())]
                )]
            } else {
                vec![]
            },
            date_of_birth: None,
            organisation: None,
            reason: String::new(),
            block: i % 2 == 0,
        });
    }
    let start = Instant::now();
    let index = Index::build(entries);
    let build = start.elapsed();

    let mut queries = Vec::with_capacity(count);
    for i in 0..count {
        queries.push(match i % 3 {
            0 => names[rng.below(names.len())].clone(),
            1 => variants[rng.below(variants.len())].clone(),
            _ => format!("Zq{} Unlisted{}", i, rng.below(1_000_000)),
        });
    }
    let (exact, _) = time(&queries, |q| index.exact(q));
    let (screen, matched) = time(&queries, |q| {
        index.screen(&candidate(q), DEFAULT_THRESHOLD).len().min(1)
    });
    // The full scan: normalised keys compared with every listed name's key.
    let keys: Vec<String> = names.iter().map(|n| normalise::key(n)).collect();
    let scan_queries = &queries[..queries.len().div_ceil(10)];
    let (scan, _) = time(scan_queries, |q| {
        let key = normalise::key(q);
        keys.iter()
            .filter(|k| strsim::jaro_winkler(&key, k) >= DEFAULT_THRESHOLD)
            .count()
            .min(1)
    });

    println!(
        "watchlist of {size} entries ({} names with aliases), index built in {:.0} ms; \
         {count} queries, {matched} matched",
        size + size / 10,
        build.as_secs_f64() * 1e3
    );
    println!("| what | queries | p50 µs | p99 µs |");
    println!("|---|---:|---:|---:|");
    for (what, times) in [
        (
            "baseline: exact pass alone (normalise + hash lookup)",
            &exact,
        ),
        (
            "screening (exact + phonetic blocking + Jaro-Winkler)",
            &screen,
        ),
        ("baseline: Jaro-Winkler against every entry", &scan),
    ] {
        println!(
            "| {what} | {} | {:.1} | {:.1} |",
            times.len(),
            percentile(times, 0.5),
            percentile(times, 0.99)
        );
    }
    Ok(())
}
