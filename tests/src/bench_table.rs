//! The latency benches' table rows: samples as p50 and p99 in milliseconds.

use std::time::Duration;

/// The sample at rank `p` (0 to 1) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let last = sorted.len().saturating_sub(1);
    let rank = (p * last as f64).round() as usize;
    sorted[rank.min(last)]
}

/// Prints `| name | samples | p50 | p99 |`.
pub fn row(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {:.1} ms | {:.1} ms |",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.99))
    );
}
