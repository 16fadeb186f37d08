//! Verifying the chain, and each way of tampering with the database making it fail at
//! the right record.

use super::trail::{drop_guards, postgres, trail};
use crate::common::TestDb;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::records::Source;
use gatehouse_server::audit::verify::{VerifyReport, verify};
use gatehouse_server::audit::{GENESIS, hash32};
use gatehouse_server::store::{Actor, ChainEntry, EventFilter};
use serde_json::json;

conformance!(
    an_untouched_trail_verifies_with_its_checkpoints,
    a_changed_row_is_named,
    a_deleted_row_is_named,
    an_inserted_row_is_named,
    two_swapped_rows_are_named,
    two_swapped_chain_entries_are_named,
    a_chain_rewritten_without_the_key_fails_at_the_checkpoint,
    a_truncated_chain_is_found,
    concurrent_writers_make_one_chain,
    records_older_than_the_chain_are_chained_once,
);

async fn an_untouched_trail_verifies_with_its_checkpoints(db: &TestDb) {
    let trail = trail(db).await;
    let report = trail.verify().await;
    let (head, _) = trail.store.audit_head().await.unwrap();
    assert_eq!(
        report,
        VerifyReport {
            ok: true,
            records: head,
            checkpoints: 1,
            first_bad: None,
        }
    );
    // Operator actions, eight events and the clock alarm are all in the chain.
    let chain = trail.chain().await;
    let count = |source: Source| chain.iter().filter(|e| e.source == source.as_str()).count();
    assert_eq!(count(Source::Event), 8);
    assert_eq!(count(Source::Alarm), 1);
    assert!(count(Source::Operator) >= 5, "{chain:?}");
    // The chain itself and its checkpoints are append-only.
    db.assert_append_only_column("audit_chain", "seq").await;
    db.assert_append_only_column("audit_checkpoints", "seq")
        .await;
    db.assert_append_only("agent_alarms").await;
}

async fn a_changed_row_is_named(db: &TestDb) {
    let trail = trail(db).await;
    drop_guards(db, "access_events").await;
    db.raw_execute("UPDATE access_events SET outcome = 'granted' WHERE seq = 3")
        .await
        .unwrap();
    let entry = trail.entry_of(trail.events[2].id).await;
    trail.assert_bad_at("record_altered", &entry).await;
}

async fn a_deleted_row_is_named(db: &TestDb) {
    let trail = trail(db).await;
    drop_guards(db, "access_events").await;
    db.raw_execute("DELETE FROM access_events WHERE seq = 5")
        .await
        .unwrap();
    let entry = trail.entry_of(trail.events[4].id).await;
    trail.assert_bad_at("record_missing", &entry).await;
}

async fn an_inserted_row_is_named(db: &TestDb) {
    let trail = trail(db).await;
    let new_id = if postgres(db) {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    };
    db.raw_execute(&format!(
        "INSERT INTO access_events (id, agent_id, seq, hash, payload, occurred_at, received_at, \
         door_id, kind, reader, direction, card, outcome, reason) \
         SELECT {new_id}, agent_id, 9, hash, payload, occurred_at, received_at, door_id, kind, \
         reader, direction, 'FORGED', 'granted', 'granted' FROM access_events WHERE seq = 8"
    ))
    .await
    .unwrap();
    let forged = trail
        .store
        .list_events(&EventFilter::default(), None, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.card.as_deref() == Some("FORGED"))
        .unwrap();
    let report = trail.verify().await;
    assert!(!report.ok);
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (
            bad.problem.as_str(),
            bad.source.as_deref(),
            bad.record_id,
            bad.seq
        ),
        ("unchained_record", Some("event"), Some(forged.id), None)
    );
}

async fn two_swapped_rows_are_named(db: &TestDb) {
    let trail = trail(db).await;
    drop_guards(db, "access_events").await;
    // The agent's events 2 and 3 exchange places (1000 is a free number).
    for sql in [
        "UPDATE access_events SET seq = 1000 WHERE seq = 2",
        "UPDATE access_events SET seq = 2 WHERE seq = 3",
        "UPDATE access_events SET seq = 3 WHERE seq = 1000",
    ] {
        db.raw_execute(sql).await.unwrap();
    }
    let entry = trail.entry_of(trail.events[1].id).await;
    trail.assert_bad_at("record_altered", &entry).await;
}

