//! The stateless rules (1b–9b), each a small function from the policy records to pass or
//! fail with a human detail. Pass details are static strings so a granted decision
//! allocates nothing for them.

use super::state::{EngineState, plus_seconds};
use super::{Authentication, Reason};
use crate::model::{
    AntiPassback, Assurance, CardKind, Credential, CredentialState, Door, DoorMode, Grant, Person,
    PersonStatus, Site, Stamp, Vetting, VettingStatus, Visit, Zone,
};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use uuid::Uuid;

/// A trace detail.
pub(super) type Detail = Cow<'static, str>;
/// Pass with a detail, or fail with the reason and a detail.
pub(super) type RuleResult = Result<Detail, (Reason, Detail)>;

/// The holder of a credential, resolved.
#[derive(Debug, Clone, Copy)]
pub(super) enum HolderRef<'a> {
    Person(&'a Person),
    Visit(&'a Visit),
}

pub(super) fn pass(detail: &'static str) -> RuleResult {
    Ok(Cow::Borrowed(detail))
}

pub(super) fn fail(reason: Reason, detail: impl Into<Detail>) -> RuleResult {
    Err((reason, detail.into()))
}

/// Rule 1b. A known credential: the read must not have failed authentication, and a
/// `secure` credential must have authenticated (its UID alone is what a clone copies).
/// An authenticated read of a `uid` credential passes: the card proved more than the
/// credential claims, and rule 5b judges the credential by its kind.
pub(super) fn authenticity(c: &Credential, read: Authentication) -> RuleResult {
    match (read, c.kind) {
        (Authentication::Failed, _) => not_authentic("the card failed authentication"),
        (Authentication::NotAttempted, CardKind::Secure) => not_authentic(
            "a secure credential read by its UID alone: a clone of its UID, or a reader \
             that cannot authenticate",
        ),
        (Authentication::Authenticated, _) => pass("card authenticated"),
        (Authentication::NotAttempted, CardKind::Uid) => pass("UID card, read by its UID"),
    }
}

/// Rule 1b for a card the policy does not know: only a failed authentication fails it
/// (the card claimed to be one of ours and was not); otherwise rule 1 decides.
pub(super) fn unknown_card_authenticity(read: Authentication) -> Option<RuleResult> {
    (read == Authentication::Failed).then(|| {
        not_authentic("the card failed authentication (and its identifier is not in policy)")
    })
}

fn not_authentic(detail: &'static str) -> RuleResult {
    fail(Reason::CredentialNotAuthentic, detail)
}

/// Rule 5b. The credential's kind must meet the zone's minimum assurance, raised to
/// `secure` by the site's threat level; it applies to visitors' cards too.
pub(super) fn assurance(c: &Credential, zone: &Zone, site: &Site) -> RuleResult {
    let required = site.required_assurance(zone);
    if c.kind.assurance() >= required {
        return pass(match required {
            Assurance::Uid => "zone accepts UID cards",
            Assurance::Secure => "secure card, as the zone requires",
        });
    }
    fail(
        Reason::AssuranceInsufficient,
        if zone.min_assurance == Assurance::Secure {
            "this zone requires a secure card; the card is UID-only"
        } else {
            "the site's threat level requires secure cards; the card is UID-only"
        },
    )
}

/// Rule 2.
pub(super) fn credential_active(
    c: &Credential,
    state: &EngineState,
    at: DateTime<Utc>,
) -> RuleResult {
    let inactive = |d: &'static str| fail(Reason::CredentialInactive, d);
    if state.pin_suspended.contains(&c.id) {
        return inactive("suspended at the door after repeated wrong PINs");
    }
    match c.state {
        CredentialState::Active => {}
        CredentialState::Suspended => return inactive("credential suspended"),
        CredentialState::Lost => return inactive("credential reported lost"),
        CredentialState::Revoked => return inactive("credential revoked"),
    }
    match (c.valid_from.map(Stamp::get), c.valid_until.map(Stamp::get)) {
        (Some(from), _) if at < from => fail(
            Reason::CredentialInactive,
            format!("credential valid from {}", from.to_rfc3339()),
        ),
        (_, Some(until)) if at >= until => fail(
            Reason::CredentialInactive,
            format!("credential expired at {}", until.to_rfc3339()),
        ),
        _ => pass("credential active and valid"),
    }
}

/// Rule 3.
pub(super) fn holder_active(h: HolderRef<'_>, at: DateTime<Utc>) -> RuleResult {
    let inactive = |d: &'static str| fail(Reason::HolderInactive, d);
    match h {
        HolderRef::Person(p) => match p.status {
            PersonStatus::Active => pass("person active"),
            PersonStatus::Suspended => inactive("person suspended"),
            PersonStatus::Left => inactive("person has left"),
        },
        HolderRef::Visit(v) if !v.checked_in => inactive("visit not checked in"),
        HolderRef::Visit(v) if v.checked_out => inactive("visit checked out"),
        HolderRef::Visit(v) if v.active_at(at) => pass("visit under way"),
        HolderRef::Visit(_) => inactive("outside the visit's window"),
    }
}

/// Rules 4–6 for a visitor at a zone the visit does not list.
fn not_in_visit() -> RuleResult {
    fail(Reason::ZoneNotInVisit, "zone not part of the visit")
}

/// Rule 4. Visitors are never vetted, so a vetting zone refuses them outright.
pub(super) fn vetting(h: HolderRef<'_>, zone: &Zone, at: DateTime<Utc>) -> RuleResult {
    if !zone.vetting_required {
        return pass("zone needs no vetting");
    }
    let invalid = |d: String| fail(Reason::VettingInvalid, d);
    match h {
        HolderRef::Visit(v) if !v.allowed_zone_ids.contains(&zone.id) => not_in_visit(),
        HolderRef::Visit(_) => fail(Reason::VettingInvalid, "visitors are not vetted"),
        HolderRef::Person(p) => match &p.vetting {
            None => fail(Reason::VettingInvalid, "no vetting on record"),
            Some(v) if v.cleared_at(at) => pass("vetting cleared"),
            Some(Vetting {
                status: VettingStatus::Cleared,
                cleared_until: Some(until),
            }) => invalid(format!("vetting ended at {}", until.to_rfc3339())),
            Some(v) => invalid(format!("vetting {:?}", v.status).to_lowercase()),
        },
    }
}

/// Rule 5. A visit's permission for the zone stands in for clearance; otherwise a
/// visitor's clearance is 0. The threat raise applies to everyone, exempt or not: the
/// exemption is from lockdown, and it must not widen access.
pub(super) fn clearance(h: HolderRef<'_>, zone: &Zone, site: &Site) -> RuleResult {
    let required = zone.level.saturating_add(site.threat.clearance_raise);
    let have = match h {
        HolderRef::Person(p) => p.clearance,
        HolderRef::Visit(v) if v.allowed_zone_ids.contains(&zone.id) => {
            return pass("zone allowed by the visit");
        }
        HolderRef::Visit(_) => return not_in_visit(),
    };
    if have >= required {
        pass("clearance sufficient")
    } else {
        fail(
            Reason::InsufficientClearance,
            format!("clearance {have} below required {required}"),
        )
    }
}

/// The person's grants that are valid at `at` and cover `zone`.
fn covering<'a>(
    policy: &'a Policy,
    p: &'a Person,
    zone: &'a Zone,
    at: DateTime<Utc>,
) -> impl Iterator<Item = &'a Grant> + 'a {
    policy
        .grants_of(p)
        .filter(move |g| g.valid_at(at) && policy.covers(g.zone_id, zone.id))
}

