//! A large, realistic events table for the events search bench: 3 sites (each with its
//! own time zone), 10 zones and about 167 doors each (500 doors, one agent each),
//! 50,000 people with names (so that a name search resolves through `people`), about
//! three years of traffic.
//!
//! Events: 96.7% presentations (92% granted, 5% `no_grant`, 1% `outside_schedule`, 1%
//! unknown card, 0.5% `anti_passback`, 0.5% pending `escort_required`), 2% exit
//! requests, 1% door openings and closings, 0.1% forced-open and 0.2% held-open doors.
//! Ids are UUIDv7 of the arrival time, rows in arrival order; 0.5% arrive late (1 hour
//! to 3 days after they occurred) and 0.01% early (an agent clock 5–60 s ahead).
//!
//! Loading is bulk: the site model through the store (so the audit chain and operator
//! log are real), then people and events with multi-row `INSERT`s in transactions of
//! 100,000 rows; the secondary indexes of `access_events` are dropped before and made
//! again after (a sort per index is far faster than 10 million index insertions), so
//! the schema ends exactly as the migrations made it.

use super::Result;
use super::access_events::{POSTGRES_INDEXES, Row, SQLITE_INDEXES, bind_rows, insert_sql};
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::model::DoorMode;
use gatehouse_server::store::{Actor, NewAgent, NewDoor, NewSite, NewZone, Store, ZoneRules, now};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use std::borrow::Cow;
use std::time::Instant;
use uuid::Uuid;

pub const SITES: usize = 3;
pub const ZONES_PER_SITE: usize = 10;
pub const DOORS: usize = 500;
pub const PEOPLE: u64 = 50_000;
pub const DAYS: i64 = 3 * 365;
const ROWS_PER_TRANSACTION: usize = 100_000;

/// The surnames people are given (a name search for one finds 1/40 of them).
pub const SURNAMES: [&str; 40] = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
];
const GIVEN: [&str; 20] = [
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Karla",
    "Leo", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tilda", "Yusuf",
];

/// The first day of the generated years.
pub fn start() -> Result<DateTime<Utc>> {
    Ok("2023-12-01T00:00:00Z".parse()?)
}

#[derive(Clone, Copy)]
pub struct Door {
    pub id: Uuid,
    pub zone: Uuid,
    pub site: Uuid,
    pub agent: Uuid,
}

/// What the queries need to know of the generated world.
pub struct World {
    pub sites: Vec<Uuid>,
    pub zones: Vec<Uuid>,
    pub doors: Vec<Door>,
}

/// SplitMix64: deterministic and fast.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The id of person `p`, of their card, and the card's number.
pub fn person(p: u64) -> Uuid {
    Uuid::from_u64_pair(mix(p) | 1, mix(p + 1_000_000))
}

pub fn credential(p: u64) -> Uuid {
    Uuid::from_u64_pair(mix(p + 2_000_000) | 1, mix(p + 3_000_000))
}

pub fn card(p: u64) -> String {
    format!("04{:012X}", mix(p) & 0xFFFF_FFFF_FFFF)
}

/// Person `p`'s name: a given name, a surname and a number (unique, as in an HR file
/// where two Anna Müllers differ by their personnel number).
pub fn name(p: u64) -> String {
    let given = GIVEN[(mix(p + 7) % GIVEN.len() as u64) as usize];
    let surname = SURNAMES[(p % SURNAMES.len() as u64) as usize];
    format!("{given} {surname} {p:05}")
}

/// A UUIDv7 of `at` with random bits from `r`.
fn v7(at: DateTime<Utc>, r: u64) -> Uuid {
    let millis = u128::from(u64::try_from(at.timestamp_millis()).unwrap_or(0));
    let random = (u128::from(r) << 64 | u128::from(mix(r))) & ((1 << 74) - 1);
    let rand_a = random >> 62;
    let rand_b = random & ((1 << 62) - 1);
    Uuid::from_u128(millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)
}

