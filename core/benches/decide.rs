//! Decision latency (p50/p99) and snapshot build time, size, load time and resident
//! memory, at several credential counts; then a one-card revocation as a signed delta:
//! its size, and the time to verify it and apply it in place (`Policy::apply`).
//!
//! A plain bench binary rather than criterion: criterion reports means and medians, and
//! the figure that matters at a door is the tail (p99) of single decisions.
//!
//! `cargo bench -p gatehouse-core --bench decide` (sizes from `GATEHOUSE_BENCH_SIZES`,
//! default `10000,250000,2000000`).

use chrono::{DateTime, Duration, NaiveTime, Utc, Weekday};
use ed25519_dalek::SigningKey;
use gatehouse_core::decide::{Direction, EngineState, Presentation, decide};
use gatehouse_core::model::*;
use gatehouse_core::policy::{
    Changes, DeltaBase, Policy, PolicyDelta, PolicySource, SignedDelta, sign_at, verify_and_load,
};
use std::error::Error;
use std::hint::black_box;
use std::time::Instant;
use uuid::Uuid;

const ZONES: u128 = 64;
const GROUPS: u128 = 100;
const DECISIONS: usize = 200_000;

fn id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128(kind << 96 | n)
}

fn card(n: u128) -> String {
    format!("{:014X}", 0x04_0000_0000_0000u128 + n)
}

/// A site with a zone tree, one door per zone, `n` people each with one card, group
/// grants (some scheduled) and a direct grant for every tenth person.
fn source(n: u128) -> Result<PolicySource, Box<dyn Error>> {
    let site = id(1, 0);
    let zones = (0..ZONES).map(|z| Zone {
        id: id(2, z),
        site_id: site,
        parent_id: (z > 0).then(|| id(2, (z - 1) / 4)),
        level: u8::try_from(z.min(4)).unwrap_or(4),
        vetting_required: z % 3 == 0,
        escort_required: false,
        two_person: false,
        pin_required: false,
        anti_passback: if z % 5 == 0 {
            AntiPassback::Hard
        } else {
            AntiPassback::Off
        },
        anti_passback_timeout_s: Some(600),
        max_occupancy: None,
        min_assurance: Default::default(),
    });
    let doors = (1..ZONES).map(|z| Door {
        id: id(3, z),
        site_id: site,
        from_zone_id: id(2, (z - 1) / 4),
        to_zone_id: id(2, z),
        mode: DoorMode::Normal,
        unlock_ms: 3000,
        held_open_ms: 30000,
    });
    let office = Schedule {
        id: id(7, 0),
        site_id: site,
        windows: vec![Window {
            days: [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
            .into_iter()
            .collect(),
            start: NaiveTime::from_hms_opt(7, 0, 0).ok_or("time")?,
            end: NaiveTime::from_hms_opt(19, 0, 0).ok_or("time")?,
        }],
        holidays: vec!["2024-12-25".parse()?],
    };
    let people = (0..n).map(|p| Person {
        id: id(4, p),
        kind: PersonKind::Staff,
        status: PersonStatus::Active,
        clearance: 4,
        vetting: Some(Vetting {
            status: VettingStatus::Cleared,
            cleared_until: None,
        }),
        group_ids: vec![id(5, p % GROUPS)].into(),
    });
    // `card` always gives a normalised identifier.
    let credentials = (0..n).filter_map(|p| {
        Some(Credential {
            id: id(6, p),
            card: card(p).parse().ok()?,
            kind: CardKind::Uid,
            state: CredentialState::Active,
            valid_from: None,
            valid_until: None,
            holder: Holder::Person(id(4, p)),
            pin: None,
        })
    });
    let group_grants = (0..GROUPS).map(|g| Grant {
        id: id(8, g),
        subject: Subject::Group(id(5, g)),
        zone_id: id(2, 1 + g % 4),
        schedule_id: (g % 2 == 0).then(|| id(7, 0)),
        valid_from: None,
        valid_until: None,
    });
    let direct = (0..n).step_by(10).map(|p| Grant {
        id: id(9, p),
        subject: Subject::Person(id(4, p)),
        zone_id: id(2, 5 + p % (ZONES - 5)),
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    });
    Ok(PolicySource {
        settings: Default::default(),
        sites: vec![Site {
            id: site,
            name: "Bench".into(),
            timezone: chrono_tz::Europe::Berlin,
            threat: ThreatLevel::default(),
            secure_cards_from_threat_level: None,
        }],
        zones: zones.collect(),
        doors: doors.collect(),
        people: people.collect(),
        visits: vec![],
        credentials: credentials.collect(),
        grants: group_grants.chain(direct).collect(),
        schedules: vec![office],
    })
}

/// Resident set size in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / 1048576.0)
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0) as f64 / 1000.0
}

/// A revocation delta's size and the times to verify and apply it.
struct DeltaRow {
    n: u128,
    bytes: usize,
    verify_us: f64,
    apply_p50_us: f64,
    apply_max_us: f64,
}