/// Rule 6. A visit is allowed exactly its listed zones (no inheritance).
pub(super) fn grant(
    policy: &Policy,
    h: HolderRef<'_>,
    zone: &Zone,
    at: DateTime<Utc>,
) -> RuleResult {
    let covered = match h {
        HolderRef::Person(p) => covering(policy, p, zone, at).next().is_some(),
        HolderRef::Visit(v) if v.allowed_zone_ids.contains(&zone.id) => true,
        HolderRef::Visit(_) => return not_in_visit(),
    };
    if covered {
        pass("a grant covers the zone")
    } else {
        fail(Reason::NoGrant, "no valid grant covers the zone")
    }
}

/// Rule 7. Visits have no schedule; their window was checked by rule 3.
pub(super) fn schedule(
    policy: &Policy,
    h: HolderRef<'_>,
    zone: &Zone,
    site: &Site,
    at: DateTime<Utc>,
) -> RuleResult {
    let HolderRef::Person(p) = h else {
        return pass("visits are bounded by their window");
    };
    let admitted = covering(policy, p, zone, at).any(|g| {
        g.schedule_id.is_none_or(|s| {
            policy
                .schedule(s)
                .is_some_and(|s| s.admits(at, site.timezone))
        })
    });
    if admitted {
        pass("a covering grant's schedule admits now")
    } else {
        fail(
            Reason::OutsideSchedule,
            "no covering grant's schedule admits now",
        )
    }
}

