//! Journal throughput: durable appends per second (each one fsync'd, as the agent does
//! before acting on an event), reading upload batches back with `pending`, and the
//! recovery scan at open. Run with `cargo bench -p door-agent --bench journal`.
//!
//! The journal lives in a temporary directory under `$TMPDIR` (default `/tmp`), so the
//! figures are those of that file system and disk.

use std::error::Error;
use std::time::Instant;

use door_agent::journal::{Journal, JournalOptions};

const APPENDS: u64 = 2_000;
const PAYLOAD: usize = 200;
const BATCH: usize = 1_000;
const READ_PASSES: u32 = 20;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal");
    let payload = vec![0x5a; PAYLOAD];

    let (mut journal, _) = Journal::open(&path, JournalOptions::default())?;
    let mut latencies = Vec::with_capacity(APPENDS as usize);
    let started = Instant::now();
    for _ in 0..APPENDS {
        let t = Instant::now();
        journal.append(&payload)?;
        latencies.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "append+fsync: {APPENDS} appends of {PAYLOAD} B in {:.3} s = {:.0} appends/s (p50 {:?}, p99 {:?})",
        elapsed.as_secs_f64(),
        APPENDS as f64 / elapsed.as_secs_f64(),
        pct(50),
        pct(99),
    );

    let started = Instant::now();
    let mut records = 0u64;
    let mut bytes = 0u64;
    for _ in 0..READ_PASSES {
        let mut next = 1;
        loop {
            let batch = journal.pending(next, BATCH)?;
            let Some(last) = batch.last() else { break };
            next = last.seq + 1;
            records += batch.len() as u64;
            bytes += batch.iter().map(|r| r.payload.len() as u64).sum::<u64>();
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "pending: {records} records in batches of {BATCH} in {elapsed:.3} s = {:.0} records/s ({:.1} MB/s of payload)",
        records as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
    );

    drop(journal);
    let started = Instant::now();
    let (_journal, report) = Journal::open(&path, JournalOptions::default())?;
    println!(
        "open (recovery scan): {} records in {:.1} ms",
        report.records,
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
