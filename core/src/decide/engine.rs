//! The rule sequence: resolves the door, card and holder, runs rules 1–12 (and 1b,
//! authenticity, 5b, assurance, 9b, occupancy) in product order, and applies the
//! stateful rules (PIN attempts, escort, two-person) and the occupancy bookkeeping to
//! the [`EngineState`].

use super::rules::{self, HolderRef, RuleResult, fail, pass};
use super::state::{EngineState, PendingKind, PendingRequest, plus_seconds};
use super::{Alarm, Check, Decision, Direction, Outcome, Presentation, Reason, Release, TraceStep};
use crate::model::{Card, Credential, Door, Holder, Person, PersonKind, PinCheck, Site, Zone};
use crate::policy::Policy;

/// Decides one presentation, updating `state` (anti-passback presence, pending requests,
/// PIN failures). The same policy, presentation and state always give the same decision
/// and the same new state. The conventions are listed in the [module docs](super).
pub fn decide(policy: &Policy, p: &Presentation, state: &mut EngineState) -> Decision {
    let mut d = Decision {
        outcome: Outcome::Denied,
        reason: Reason::UnknownDoor,
        person_id: None,
        visit_id: None,
        credential_id: None,
        zone_id: None,
        trace: Vec::with_capacity(16),
        alarms: Vec::new(),
        releases: None,
    };
    let resolved = policy.door(p.door_id).and_then(|door| {
        Some((
            door,
            policy.zone(door.to_zone_id)?,
            policy.site(door.site_id)?,
        ))
    });
    let Some((door, zone, site)) = resolved else {
        d.trace.push(step(Check::Door, false, "door not in policy"));
        return d;
    };
    d.zone_id = Some(zone.id);
    state.expire(door.id, p.at);
    // Readers send normalised ids; an operator's "04:a2:..." is normalised too (on the
    // stack: a card is held inline).
    let credential = Card::normalize(&p.card)
        .ok()
        .and_then(|card| policy.credential_of(card));
    if let Some(c) = credential {
        d.credential_id = Some(c.id);
        match c.holder {
            Holder::Person(id) => d.person_id = Some(id),
            Holder::Visit(id) => d.visit_id = Some(id),
        }
    }
    let result = match p.direction {
        Direction::Exit => {
            d.trace
                .push(step(Check::Exit, true, "egress is never blocked"));
            if let Some(c) = credential {
                state.enter(c.holder, door.from_zone_id, p.at);
            }
            Ok(())
        }
        Direction::Entry => {
            let cx = Cx {
                policy,
                p,
                door,
                zone,
                site,
            };
            entry(&cx, credential, &mut d, state)
        }
    };
    (d.outcome, d.reason) = match result {
        Ok(()) => (Outcome::Granted, Reason::Granted),
        Err(r @ (Reason::EscortRequired | Reason::SecondPersonRequired)) => (Outcome::Pending, r),
        Err(r) => (Outcome::Denied, r),
    };
    d
}

/// What every rule may look at.
struct Cx<'a> {
    policy: &'a Policy,
    p: &'a Presentation,
    door: &'a Door,
    zone: &'a Zone,
    site: &'a Site,
}

fn step(check: Check, passed: bool, detail: &'static str) -> TraceStep {
    TraceStep {
        check,
        passed,
        detail: detail.into(),
    }
}

/// Appends a rule's result to the trace; `Err` stops the sequence with its reason.
fn record(d: &mut Decision, check: Check, result: RuleResult) -> Result<(), Reason> {
    let (passed, detail, outcome) = match result {
        Ok(detail) => (true, detail, Ok(())),
        Err((reason, detail)) => (false, detail, Err(reason)),
    };
    d.trace.push(TraceStep {
        check,
        passed,
        detail,
    });
    outcome
}

