//! `gatehouse cards …`: the issuing station on the server machine's desk reader.
//!
//! `issue` writes a blank DESFire card for a person with the site's current keys and
//! stores the credential once the card read back; `rekey` brings an issued card to the
//! current keys (after a rotation); `wipe` removes the application and revokes the
//! credential. People and sites are named by name (or id). Needs the `pcsc` feature.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use uuid::Uuid;

use super::IssuingSettings;
use super::service::{self, IssueRequest};
use crate::cards::CardKeyring;
use crate::config::Settings;
use crate::store::{Actor, Store};

#[derive(Subcommand)]
pub enum CardsCommand {
    /// Issue the blank DESFire card on the desk reader to a person: creates the
    /// application, writes the site's keys (diversified for the card) and the record,
    /// reads it back, then stores the active secure credential.
    Issue {
        /// The holder: the person's name (exact) or id.
        #[arg(long)]
        person: String,
        #[command(flatten)]
        target: Target,
        /// Start of validity (RFC 3339).
        #[arg(long)]
        valid_from: Option<DateTime<Utc>>,
        /// End of validity (RFC 3339).
        #[arg(long)]
        valid_until: Option<DateTime<Utc>>,
    },
    /// Re-key the issued card on the desk reader to the site's current key version.
    Rekey {
        #[command(flatten)]
        target: Target,
    },
    /// Wipe the issued card on the desk reader and revoke its credential.
    Wipe {
        #[command(flatten)]
        target: Target,
    },
}

/// The site whose keys to use, and the desk reader.
#[derive(Args)]
pub struct Target {
    /// The site: its name (exact) or id.
    #[arg(long)]
    site: String,
    /// The desk reader's PC/SC name (default: `[issuing] desk_reader`, else the only
    /// reader).
    #[arg(long)]
    reader: Option<String>,
    /// Seconds to wait for a card on the reader.
    #[arg(long, default_value_t = 60)]
    wait: u64,
}

/// Runs a `cards` command against the configured database and KEK.
pub async fn run(settings: &Settings, command: CardsCommand) -> anyhow::Result<()> {
    let store = Store::open(&settings.database).await?;
    let result = async {
        let ring = CardKeyring::open(&settings.cards, &settings.database, store.clone()).await?;
        run_with(&store, &ring, command, &settings.issuing).await
    }
    .await;
    store.close().await;
    result
}

async fn run_with(
    store: &Store,
    ring: &CardKeyring,
    command: CardsCommand,
    desk: &IssuingSettings,
) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match command {
        CardsCommand::Issue {
            person,
            target,
            valid_from,
            valid_until,
        } => {
            let person = find_person(store, &person).await?;
            let site = find_site(store, &target.site).await?;
            let request = IssueRequest {
                person_id: person.0,
                site_id: site.0,
                valid_from,
                valid_until,
            };
            eprintln!("Lay a blank DESFire card on the desk reader…");
            let station = station(&target, desk).await?;
            let credential = service::issue(store, ring, station, request, &actor).await?;
            println!(
                "Issued secure card {} to {} for {}; the credential is active.",
                credential.card, person.1, site.1
            );
        }
        CardsCommand::Rekey { target } => {
            let site = find_site(store, &target.site).await?;
            eprintln!("Lay the card to re-key on the desk reader…");
            let station = station(&target, desk).await?;
            let credential = service::rekey(store, ring, station, site.0, &actor).await?;
            let card = credential.map_or_else(|| "(no credential)".to_owned(), |c| c.card);
            println!("Re-keyed card {card} to the current keys of {}.", site.1);
        }
        CardsCommand::Wipe { target } => {
            let site = find_site(store, &target.site).await?;
            eprintln!("Lay the card to wipe on the desk reader…");
            let station = station(&target, desk).await?;
            match service::wipe(store, ring, station, site.0, &actor).await? {
                Some(c) => println!("Wiped card {}; its credential is revoked.", c.card),
                None => println!("Wiped the card; it had no credential."),
            }
        }
    }
    Ok(())
}

/// A person by id or exact name: (id, name).
async fn find_person(store: &Store, wanted: &str) -> anyhow::Result<(Uuid, String)> {
    if let Ok(id) = wanted.parse::<Uuid>() {
        let person = store.person(id).await?;
        return Ok((person.id, person.name));
    }
    let found = store.list_people(None, Some(wanted), 100).await?;
    let exact: Vec<_> = found.iter().filter(|p| p.name == wanted).collect();
    match exact[..] {
        [person] => Ok((person.id, person.name.clone())),
        [] => anyhow::bail!("no person is named {wanted:?}"),
        _ => anyhow::bail!("several people are named {wanted:?}: give the person's id"),
    }
}

/// A site by id or exact name: (id, name).
async fn find_site(store: &Store, wanted: &str) -> anyhow::Result<(Uuid, String)> {
    let sites = store.list_sites(None, 1000).await?;
    let by_id = wanted.parse::<Uuid>().ok();
    let found: Vec<_> = sites
        .iter()
        .filter(|s| Some(s.id) == by_id || s.name == wanted)
        .collect();
    match found[..] {
        [site] => Ok((site.id, site.name.clone())),
        [] => anyhow::bail!("no site is named {wanted:?}"),
        _ => anyhow::bail!("several sites are named {wanted:?}: give the site's id"),
    }
}

#[cfg(feature = "pcsc")]
async fn station(
    target: &Target,
    desk: &IssuingSettings,
) -> anyhow::Result<super::desk::DeskStation> {
    let reader = target.reader.clone().or_else(|| desk.desk_reader.clone());
    let wait = std::time::Duration::from_secs(target.wait);
    let station = tokio::task::spawn_blocking(move || {
        super::desk::DeskStation::wait(reader.as_deref(), wait)
    })
    .await??;
    Ok(station)
}

#[cfg(not(feature = "pcsc"))]
async fn station(
    _target: &Target,
    _desk: &IssuingSettings,
) -> anyhow::Result<std::convert::Infallible> {
    anyhow::bail!(
        "this gatehouse was built without a desk reader: build it with \
         `cargo build --release -p gatehouse-server --features pcsc` (needs libpcsclite-dev)"
    )
}

/// No desk reader in this build: a station that cannot exist.
#[cfg(not(feature = "pcsc"))]
impl super::Station for std::convert::Infallible {
    fn reader(&self) -> String {
        match *self {}
    }
    fn seen_uid(&self) -> Vec<u8> {
        match *self {}
    }
    fn transceive(&mut self, _: &[u8]) -> Result<Vec<u8>, gatehouse_desfire::Error> {
        match *self {}
    }
}