/// The site model, made through the store.
pub async fn world(store: &Store) -> Result<World> {
    let actor = Actor::cli();
    let zones_of = ["Europe/Berlin", "Europe/London", "America/New_York"];
    let (mut sites, mut zones, mut site_zones) = (Vec::new(), Vec::new(), Vec::new());
    for (s, timezone) in zones_of.iter().enumerate().take(SITES) {
        let site = NewSite {
            name: format!("Site {s}"),
            timezone: (*timezone).into(),
            secure_cards_from_threat_level: None,
        };
        let site = store.create_site(site, &actor).await?;
        let zone = |parent_id, level: u8, name: String| NewZone {
            site_id: site.id,
            parent_id,
            name,
            level,
            rules: ZoneRules::default(),
        };
        let outside = store
            .create_zone(zone(None, 0, "Outside".into()), &actor)
            .await?;
        let mut inner = Vec::new();
        for z in 0..ZONES_PER_SITE {
            let new = zone(Some(outside.id), 1, format!("Zone {s}.{z}"));
            inner.push(store.create_zone(new, &actor).await?.id);
        }
        zones.extend(inner.iter().copied());
        sites.push(site.id);
        site_zones.push((outside.id, inner));
    }
    let mut doors = Vec::new();
    for d in 0..DOORS {
        let s = d % SITES;
        let (outside, inner) = &site_zones[s];
        let zone = inner[(d / SITES) % ZONES_PER_SITE];
        let door = NewDoor {
            name: format!("Door {d:03}"),
            from_zone_id: *outside,
            to_zone_id: zone,
            mode: DoorMode::Normal,
            unlock_ms: 5000,
            held_open_ms: 30000,
        };
        let door = store.create_door(door, &actor).await?;
        let agent = NewAgent {
            name: format!("Agent {d:03}"),
            door_ids: vec![door.id],
            code_hash: format!("bench-code-{d}").into_bytes(),
            code_expires_at: now() + Duration::minutes(15),
        };
        let agent = store.create_agent(agent, &actor).await?;
        doors.push(Door {
            id: door.id,
            zone,
            site: sites[s],
            agent: agent.id,
        });
    }
    Ok(World {
        sites,
        zones,
        doors,
    })
}

/// The events, in arrival order.
pub struct Generator {
    pub total: usize,
    next: usize,
    doors: Vec<Door>,
    seqs: Vec<i64>,
    start: DateTime<Utc>,
    step_us: i64,
}

impl Generator {
    pub fn new(total: usize, doors: Vec<Door>) -> Result<Generator> {
        let span = Duration::days(DAYS).num_microseconds().ok_or("span")?;
        Ok(Generator {
            total,
            next: 0,
            seqs: vec![0; doors.len()],
            doors,
            start: start()?,
            step_us: span / i64::try_from(total.max(1))?,
        })
    }

    pub fn remaining(&self) -> usize {
        self.total - self.next
    }

    pub fn next_rows(&mut self, n: usize) -> Vec<Row> {
        let n = n.min(self.remaining());
        (0..n).map(|_| self.row()).collect()
    }

    fn row(&mut self) -> Row {
        let i = self.next as u64;
        self.next += 1;
        let r = |k: u64| mix(i.wrapping_mul(16).wrapping_add(k));
        let received_at =
            self.start + Duration::microseconds(self.step_us * i64::try_from(i).unwrap_or(0));
        let delay_ms = match r(0) % 10_000 {
            0..50 => 3_600_000 + (r(1) % (3 * 86_400_000 - 3_600_000)),
            50 => 0,
            _ => 200 + r(1) % 2_800,
        };
        let mut occurred_at = received_at - Duration::milliseconds(delay_ms as i64);
        if r(0) % 10_000 == 50 {
            occurred_at = received_at + Duration::milliseconds(5_000 + (r(1) % 55_000) as i64);
        }
        let d = (r(2) % self.doors.len() as u64) as usize;
        let door = self.doors[d];
        self.seqs[d] += 1;
        let p = r(3) % PEOPLE;
        let mut row = Row {
            id: v7(received_at, r(4)),
            agent_id: door.agent,
            seq: self.seqs[d],
            hash: r(5).to_be_bytes().repeat(4),
            payload: r(6).to_be_bytes().repeat(8),
            occurred_at,
            received_at,
            door_id: Some(door.id),
            kind: "presentation",
            reader: None,
            direction: None,
            card: None,
            outcome: None,
            reason: None,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            policy_version: None,
        };
        match r(7) % 1000 {
            0 => row.kind = "forced_open",
            1 | 2 => row.kind = "held_open",
            3..=22 => row.kind = "exit_requested",
            23..=27 => row.kind = "door_opened",
            28..=32 => row.kind = "door_closed",
            _ => {
                let (outcome, reason) = match r(8) % 1000 {
                    0..920 => ("granted", "granted"),
                    920..970 => ("denied", "no_grant"),
                    970..980 => ("denied", "outside_schedule"),
                    980..990 => ("denied", "unknown_credential"),
                    990..995 => ("denied", "anti_passback"),
                    _ => ("pending", "escort_required"),
                };
                let known = reason != "unknown_credential";
                let entry = i.is_multiple_of(2);
                row.reader = Some(Cow::Borrowed(if entry { "in" } else { "out" }));
                row.direction = Some(if entry { "entry" } else { "exit" });
                row.card = Some(card(p));
                row.outcome = Some(outcome);
                row.reason = Some(reason);
                row.person_id = known.then(|| person(p));
                row.credential_id = known.then(|| credential(p));
                row.zone_id = Some(door.zone);
                row.policy_version = Some(1 + (i / 100_000) as i64);
            }
        }
        row
    }
}