/// Rules 1–12 (1b after 1, 5b after 5, 9b after 9) for an entry reader; `Ok` means granted.
fn entry(
    cx: &Cx<'_>,
    credential: Option<&Credential>,
    d: &mut Decision,
    state: &mut EngineState,
) -> Result<(), Reason> {
    let (policy, at, zone) = (cx.policy, cx.p.at, cx.zone);
    let read = cx.p.authentication;
    let Some(cred) = credential else {
        if let Some(forged) = rules::unknown_card_authenticity(read) {
            d.alarms.push(Alarm::CredentialNotAuthentic);
            return record(d, Check::Authenticity, forged);
        }
        return record(
            d,
            Check::Credential,
            fail(Reason::UnknownCredential, "card not in policy"),
        );
    };
    record(d, Check::Credential, pass("card known"))?;
    let authentic = rules::authenticity(cred, read);
    if authentic.is_err() {
        d.alarms.push(Alarm::CredentialNotAuthentic);
    }
    record(d, Check::Authenticity, authentic)?;
    record(
        d,
        Check::CredentialActive,
        rules::credential_active(cred, state, at),
    )?;
    let holder = match cred.holder {
        Holder::Person(id) => policy.person(id).map(HolderRef::Person),
        Holder::Visit(id) => policy.visit(id).map(HolderRef::Visit),
    };
    let Some(holder) = holder else {
        // Policy::build refuses dangling holders; this only guards against a bug there.
        return record(
            d,
            Check::HolderActive,
            fail(Reason::HolderInactive, "holder not in policy"),
        );
    };
    record(d, Check::HolderActive, rules::holder_active(holder, at))?;
    record(d, Check::Vetting, rules::vetting(holder, zone, at))?;
    record(d, Check::Clearance, rules::clearance(holder, zone, cx.site))?;
    record(d, Check::Assurance, rules::assurance(cred, zone, cx.site))?;
    record(d, Check::Grant, rules::grant(policy, holder, zone, at))?;
    record(
        d,
        Check::Schedule,
        rules::schedule(policy, holder, zone, cx.site, at),
    )?;
    record(
        d,
        Check::DoorMode,
        rules::door_mode(cx.door, cx.site, holder),
    )?;
    let (apb, violation) = rules::anti_passback(policy, zone, state, cred.holder.id(), at);
    if violation {
        d.alarms.push(Alarm::AntiPassbackViolation);
    }
    record(d, Check::AntiPassback, apb)?;
    let companion = companion(cx, cred, holder, state).map(|r| r.holder.id());
    record(
        d,
        Check::Occupancy,
        rules::occupancy(policy, cx.door, zone, state, cred.holder.id(), companion),
    )?;
    let r = pin(cx, cred, &mut d.alarms, state);
    record(d, Check::Pin, r)?;
    let r = escort(cx, cred, holder, state);
    record(d, Check::Escort, r)?;
    let r = two_person(cx, cred, &mut d.releases, state);
    record(d, Check::TwoPerson, r)?;

    if d.releases.is_none() {
        d.releases = release_escorted(cx, holder, state);
        if d.releases.is_some() {
            d.trace
                .push(step(Check::Escort, true, "escorts a pending visitor"));
        }
    }
    state.enter(cred.holder, zone.id, at);
    if let Some(r) = d.releases {
        state.enter(r.holder, zone.id, at);
    }
    Ok(())
}

/// Rule 10. Counts wrong PINs and suspends the credential at the limit.
fn pin(
    cx: &Cx<'_>,
    cred: &Credential,
    alarms: &mut Vec<Alarm>,
    state: &mut EngineState,
) -> RuleResult {
    if !cx.zone.pin_required {
        return pass("zone needs no PIN");
    }
    let Some(entered) = cx.p.pin.as_deref() else {
        return fail(Reason::PinRequired, "zone needs card and PIN");
    };
    let Some(verifier) = &cred.pin else {
        return fail(Reason::PinIncorrect, "no PIN enrolled on this credential");
    };
    // An uncheckable PIN (no key, verifier withheld) is refused but not counted: the
    // holder did nothing wrong, and a lockout would be the door's fault.
    let check = match verifier.check(cx.policy.pin_key(), entered) {
        Ok(check) => check,
        Err(why) => return fail(Reason::PinIncorrect, why.detail()),
    };
    match check {
        PinCheck::Correct => {
            state.pin_ok(cred.id);
            pass("PIN correct")
        }
        PinCheck::Duress => {
            state.pin_ok(cred.id);
            alarms.push(Alarm::Duress);
            pass("duress PIN: granted, silent alarm")
        }
        PinCheck::Incorrect => {
            let max = cx.policy.settings().pin_max_failures;
            let (n, suspended) = state.pin_failed(cred.id, max);
            if suspended {
                alarms.push(Alarm::PinLockout);
                fail(
                    Reason::PinIncorrect,
                    format!("wrong PIN ({n} in a row): credential suspended"),
                )
            } else {
                fail(Reason::PinIncorrect, format!("wrong PIN ({n} of {max})"))
            }
        }
    }
}

