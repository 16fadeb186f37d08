//! Uploads journal records to the server, oldest first, in batches, at least once: a
//! record is acknowledged in the journal only after the server said it holds it
//! (`acked_through`); the server stores each (agent, seq) once, so a resend after a lost
//! answer is harmless. While the server is unreachable or refuses, the uploader backs
//! off exponentially, with jitter (see [`super::backoff`]), and nothing is dropped.
//!
//! Each answer carries the clock offset the server measured; when it crosses ±10 s a
//! `clock_offset` event is journalled (once per crossing: again only after the offset
//! has come back within bounds, or after a restart).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind};
use gatehouse_core::protocol::{HexHash, Timestamp, Upload, UploadAnswer, UploadedRecord};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::journal_cell::JournalCell;
use super::policy_sync::without_url;

/// Beyond this clock offset the agent's clock is wrong (IEC 60839-11-1: ±10 s).
const MAX_CLOCK_OFFSET_MS: u64 = 10_000;

/// The most journal payload bytes one upload carries (base64 makes it ~683 KiB, well
/// under the server's default 1 MiB body limit with 1,000 records' JSON around it).
/// Presentations carry their decision trace, so 1,000 of them may not fit otherwise.
const MAX_UPLOAD_PAYLOAD_BYTES: usize = 512 * 1024;

/// The longest prefix of `records` within [`MAX_UPLOAD_PAYLOAD_BYTES`], and at least the
/// first record (one record is at most 64 KiB).
fn within_budget(mut records: Vec<crate::journal::Record>) -> Vec<crate::journal::Record> {
    let mut total = 0usize;
    let fits = records
        .iter()
        .take_while(|r| {
            total = total.saturating_add(r.payload.len());
            total <= MAX_UPLOAD_PAYLOAD_BYTES
        })
        .count();
    records.truncate(fits.max(1));
    records
}

/// Whether the clock offset is out of bounds, to raise `clock_offset` once per crossing.
#[derive(Debug, Default)]
struct ClockWatch {
    off: bool,
}

impl ClockWatch {
    /// Takes the offset the server measured (server minus agent); returns the event to
    /// journal when the offset has just crossed ±10 s.
    fn observe(&mut self, offset_ms: i64) -> Option<EventKind> {
        let off = offset_ms.unsigned_abs() > MAX_CLOCK_OFFSET_MS;
        let crossed = off && !self.off;
        if self.off && !off {
            tracing::info!(offset_ms, "clock offset to the server back within ±10 s");
        }
        self.off = off;
        crossed.then_some(EventKind::ClockOffset { offset_ms })
    }
}