/// The people, by multi-row inserts.
fn people_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            format!(
                "(${}, ${}, 'staff', 0, 'active', ${}, ${})",
                4 * r + 1,
                4 * r + 2,
                4 * r + 3,
                4 * r + 4
            )
        })
        .collect();
    format!(
        "INSERT INTO people (id, name, kind, clearance, status, created_at, updated_at) \
         VALUES {}",
        values.join(", ")
    )
}

/// The secondary indexes of `access_events` (name, definition) as the migrations made
/// them.
async fn sqlite_indexes(pool: &SqlitePool) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(SQLITE_INDEXES).fetch_all(pool).await?)
}

async fn postgres_indexes(pool: &PgPool) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(POSTGRES_INDEXES).fetch_all(pool).await?)
}

fn progress(generator: &Generator, shown: &mut Instant) {
    if shown.elapsed().as_secs() >= 30 || generator.remaining() == 0 {
        eprintln!(
            "loaded {} of {} events",
            generator.total - generator.remaining(),
            generator.total
        );
        *shown = Instant::now();
    }
}

pub async fn load_sqlite(url: &str, events: usize, doors: Vec<Door>) -> Result<()> {
    let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    let options = options
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
        .pragma("cache_size", "-1000000");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let indexes = sqlite_indexes(&pool).await?;
    // sqlx binds large statements slowly on SQLite: small ones.
    fill(&pool, &indexes, events, doors, 100, 20).await?;
    pool.close().await;
    Ok(())
}

pub async fn load_postgres(url: &str, events: usize, doors: Vec<Door>) -> Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET maintenance_work_mem = '1GB'")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SET synchronous_commit = off")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    let indexes = postgres_indexes(&pool).await?;
    fill(&pool, &indexes, events, doors, 1000, 1000).await?;
    sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// Drops `indexes` (name, definition), writes the people and the events by multi-row
/// inserts of `people_per` and `events_per` rows, then makes the indexes again.
async fn fill<DB>(
    pool: &sqlx::Pool<DB>,
    indexes: &[(String, String)],
    events: usize,
    doors: Vec<Door>,
    people_per: u64,
    events_per: usize,
) -> Result<()>
where
    DB: sqlx::Database,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    Uuid: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<Uuid>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Vec<u8>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    &'static str: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<&'static str>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<Cow<'static, str>>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
{
    for (name, _) in indexes {
        sqlx::query(AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(pool)
            .await?;
    }
    let mut tx = pool.begin().await?;
    for first in (0..PEOPLE).step_by(people_per as usize) {
        let last = (first + people_per).min(PEOPLE);
        let mut query = sqlx::query(AssertSqlSafe(people_sql((last - first) as usize)));
        for p in first..last {
            let at = now();
            query = query.bind(person(p)).bind(name(p)).bind(at).bind(at);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let mut generator = Generator::new(events, doors)?;
    let full = insert_sql(events_per);
    let mut shown = Instant::now();
    while generator.remaining() > 0 {
        let mut tx = pool.begin().await?;
        let mut in_tx = 0;
        while in_tx < ROWS_PER_TRANSACTION && generator.remaining() > 0 {
            let rows = generator.next_rows(events_per);
            let sql = if rows.len() == events_per {
                full.clone()
            } else {
                insert_sql(rows.len())
            };
            in_tx += rows.len();
            bind_rows(sqlx::query(AssertSqlSafe(sql)), rows)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        progress(&generator, &mut shown);
    }
    for (name, sql) in indexes {
        let started = Instant::now();
        sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(pool)
            .await?;
        eprintln!("index {name}: {:.0} s", started.elapsed().as_secs_f64());
    }
    Ok(())
}