async fn two_swapped_chain_entries_are_named(db: &TestDb) {
    let trail = trail(db).await;
    drop_guards(db, "audit_chain").await;
    let (a, b) = (
        trail.entry_of(trail.events[3].id).await,
        trail.entry_of(trail.events[4].id).await,
    );
    for (from, to) in [(a.seq, 1_000_000), (b.seq, a.seq), (1_000_000, b.seq)] {
        db.raw_execute(&format!(
            "UPDATE audit_chain SET seq = {to} WHERE seq = {from}"
        ))
        .await
        .unwrap();
    }
    // Position a.seq now holds b's record: it does not chain from the entry before.
    let moved = ChainEntry { seq: a.seq, ..b };
    trail.assert_bad_at("chain_altered", &moved).await;
}

async fn a_chain_rewritten_without_the_key_fails_at_the_checkpoint(db: &TestDb) {
    let trail = trail(db).await;
    drop_guards(db, "access_events").await;
    drop_guards(db, "audit_chain").await;
    db.raw_execute("UPDATE access_events SET outcome = 'granted' WHERE seq = 2")
        .await
        .unwrap();
    // Recompute the altered record's digest and every hash after it, and the head: all
    // an attacker without the server's private key can do.
    let target = trail.entry_of(trail.events[1].id).await;
    let mut previous = GENESIS;
    for entry in trail.chain().await {
        let mut digest = hash32(&entry.digest);
        if entry.seq == target.seq {
            let chained = trail
                .store
                .chained_events(entry.seq, entry.seq)
                .await
                .unwrap();
            digest = chained[0].row.as_ref().unwrap().digest();
        }
        let source = Source::parse(&entry.source).unwrap();
        let hash = gatehouse_server::audit::chain_hash(
            &previous,
            entry.seq,
            source,
            entry.record_id,
            &digest,
            entry.recorded_at,
        );
        if entry.seq >= target.seq {
            let blob = |b: &[u8]| {
                if postgres(db) {
                    format!("'\\x{}'::bytea", hex::encode(b))
                } else {
                    format!("X'{}'", hex::encode(b))
                }
            };
            db.raw_execute(&format!(
                "UPDATE audit_chain SET digest = {}, hash = {} WHERE seq = {}",
                blob(&digest),
                blob(&hash),
                entry.seq
            ))
            .await
            .unwrap();
            db.raw_execute(&format!("UPDATE audit_head SET hash = {}", blob(&hash)))
                .await
                .unwrap();
        }
        previous = hash;
    }
    let checkpoint = trail.store.last_checkpoint().await.unwrap().unwrap();
    let at = trail
        .chain()
        .await
        .into_iter()
        .find(|e| e.seq == checkpoint.seq)
        .unwrap();
    trail.assert_bad_at("checkpoint_mismatch", &at).await;
}

async fn a_truncated_chain_is_found(db: &TestDb) {
    let trail = trail(db).await;
    drop_guards(db, "audit_chain").await;
    drop_guards(db, "access_events").await;
    let (head, _) = trail.store.audit_head().await.unwrap();
    let last = trail.events[7].id;
    assert_eq!(
        trail.entry_of(last).await.seq,
        head,
        "the last event is last"
    );
    db.raw_execute(&format!("DELETE FROM audit_chain WHERE seq = {head}"))
        .await
        .unwrap();
    db.raw_execute("DELETE FROM access_events WHERE seq = 8")
        .await
        .unwrap();
    let report = trail.verify().await;
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.problem.as_str(), bad.seq, report.records),
        ("chain_truncated", Some(head), head - 1)
    );
}

async fn concurrent_writers_make_one_chain(db: &TestDb) {
    let trail = trail(db).await;
    let (before, _) = trail.store.audit_head().await.unwrap();
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let store = trail.store.clone();
            tokio::spawn(async move {
                store
                    .log_operator_action(&Actor::cli(), "access.check", "card", i, &json!({}))
                    .await
                    .unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let report = trail.verify().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, before + 20);
}

async fn records_older_than_the_chain_are_chained_once(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let new_id = if postgres(db) {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    };
    // A log entry written before the chain existed (no salt, no chain entry).
    let legacy = format!(
        "INSERT INTO operator_log (id, at, actor, action, target_type, after) \
         VALUES ({new_id}, '2026-01-01T00:00:00Z', 'cli', 'site.create', 'site', '{{\"name\": \"HQ\"}}')"
    );
    db.raw_execute(&legacy).await.unwrap();
    assert_eq!(store.chain_records_older_than_the_chain().await.unwrap(), 1);
    assert_eq!(store.chain_records_older_than_the_chain().await.unwrap(), 0);
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok && report.records == 1, "{report:?}");
    // Once the chain has begun, a row written around it is tampering.
    db.raw_execute(&legacy).await.unwrap();
    assert_eq!(store.chain_records_older_than_the_chain().await.unwrap(), 0);
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert_eq!(
        report.first_bad.map(|b| b.problem),
        Some("unchained_record".to_owned())
    );
}