/// Uploads until `stop` is cancelled; woken by every journal append. Stops while it
/// waits (for the server, an append or the next attempt), never between a journal write
/// and the next check (an acknowledgement or a `clock_offset` event is written whole).
pub async fn upload_loop(
    journal: Arc<JournalCell>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    batch: usize,
    stop: CancellationToken,
) {
    let url = format!("{}/api/v1/agent/events", base_url.trim_end_matches('/'));
    let mut backoff = Backoff::new();
    let mut clock = ClockWatch::default();
    while !stop.is_cancelled() {
        let cell = Arc::clone(&journal);
        let pending = tokio::task::spawn_blocking(move || cell.pending(batch)).await;
        let records = match pending {
            Ok(Ok(records)) => records,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the journal for upload");
                if !backoff.wait(&stop).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "journal reader task failed");
                if !backoff.wait(&stop).await {
                    return;
                }
                continue;
            }
        };
        let records = within_budget(records);
        let Some(last_sent) = records.last().map(|r| r.seq) else {
            // Nothing to send: wait for an append (or look again in a while).
            let appended =
                tokio::time::timeout(Duration::from_secs(5), journal.appended.notified());
            if stop.run_until_cancelled(appended).await.is_none() {
                return;
            }
            continue;
        };
        // A clock outside 1970..=9999 is sent as it is: the server refuses it by name.
        let body = Upload {
            agent_time: Timestamp(Utc::now()),
            records: records
                .iter()
                .map(|r| UploadedRecord {
                    seq: r.seq,
                    payload: STANDARD.encode(&r.payload),
                    hash: HexHash::new(&r.hash),
                })
                .collect(),
        };
        // Stopping mid-request is harmless: the server stores each record once, and
        // nothing is acknowledged in the journal before its answer.
        let request = client
            .post(&url)
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send();
        let Some(answer) = stop.run_until_cancelled(request).await else {
            return;
        };
        let answer = match answer {
            Ok(r) if r.status().is_success() => {
                let Some(answer) = stop.run_until_cancelled(r.json::<UploadAnswer>()).await else {
                    return;
                };
                answer
            }
            Ok(r) => {
                let status = r.status();
                let Some(text) = stop.run_until_cancelled(r.text()).await else {
                    return;
                };
                let text = text.unwrap_or_default();
                tracing::error!(%status, body = %text.chars().take(300).collect::<String>(),
                    "the server refused an upload; retrying later");
                if !backoff.wait(&stop).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %without_url(&e), backlog = journal.backlog(),
                    "server unreachable for upload; events stay in the journal");
                if !backoff.wait(&stop).await {
                    return;
                }
                continue;
            }
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %without_url(&e), "unreadable upload answer");
                if !backoff.wait(&stop).await {
                    return;
                }
                continue;
            }
        };
        if let Some(kind) = clock.observe(answer.clock_offset_ms) {
            tracing::error!(
                offset_ms = answer.clock_offset_ms,
                "clock_offset: the clock differs from the server's by more than ±10 s"
            );
            let event = DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind,
            };
            let cell = Arc::clone(&journal);
            match tokio::task::spawn_blocking(move || cell.append(&event)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "could not journal clock_offset"),
                Err(e) => tracing::error!(error = %e, "journal task failed"),
            }
        }
        let Some(acked) = answer.outcome.acked_through.map(|a| a.min(last_sent)) else {
            tracing::error!(
                "the server acknowledged nothing (gap or broken chain reported there); retrying later"
            );
            if !backoff.wait(&stop).await {
                return;
            }
            continue;
        };
        let cell = Arc::clone(&journal);
        match tokio::task::spawn_blocking(move || cell.ack(acked)).await {
            Ok(Ok(())) => {
                tracing::debug!(
                    acked,
                    stored = answer.outcome.stored,
                    duplicates = answer.outcome.duplicates,
                    "uploaded"
                );
                backoff.reset();
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot record the acknowledgement");
                if !backoff.wait(&stop).await {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "journal ack task failed");
                if !backoff.wait(&stop).await {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::extract::State;
    use axum::routing::post;
    use axum::{Json, Router};
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_batch_stays_within_the_payload_budget() {
        let record = |seq: u64, len: usize| crate::journal::Record {
            seq,
            prev_hash: [0; 32],
            payload: vec![0; len],
            hash: [0; 32],
        };
        let seqs = |records: Vec<crate::journal::Record>| -> Vec<u64> {
            within_budget(records).iter().map(|r| r.seq).collect()
        };
        let kib = 1024;
        // (case, payload sizes, the records sent)
        let rows: [(&str, Vec<usize>, Vec<u64>); 5] = [
            ("nothing", vec![], vec![]),
            ("small ones all go", vec![500; 1000], (1..=1000).collect()),
            (
                "exactly the budget",
                vec![256 * kib, 256 * kib, 1],
                vec![1, 2],
            ),
            ("a big one alone", vec![600 * kib, 1], vec![1]),
            (
                "stops before the one past it",
                vec![300 * kib, 300 * kib],
                vec![1],
            ),
        ];
        for (case, sizes, expected) in rows {
            let records = (1u64..).zip(sizes).map(|(s, l)| record(s, l)).collect();
            assert_eq!(seqs(records), expected, "{case}");
        }
    }

    #[test]
    fn clock_offset_is_raised_once_per_crossing() {
        // (offset the server measured, whether clock_offset is journalled)
        let rows = [
            (0, false),
            (10_000, false),
            (10_001, true),
            (60_000, false),
            (-60_000, false),
            (5, false),
            (-10_001, true),
            (-10_000, false),
            (i64::MIN, true),
            (i64::MAX, false),
        ];
        let mut watch = ClockWatch::default();
        for (offset_ms, raised) in rows {
            let expected = raised.then_some(EventKind::ClockOffset { offset_ms });
            assert_eq!(watch.observe(offset_ms), expected, "{offset_ms}");
        }
    }

    /// What the fake server saw, and the offsets it answers with, in order.
    #[derive(Default)]
    struct Fake {
        received: Vec<EventKind>,
        offsets: Vec<i64>,
    }

    async fn fake_upload(
        State(fake): State<Arc<Mutex<Fake>>>,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        let mut fake = fake.lock().unwrap();
        let mut last = None;
        for record in body["records"].as_array().unwrap() {
            let payload = STANDARD
                .decode(record["payload"].as_str().unwrap())
                .unwrap();
            fake.received
                .push(DoorEvent::decode(&payload).unwrap().kind);
            last = record["seq"].as_u64();
        }
        let offset = if fake.offsets.is_empty() {
            0
        } else {
            fake.offsets.remove(0)
        };
        Json(json!({
            "acked_through": last, "stored": 1, "duplicates": 0, "clock_offset_ms": offset,
        }))
    }

    #[tokio::test]
    async fn a_clock_offset_beyond_ten_seconds_is_journalled_and_uploaded_once_per_crossing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(JournalCell::open(dir.path().join("journal")).unwrap());
        for _ in 0..4 {
            journal
                .append(&DoorEvent {
                    occurred_at: Utc::now(),
                    door_id: None,
                    kind: EventKind::DoorOpened,
                })
                .unwrap();
        }
        // One record per upload: records 1 to 4, then the clock_offset events journalled
        // after the answers to 1 (+15 s, crossing) and 4 (-20 s, crossing again after 3
        // came back within bounds).
        let fake = Arc::new(Mutex::new(Fake {
            received: vec![],
            offsets: vec![15_000, 15_000, 0, -20_000],
        }));
        let app = Router::new()
            .route("/api/v1/agent/events", post(fake_upload))
            .with_state(Arc::clone(&fake));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let stop = CancellationToken::new();
        let uploader = tokio::spawn(upload_loop(
            Arc::clone(&journal),
            reqwest::Client::new(),
            base,
            SecretString::from("token".to_owned()),
            1,
            stop.clone(),
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while fake.lock().unwrap().received.len() < 6 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Anything more would have been journalled by now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Asked to stop, the uploader ends at its next wait.
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), uploader)
            .await
            .unwrap()
            .unwrap();
        server.abort();
        let received = std::mem::take(&mut fake.lock().unwrap().received);
        let mut expected = vec![EventKind::DoorOpened; 4];
        expected.push(EventKind::ClockOffset { offset_ms: 15_000 });
        expected.push(EventKind::ClockOffset { offset_ms: -20_000 });
        assert_eq!(received, expected);
        assert_eq!(journal.backlog(), 0, "everything acknowledged");
    }
}
