//! Uploads journal records to the server, oldest first, in batches, at least once: a
//! record is acknowledged in the journal only after the server said it holds it
//! (`acked_through`); the server stores each (agent, seq) once, so a resend after a lost
//! answer is harmless. While the server is unreachable or refuses, the uploader backs
//! off exponentially and nothing is dropped.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::journal_cell::JournalCell;
use super::policy_sync::{Backoff, without_url};

/// The server's answer to an upload.
#[derive(Debug, Deserialize)]
struct UploadAnswer {
    acked_through: Option<u64>,
    stored: u32,
    duplicates: u32,
    clock_offset_ms: i64,
}

/// Beyond this clock offset the agent's clock is wrong (IEC 60839-11-1: ±10 s).
const MAX_CLOCK_OFFSET_MS: i64 = 10_000;

/// Uploads until the task is dropped; woken by every journal append.
pub async fn upload_loop(
    journal: Arc<JournalCell>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    batch: usize,
) {
    let url = format!("{}/api/v1/agent/events", base_url.trim_end_matches('/'));
    let mut backoff = Backoff::new();
    loop {
        let cell = Arc::clone(&journal);
        let pending = tokio::task::spawn_blocking(move || cell.pending(batch)).await;
        let records = match pending {
            Ok(Ok(records)) => records,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot read the journal for upload");
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "journal reader task failed");
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
        };
        let Some(last_sent) = records.last().map(|r| r.seq) else {
            // Nothing to send: wait for an append (or look again in a while).
            let _ = tokio::time::timeout(Duration::from_secs(5), journal.appended.notified()).await;
            continue;
        };
        let body = json!({
            "agent_time": Utc::now().to_rfc3339(),
            "records": records.iter().map(|r| json!({
                "seq": r.seq,
                "payload": STANDARD.encode(&r.payload),
                "hash": r.hash.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            })).collect::<Vec<_>>(),
        });
        let answer = client
            .post(&url)
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let answer = match answer {
            Ok(r) if r.status().is_success() => r.json::<UploadAnswer>().await,
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                tracing::error!(%status, body = %text.chars().take(300).collect::<String>(),
                    "the server refused an upload; retrying later");
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %without_url(&e), backlog = journal.backlog(),
                    "server unreachable for upload; events stay in the journal");
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %without_url(&e), "unreadable upload answer");
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
        };
        if answer.clock_offset_ms.abs() > MAX_CLOCK_OFFSET_MS {
            tracing::error!(
                offset_ms = answer.clock_offset_ms,
                "clock offset to the server beyond ±10 s"
            );
        }
        let Some(acked) = answer.acked_through.map(|a| a.min(last_sent)) else {
            tracing::error!(
                "the server acknowledged nothing (gap or broken chain reported there); retrying later"
            );
            tokio::time::sleep(backoff.next_wait()).await;
            continue;
        };
        let cell = Arc::clone(&journal);
        match tokio::task::spawn_blocking(move || cell.ack(acked)).await {
            Ok(Ok(())) => {
                tracing::debug!(
                    acked,
                    stored = answer.stored,
                    duplicates = answer.duplicates,
                    "uploaded"
                );
                backoff.reset();
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot record the acknowledgement");
                tokio::time::sleep(backoff.next_wait()).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "journal ack task failed");
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    }
}
