//! The per-site snapshot cache: the same (version, sites) gives the same bytes, built
//! once; a version bump gives a new snapshot and drops the old ones; the limits evict
//! the least recently used.

use super::cache::{Key, SnapshotCache};
use super::*;
use crate::store::DatabaseSettings;
use crate::store::{Actor, NewSite, SiteChange};
use std::time::Duration;

async fn service() -> (PolicyService, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = DatabaseSettings {
        url: format!("sqlite://{}/gatehouse.db", dir.path().display()),
        max_connections: 5,
    };
    let store = Store::open(&settings).await.unwrap();
    let service = PolicyService::load(store.clone(), Settings::default())
        .await
        .unwrap();
    (service, store, dir)
}

async fn site(store: &Store, name: &str) -> Uuid {
    let new = NewSite {
        name: name.into(),
        timezone: "Europe/Berlin".into(),
        secure_cards_from_threat_level: None,
    };
    store.create_site(new, &Actor::cli()).await.unwrap().id
}

#[tokio::test]
async fn same_version_and_sites_give_the_same_bytes_and_a_bump_gives_new_ones() {
    let (service, store, _dir) = service().await;
    let (hq, plant) = (site(&store, "HQ").await, site(&store, "Plant").await);
    let key = service.public_key();
    let only_hq = BTreeSet::from([hq]);

    let first = service.snapshot_for_sites(&only_hq).await.unwrap();
    let second = service.snapshot_for_sites(&only_hq).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(
        first.bytes().as_ptr(),
        second.bytes().as_ptr(),
        "served from the cache, not built again"
    );
    let policy = first.verify(&key, 0).unwrap();
    assert_eq!(policy.version(), first.version);
    assert_eq!(
        policy
            .source()
            .sites
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        vec![hq]
    );
    let version = u64::try_from(store.policy_version().await.unwrap()).unwrap();
    assert_eq!(first.version, version);

    let both = service
        .snapshot_for_sites(&BTreeSet::from([hq, plant]))
        .await
        .unwrap();
    assert_ne!(both.bytes(), first.bytes(), "other sites, other snapshot");
    assert_eq!(service.cached_site_snapshots().0, 2);

    let change = SiteChange {
        name: Some("Headquarters".into()),
        ..SiteChange::default()
    };
    store.update_site(hq, change, &Actor::cli()).await.unwrap();
    let bumped = service.snapshot_for_sites(&only_hq).await.unwrap();
    assert!(bumped.version > first.version, "{bumped:?}");
    assert_ne!(bumped.bytes(), first.bytes());
    let policy = bumped.verify(&key, first.version + 1).unwrap();
    assert_eq!(policy.source().sites[0].name, "Headquarters");
    assert_eq!(
        service.cached_site_snapshots(),
        (1, bumped.len()),
        "the old version's snapshots are gone"
    );
    let again = service.snapshot_for_sites(&only_hq).await.unwrap();
    assert_eq!(again.bytes().as_ptr(), bumped.bytes().as_ptr());
}

#[tokio::test]
async fn concurrent_requests_for_the_same_sites_share_one_build() {
    let (service, store, _dir) = service().await;
    let sites = BTreeSet::from([site(&store, "HQ").await]);
    let service = Arc::new(service);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (service, sites) = (service.clone(), sites.clone());
            tokio::spawn(async move { service.snapshot_for_sites(&sites).await.unwrap() })
        })
        .collect();
    let mut pointers = BTreeSet::new();
    for task in tasks {
        pointers.insert(task.await.unwrap().bytes().as_ptr() as usize);
    }
    assert_eq!(pointers.len(), 1, "one build, shared by all");
}

const HOUR: Duration = Duration::from_secs(3600);

fn snapshot(version: u64, len: usize) -> SiteSnapshot {
    SiteSnapshot {
        version,
        from_version: None,
        bytes: Bytes::from(vec![0; len]),
    }
}

fn sites(n: u128) -> Key {
    Key {
        sites: BTreeSet::from([Uuid::from_u128(n)]),
        from: None,
    }
}

#[test]
fn the_limits_evict_the_least_recently_used_and_never_the_newest() {
    let cache = SnapshotCache::with_limits(250, 3, HOUR);
    for n in 1..=2 {
        cache
            .cell(7, &sites(n))
            .unwrap()
            .set(Some(snapshot(7, 100)))
            .unwrap();
        cache.trim(7, &sites(n));
    }
    assert_eq!(cache.usage(), (2, 200));
    // Site set 1 is used again, so 2 is now the least recently used.
    assert!(cache.cell(7, &sites(1)).unwrap().initialized());
    cache
        .cell(7, &sites(3))
        .unwrap()
        .set(Some(snapshot(7, 100)))
        .unwrap();
    cache.trim(7, &sites(3));
    assert_eq!(cache.usage(), (2, 200));
    assert!(cache.cell(7, &sites(1)).unwrap().initialized());
    assert!(!cache.cell(7, &sites(2)).unwrap().initialized(), "evicted");

    // One snapshot over the whole budget is still kept: it is being served anyway.
    cache
        .cell(7, &sites(4))
        .unwrap()
        .set(Some(snapshot(7, 1000)))
        .unwrap();
    cache.trim(7, &sites(4));
    assert_eq!(cache.usage(), (1, 1000));

    // A newer version empties the cache; an older one is not cached at all.
    assert!(!cache.cell(8, &sites(4)).unwrap().initialized());
    assert_eq!(cache.usage(), (0, 0));
    assert!(cache.cell(7, &sites(4)).is_none());
}

#[test]
fn the_count_limit_holds_too() {
    let cache = SnapshotCache::with_limits(usize::MAX, 2, HOUR);
    for n in 1..=5 {
        cache
            .cell(1, &sites(n))
            .unwrap()
            .set(Some(snapshot(1, 10)))
            .unwrap();
        cache.trim(1, &sites(n));
    }
    assert_eq!(cache.usage(), (2, 20));
    assert!(cache.cell(1, &sites(5)).unwrap().initialized());
    assert!(cache.cell(1, &sites(4)).unwrap().initialized());
}

#[test]
fn a_snapshot_older_than_the_maximum_age_is_made_again() {
    let cache = SnapshotCache::with_limits(usize::MAX, 8, Duration::ZERO);
    let cell = cache.cell(1, &sites(1)).unwrap();
    assert!(
        Arc::ptr_eq(&cell, &cache.cell(1, &sites(1)).unwrap()),
        "an empty cell is waited on, not replaced"
    );
    cell.set(Some(snapshot(1, 10))).unwrap();
    std::thread::sleep(Duration::from_millis(2));
    assert!(!cache.cell(1, &sites(1)).unwrap().initialized());
}
