//! "May this person enter this zone at all?" — rules 3 to 6 (active, vetting, clearance
//! with the site's threat raise, a grant valid at `at`) without a card, a door or a
//! schedule. The server asks it of a host before a visit to the zone is accepted: a host
//! invites only where the host may go (and can escort). Rules 1b and 5b (authenticity,
//! assurance) are about the card, not the person, and are left to the door.

use super::Reason;
use super::rules::{self, HolderRef};
use crate::policy::Policy;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `Ok` when the person passes rules 3–6 for the zone at `at`, else the first rule's
/// reason and its detail. An unknown person is `holder_inactive`; an unknown zone (or
/// one whose site is missing) `unknown_door`, the engine's "not in the policy".
pub fn person_may_enter(
    policy: &Policy,
    person_id: Uuid,
    zone_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), (Reason, String)> {
    let Some(person) = policy.person(person_id) else {
        return Err((Reason::HolderInactive, "person not in the policy".into()));
    };
    let zone = policy.zone(zone_id);
    let Some((zone, site)) = zone.and_then(|z| Some((z, policy.site(z.site_id)?))) else {
        return Err((Reason::UnknownDoor, "zone not in the policy".into()));
    };
    let holder = HolderRef::Person(person);
    rules::holder_active(holder, at)
        .and_then(|_| rules::vetting(holder, zone, at))
        .and_then(|_| rules::clearance(holder, zone, site))
        .and_then(|_| rules::grant(policy, holder, zone, at))
        .map(|_| ())
        .map_err(|(reason, detail)| (reason, detail.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::*;
    use crate::model::PersonStatus;
    use crate::policy::PolicySource;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn policy(change: impl FnOnce(&mut PolicySource)) -> Policy {
        let mut source = source();
        change(&mut source);
        Policy::build(source).unwrap()
    }

    #[test]
    fn a_person_may_enter_where_rules_three_to_six_pass() {
        let noon = at("2024-06-05T12:00:00Z");
        type Case = (&'static str, fn(&mut PolicySource), Uuid, Option<Reason>);
        let cases: &[Case] = &[
            ("own grant", |_| {}, CTRL, None),
            ("child of the same level", |_| {}, CTRL_CHILD, None),
            (
                "child of a higher level",
                |_| {},
                SECURE,
                Some(Reason::NoGrant),
            ),
            (
                "left",
                |s| s.people[0].status = PersonStatus::Left,
                CTRL,
                Some(Reason::HolderInactive),
            ),
            (
                "clearance raised by threat",
                |s| s.sites[0].threat.clearance_raise = 2,
                CTRL,
                Some(Reason::InsufficientClearance),
            ),
            (
                "vetting zone without vetting",
                |s| {
                    s.zones.iter_mut().for_each(|z| z.vetting_required = true);
                    s.people[0].vetting = None;
                },
                CTRL,
                Some(Reason::VettingInvalid),
            ),
            (
                "unknown zone",
                |_| {},
                Uuid::from_u128(0xdead),
                Some(Reason::UnknownDoor),
            ),
        ];
        for (name, change, zone, want) in cases {
            let got = person_may_enter(&policy(*change), ALICE, *zone, noon)
                .err()
                .map(|e| e.0);
            assert_eq!(got, *want, "{name}");
        }
        let unknown = person_may_enter(&policy(|_| {}), Uuid::from_u128(0xbeef), CTRL, noon);
        assert_eq!(unknown.unwrap_err().0, Reason::HolderInactive);
    }
}