/// Rule 11. A visitor who needs an escort, in an escort zone, waits at the door.
fn escort(
    cx: &Cx<'_>,
    cred: &Credential,
    holder: HolderRef<'_>,
    state: &mut EngineState,
) -> RuleResult {
    match holder {
        HolderRef::Visit(v) if v.escort_required && cx.zone.escort_required => {
            let window = cx.policy.settings().escort_window_s;
            hold(cx, cred, PendingKind::Escort, window, state);
            fail(Reason::EscortRequired, "waiting for an escort")
        }
        _ => pass("no escort needed"),
    }
}

/// Rule 12. The first authorised person waits; a different second one releases both.
fn two_person(
    cx: &Cx<'_>,
    cred: &Credential,
    releases: &mut Option<Release>,
    state: &mut EngineState,
) -> RuleResult {
    if !cx.zone.two_person {
        return pass("zone has no two-person rule");
    }
    let first = state.take(cx.door.id, |r| pairs_with(cred, r));
    match first {
        Some(first) => {
            *releases = Some(release(first, Reason::SecondPersonRequired));
            pass("second person: both granted")
        }
        None => {
            let window = cx.policy.settings().two_person_window_s;
            hold(cx, cred, PendingKind::TwoPerson, window, state);
            fail(Reason::SecondPersonRequired, "waiting for a second person")
        }
    }
}

/// A granted person may escort a visitor waiting at this door if they are the visit's
/// host or any staff member (contractors may not escort).
fn release_escorted(
    cx: &Cx<'_>,
    holder: HolderRef<'_>,
    state: &mut EngineState,
) -> Option<Release> {
    let HolderRef::Person(escort) = holder else {
        return None;
    };
    let waiting = state.take(cx.door.id, |r| escorts(cx, escort, r))?;
    Some(release(waiting, Reason::EscortRequired))
}

/// Whether `r` is a first person that `cred`'s holder completes a pair with (rule 12).
fn pairs_with(cred: &Credential, r: &PendingRequest) -> bool {
    r.kind == PendingKind::TwoPerson && r.holder != cred.holder
}

/// Whether `escort` may release the waiting visitor `r`: staff, or the visit's host.
fn escorts(cx: &Cx<'_>, escort: &Person, r: &PendingRequest) -> bool {
    r.kind == PendingKind::Escort
        && (escort.kind == PersonKind::Staff
            || cx
                .policy
                .visit(r.holder.id())
                .is_some_and(|v| v.host_person_id == escort.id))
}

/// The waiting request this entry would release if it is granted, for rule 9b to find
/// room for: in a two-person zone the first person it pairs with (rule 12), elsewhere
/// the visitor a person escorts in. The same predicates pick the same oldest request
/// as [`two_person`] and [`release_escorted`] later do: nothing between rule 9b and them
/// changes another holder's requests at this door.
fn companion(
    cx: &Cx<'_>,
    cred: &Credential,
    holder: HolderRef<'_>,
    state: &EngineState,
) -> Option<PendingRequest> {
    let waiting = state.pending.get(&cx.door.id)?;
    if cx.zone.two_person {
        return waiting.iter().find(|r| pairs_with(cred, r)).copied();
    }
    let HolderRef::Person(escort) = holder else {
        return None;
    };
    waiting.iter().find(|r| escorts(cx, escort, r)).copied()
}

fn hold(cx: &Cx<'_>, cred: &Credential, kind: PendingKind, window_s: u32, state: &mut EngineState) {
    let request = PendingRequest {
        kind,
        holder: cred.holder,
        credential_id: cred.id,
        expires_at: plus_seconds(cx.p.at, window_s),
    };
    state.hold(cx.door.id, request);
}

fn release(r: PendingRequest, reason: Reason) -> Release {
    Release {
        holder: r.holder,
        credential_id: r.credential_id,
        reason,
    }
}
