//! Bringing a compiled policy forward by the change log instead of compiling it again:
//! read the records changed since its version (one snapshot of the database), keep only
//! those that differ from what the policy holds, and apply them in place.
//!
//! The result is the policy a full compile at the new version gives, up to the order of
//! records (tests/it agents::incremental compares them after random changes on both
//! databases). A change too large for the log (pruned, or more than
//! [`MAX_STEP_RECORDS`] records) or one the policy refuses falls back to a full compile.

use super::{CompiledPolicy, PolicyServiceError, Step, compile};
use crate::store::Store;
use gatehouse_core::model::PinKey;
use gatehouse_core::policy::{Changes, Policy, PolicyDelta, Record, Settings};
use std::sync::Arc;
use uuid::Uuid;

/// Most records a step reads from the change log; beyond, a full compile is cheaper.
const MAX_STEP_RECORDS: usize = 200_000;

/// The policy at the database's current version, from the one in `slot` by its
/// changes when the log allows, else compiled in full. The old policy leaves `slot` only
/// once the changes are read: a failed read (a busy database) keeps it for next time
/// rather than leaving a full compile to the next request.
pub(super) async fn forward(
    store: &Store,
    slot: &mut Option<Arc<CompiledPolicy>>,
    settings: Settings,
    pin_key: PinKey,
) -> Result<CompiledPolicy, PolicyServiceError> {
    let Some(from) = slot.as_ref().map(|old| old.version) else {
        return compile(store, settings, pin_key).await;
    };
    let changes = store
        .model_changes_since(from, &pin_key, MAX_STEP_RECORDS)
        .await?;
    let (Some(changes), Some(old)) = (changes, slot.take()) else {
        return compile(store, settings, pin_key).await;
    };
    let version = changes.version;
    let mut delta = changes.delta;
    delta.settings = settings.clone();
    let stepped = tokio::task::spawn_blocking(move || {
        // The caller no longer holds `old`; requests that still do keep their copy.
        let mut policy = Arc::unwrap_or_clone(old).policy;
        let delta = without_unchanged(delta, &policy);
        policy.apply(&delta).map(|()| (policy, delta))
    })
    .await?;
    match stepped {
        Ok((policy, delta)) => Ok(CompiledPolicy {
            version,
            policy: policy.with_version(u64::try_from(version).unwrap_or_default()),
            step: Some(Step {
                from,
                delta: Arc::new(delta),
            }),
        }),
        Err(error) => {
            tracing::error!(%error, from, version,
                "the policy's changes did not apply; compiling it in full");
            compile(store, settings, pin_key).await
        }
    }
}

/// `delta` without what `policy` already holds: upserts equal to the record there
/// (a visit's or person's other columns changed) and removals of ids not there.
pub(super) fn without_unchanged(delta: PolicyDelta, policy: &Policy) -> PolicyDelta {
    PolicyDelta {
        settings: delta.settings,
        sites: unchanged(delta.sites, |id| policy.site(id)),
        zones: unchanged(delta.zones, |id| policy.zone(id)),
        doors: unchanged(delta.doors, |id| policy.door(id)),
        people: unchanged(delta.people, |id| policy.person(id)),
        visits: unchanged(delta.visits, |id| policy.visit(id)),
        credentials: unchanged(delta.credentials, |id| policy.credential(id)),
        schedules: unchanged(delta.schedules, |id| policy.schedule(id)),
        grants: unchanged(delta.grants, |id| policy.grant(id)),
    }
}

fn unchanged<'p, T: Record + 'p>(
    changes: Changes<T>,
    held: impl Fn(Uuid) -> Option<&'p T>,
) -> Changes<T> {
    Changes {
        upserted: (changes.upserted.into_iter())
            .filter(|r| held(r.id()) != Some(r))
            .collect(),
        removed: (changes.removed.into_iter())
            .filter(|&id| held(id).is_some())
            .collect(),
    }
}