/// Rule 8. Exempt people (responders) pass both a lockdown and a locked door.
pub(super) fn door_mode(door: &Door, site: &Site, h: HolderRef<'_>) -> RuleResult {
    let lockdown = site.threat.lockdown;
    if door.mode != DoorMode::Locked && !lockdown {
        return pass("door in normal operation");
    }
    if matches!(h, HolderRef::Person(p) if site.threat.exempt.contains(&p.id)) {
        return pass("exempt from lockdown");
    }
    fail(
        Reason::DoorLocked,
        if lockdown {
            "site in lockdown"
        } else {
            "door locked"
        },
    )
}

/// Rule 9. "Inside" means the holder's last recorded zone is the target zone or lies
/// within it, and the zone's timeout (if any) has not run out since they passed in.
/// Hard anti-passback is applied as soft while the presence is unconfirmed (see
/// [`EngineState::presence_unconfirmed`]).
/// Returns whether a soft violation should raise an alarm.
pub(super) fn anti_passback(
    policy: &Policy,
    zone: &Zone,
    state: &EngineState,
    holder_id: Uuid,
    at: DateTime<Utc>,
) -> (RuleResult, bool) {
    if zone.anti_passback == AntiPassback::Off {
        return (pass("no anti-passback"), false);
    }
    let inside = state.presence.get(&holder_id).is_some_and(|pr| {
        policy.within(pr.zone_id, zone.id)
            && zone
                .anti_passback_timeout_s
                .is_none_or(|t| at < plus_seconds(pr.since, t))
    });
    match (inside, zone.anti_passback) {
        (false, _) => (pass("not inside the zone"), false),
        (true, AntiPassback::Soft) => (pass("already inside: soft anti-passback, alarm"), true),
        (true, _) if state.presence_unconfirmed => (
            pass(
                "already inside by a presence the server has not confirmed: hard anti-passback applied as soft, alarm",
            ),
            true,
        ),
        _ => (fail(Reason::AntiPassback, "already inside the zone"), false),
    }
}

/// Rule 9b. `holder` is presenting; `companion` is a waiting holder this entry would
/// admit with them (see the engine). Every zone the entry leads into — the target, and
/// each enclosing zone the door's outside is not in — must have room for the arrivals
/// not already inside it. The count sums the per-zone tallies of [`EngineState`]'s
/// presences over the zones within, so it costs the number of occupied zones, not of
/// holders.
pub(super) fn occupancy(
    policy: &Policy,
    door: &Door,
    zone: &Zone,
    state: &EngineState,
    holder: Uuid,
    companion: Option<Uuid>,
) -> RuleResult {
    let mut detail = "no occupancy limit";
    let entered = policy
        .enclosing(zone.id)
        .filter(|z| z.id == zone.id || !policy.within(door.from_zone_id, z.id));
    for z in entered {
        let Some(limit) = z.max_occupancy else {
            continue;
        };
        let inside = |id: &Uuid| {
            state
                .presence
                .get(id)
                .is_some_and(|p| policy.within(p.zone_id, z.id))
        };
        let newcomers = [Some(holder), companion]
            .iter()
            .flatten()
            .filter(|id| !inside(id))
            .count();
        if newcomers == 0 {
            if detail == "no occupancy limit" {
                detail = "already inside: not counted again";
            }
            continue;
        }
        let count: usize = state
            .presence
            .per_zone()
            .filter(|&(zone_id, _)| policy.within(zone_id, z.id))
            .map(|(_, n)| n)
            .sum();
        if count.saturating_add(newcomers) > usize::try_from(limit).unwrap_or(usize::MAX) {
            let which = if z.id == zone.id {
                "zone".to_owned()
            } else {
                format!("enclosing zone {}", z.id)
            };
            let wanted = if newcomers > 1 {
                format!(", {newcomers} to enter")
            } else {
                String::new()
            };
            return fail(
                Reason::ZoneFull,
                format!("{which} full: {count} inside{wanted}, limit {limit}"),
            );
        }
        detail = "room in the zone";
    }
    pass(detail)
}
