//! Every visit rule and its boundaries.

use super::*;

const SITE: Uuid = Uuid::from_u128(1);
const OTHER_SITE: Uuid = Uuid::from_u128(2);
const LOBBY: Uuid = Uuid::from_u128(10);
const LAB: Uuid = Uuid::from_u128(11);
const VAULT: Uuid = Uuid::from_u128(12);
const ANNEX: Uuid = Uuid::from_u128(13);
const ESCORTED: Uuid = Uuid::from_u128(14);
const UNKNOWN: Uuid = Uuid::from_u128(99);

fn zone(id: Uuid, name: &str, longest: Option<u32>) -> VisitorZone {
    VisitorZone {
        zone_id: id,
        zone_name: name.into(),
        site_id: SITE,
        site_name: "Harbour".into(),
        level: 0,
        vetting_required: false,
        escort_required: false,
        longest_visit_minutes: longest,
    }
}

fn zones() -> Vec<VisitorZone> {
    let mut vault = zone(VAULT, "Vault", None);
    vault.vetting_required = true;
    vault.level = 3;
    let mut annex = zone(ANNEX, "Annex", Some(480));
    annex.site_id = OTHER_SITE;
    annex.site_name = "Docks".into();
    let mut escorted = zone(ESCORTED, "Server room", Some(120));
    escorted.escort_required = true;
    vec![
        zone(LOBBY, "Lobby", Some(480)),
        zone(LAB, "Lab", None),
        vault,
        annex,
        escorted,
    ]
}

struct Case {
    name: &'static str,
    requested: &'static [Uuid],
    minutes: i64,
    host_barred: &'static [Uuid],
    site: Option<Uuid>,
    /// Err(field) for a hard refusal, else the rules broken (substrings) and escort.
    want: Result<(&'static [&'static str], bool), &'static str>,
}

fn case(name: &'static str, requested: &'static [Uuid], minutes: i64) -> Case {
    Case {
        name,
        requested,
        minutes,
        host_barred: &[],
        site: None,
        want: Ok((&[], false)),
    }
}

impl Case {
    fn breaks(mut self, rules: &'static [&'static str]) -> Case {
        self.want = Ok((rules, false));
        self
    }
    fn escort(mut self) -> Case {
        self.want = self.want.map(|(r, _)| (r, true));
        self
    }
    fn refused(mut self, field: &'static str) -> Case {
        self.want = Err(field);
        self
    }
    fn host_barred(mut self, zones: &'static [Uuid]) -> Case {
        self.host_barred = zones;
        self
    }
    fn site(mut self, site: Uuid) -> Case {
        self.site = Some(site);
        self
    }
}

#[test]
fn visit_rules_table() {
    let cases = [
        case("open zone, within its window", &[LOBBY], 480),
        case("open zone, one minute too long", &[LOBBY], 481)
            .breaks(&["Lobby allows visits of at most 8 hours"]),
        case("closed zone", &[LAB], 60).breaks(&["Lab is not open to visitors"]),
        case("closed and too long are both named", &[LOBBY, LAB], 600)
            .breaks(&["Lobby allows", "Lab is not open"]),
        case("host may not enter", &[LOBBY], 60)
            .host_barred(&[LOBBY])
            .breaks(&["the host may not enter Lobby"]),
        case("vetting zone is never open", &[VAULT], 60).refused("allowed_zone_ids"),
        case("unknown zone", &[UNKNOWN], 60).refused("allowed_zone_ids"),
        case("zones on two sites", &[LOBBY, ANNEX], 60).refused("allowed_zone_ids"),
        case("zone not at the site asked for", &[ANNEX], 60)
            .site(SITE)
            .refused("site_id"),
        case("site asked for and matching", &[LOBBY], 60).site(SITE),
        case("no zones: the site asked for", &[], 60).site(SITE),
        case("escort zone makes the visit escorted", &[ESCORTED], 120).escort(),
        case("escort zone, window too long", &[ESCORTED], 121)
            .breaks(&["Server room allows visits of at most 2 hours"])
            .escort(),
    ];
    for c in cases {
        let zones: Vec<VisitorZone> = zones()
            .into_iter()
            .filter(|z| c.requested.contains(&z.zone_id))
            .collect();
        let host: BTreeMap<Uuid, Result<(), String>> = c
            .requested
            .iter()
            .map(|&z| {
                (
                    z,
                    if c.host_barred.contains(&z) {
                        Err("no grant".into())
                    } else {
                        Ok(())
                    },
                )
            })
            .collect();
        let facts = Facts {
            requested: c.requested,
            zones: &zones,
            window_minutes: c.minutes,
            escort_asked: false,
            host_may_enter: &host,
            site_id: c.site,
        };
        match (judge(&facts), c.want) {
            (Err(problems), Err(field)) => {
                assert!(problems.contains_key(field), "{}: {problems:?}", c.name)
            }
            (Ok(judged), Ok((rules, escort))) => {
                assert_eq!(
                    judged.outside_rules.len(),
                    rules.len(),
                    "{}: {:?}",
                    c.name,
                    judged.outside_rules
                );
                for (got, want) in judged.outside_rules.iter().zip(rules) {
                    assert!(got.contains(want), "{}: {got:?} lacks {want:?}", c.name);
                }
                assert_eq!(judged.escort_required, escort, "{}", c.name);
                let site = if c.requested.is_empty() {
                    c.site
                } else {
                    Some(SITE)
                };
                assert_eq!(judged.site_id, site, "{}", c.name);
            }
            (got, want) => panic!("{}: got {got:?}, want {want:?}", c.name),
        }
    }
}

#[test]
fn durations_read_as_words() {
    use crate::visits::words::minutes;
    assert_eq!(minutes(1), "1 minute");
    assert_eq!(minutes(90), "90 minutes");
    assert_eq!(minutes(60), "1 hour");
    assert_eq!(minutes(480), "8 hours");
    assert_eq!(minutes(2880), "2 days");
}