const REVOCATIONS: usize = 200;

fn run(n: u128) -> Result<DeltaRow, Box<dyn Error>> {
    let src = source(n)?;
    let t = Instant::now();
    let built = Policy::build(src.clone())?;
    let build_s = t.elapsed().as_secs_f64();
    drop(built);

    let key = SigningKey::from_bytes(&[7; 32]);
    let at: DateTime<Utc> = "2024-06-05T10:00:00Z".parse()?;
    let t = Instant::now();
    let bytes = sign_at(&src, 1, at, &key)?.to_bytes()?;
    let sign_s = t.elapsed().as_secs_f64();
    drop(src);

    let rss_before = rss_mib();
    let t = Instant::now();
    let mut policy = verify_and_load(&bytes, &key.verifying_key(), 1)?;
    let load_s = t.elapsed().as_secs_f64();
    let rss_loaded = rss_mib() - rss_before;

    let mut state = EngineState::default();
    let mut samples = Vec::with_capacity(DECISIONS);
    let mut granted = 0usize;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..DECISIONS {
        // xorshift: cheap, deterministic spread over cards, doors and directions.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let person = u128::from(rng) % n;
        // Three in four entries go where the person's group grant leads (the full rule
        // path); the rest to any door.
        let zone = if rng >> 62 == 0 {
            1 + u128::from(rng >> 32) % (ZONES - 1)
        } else {
            1 + person % GROUPS % 4
        };
        let p = Presentation {
            card: card(person),
            pin: None,
            door_id: id(3, zone),
            direction: if i % 2 == 0 {
                Direction::Entry
            } else {
                Direction::Exit
            },
            at: at + Duration::seconds(i64::try_from(i)?),
            authentication: Default::default(),
        };
        let t = Instant::now();
        let d = decide(&policy, black_box(&p), &mut state);
        samples.push(t.elapsed().as_nanos());
        granted += usize::from(d.granted());
    }
    samples.sort_unstable();
    println!(
        "| {n:>9} | {:>8.2} | {:>8.2} | {:>8.1} | {:>8.3} | {:>8.0} | {:>6.2} | {:>6.2} | {:>5.1}% |",
        build_s,
        sign_s,
        bytes.len() as f64 / 1048576.0,
        load_s,
        rss_loaded,
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        granted as f64 * 100.0 / DECISIONS as f64,
    );
    drop(bytes);

    // Revocations, one card each, as the agent receives them: verify, then apply.
    let site_ids: Vec<Uuid> = policy.source().sites.iter().map(|s| s.id).collect();
    let (mut verify, mut apply, mut size) = (Vec::new(), Vec::new(), 0);
    for r in 0..REVOCATIONS {
        let person = (n / REVOCATIONS as u128) * r as u128 % n;
        let mut revoked = policy
            .credential_by_card(&card(person))
            .ok_or("no such card")?
            .clone();
        revoked.state = CredentialState::Revoked;
        let delta = PolicyDelta {
            settings: policy.settings().clone(),
            credentials: Changes {
                upserted: vec![revoked],
                removed: vec![],
            },
            ..PolicyDelta::default()
        };
        let from = policy.version();
        let signed = SignedDelta::sign(&delta, from, from + 1, site_ids.clone(), at, &key)?;
        let wire = signed.to_bytes()?;
        size = wire.len();
        let t = Instant::now();
        let base = DeltaBase {
            version: from,
            site_ids: &site_ids,
        };
        let changes = SignedDelta::from_bytes(&wire)?.verify(&key.verifying_key(), base)?;
        verify.push(t.elapsed().as_nanos());
        let t = Instant::now();
        policy.apply(black_box(&changes))?;
        apply.push(t.elapsed().as_nanos());
        policy.set_version(from + 1);
    }
    verify.sort_unstable();
    apply.sort_unstable();
    Ok(DeltaRow {
        n,
        bytes: size,
        verify_us: percentile(&verify, 0.5),
        apply_p50_us: percentile(&apply, 0.5),
        apply_max_us: percentile(&apply, 1.0),
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let sizes =
        std::env::var("GATEHOUSE_BENCH_SIZES").unwrap_or_else(|_| "10000,250000,2000000".into());
    println!(
        "| credentials | build s | sign s | size MiB | load s | RSS MiB | p50 µs | p99 µs | granted |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut deltas = Vec::new();
    for n in sizes.split(',').filter(|s| !s.is_empty()) {
        deltas.push(run(n.trim().parse()?)?);
    }
    println!();
    println!(
        "| credentials | revocation delta (signed) | verify µs (p50) | apply µs (p50) | apply µs (max) |"
    );
    println!("|---|---|---|---|---|");
    for d in deltas {
        println!(
            "| {:>9} | {} bytes | {:.1} | {:.1} | {:.1} |",
            d.n, d.bytes, d.verify_us, d.apply_p50_us, d.apply_max_us
        );
    }
    Ok(())
}
