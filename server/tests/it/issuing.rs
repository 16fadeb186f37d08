//! Issuing secure cards (issue 15): the issuing station's service writes a blank card
//! with the site's current keys, reads it back as a door would and only then stores an
//! active `secure` credential; re-key after a rotation; wipe revokes; every operation in
//! the operator log. The station is a DESFire card in memory (the desk reader through
//! pcscd is tested end to end).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use crate::card_keys::with_kek;
use crate::common::{TestApp, TestDb, error_of, expect, invalid};
use crate::support::site_model::site;
use gatehouse_core::model::{CardKind, CredentialState, Holder, PersonKind};
use gatehouse_desfire::app::SiteKeys;
use gatehouse_desfire::app::door::{self, DoorRead};
use gatehouse_desfire::app::station::StationError;
use gatehouse_desfire::card::Card;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::{AesKey, Error};
use gatehouse_server::cards::CardKeyring;
use gatehouse_server::issuing::service::{self, IssueError, IssueRequest, Station};
use gatehouse_server::store::{Actor, NewCredential, NewPerson, NewVersion, Store};
use rand::rngs::OsRng;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

const UID: [u8; 7] = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];

/// A card in memory, laid on a desk reader.
#[derive(Clone)]
struct Desk(Arc<Mutex<Card>>);

impl Desk {
    fn blank(random_id: bool) -> Desk {
        Desk(Arc::new(Mutex::new(
            Card::new(&UID).unwrap().with_random_id(random_id),
        )))
    }

    /// The card taken off the reader and laid on it again.
    fn again(&self) -> Desk {
        self.0.lock().unwrap().reset();
        self.clone()
    }

    /// What a door holding `keys` reads from this card.
    fn door_read(&self, keys: &[SiteKeys]) -> Result<DoorRead, Error> {
        let desk = self.again();
        let seen = desk.seen_uid();
        let mut card = desk.0.lock().unwrap();
        let mut pcd = Pcd::new(|apdu: &[u8]| Ok(card.process(apdu, &mut OsRng)));
        door::read(&mut pcd, &seen, keys, &mut OsRng)
    }
}

impl Station for Desk {
    fn reader(&self) -> String {
        "Desk reader 00".into()
    }
    fn seen_uid(&self) -> Vec<u8> {
        self.0.lock().unwrap().anticollision_uid(&mut OsRng)
    }
    fn transceive(&mut self, apdu: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.0.lock().unwrap().process(apdu, &mut OsRng))
    }
}

struct Site {
    store: Store,
    ring: CardKeyring,
    site_id: Uuid,
    person_id: Uuid,
    _dir: tempfile::TempDir,
}

async fn site_with_keys(db: &TestDb, keys: bool) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let settings = with_kek(db, &dir);
    let store = db.store().await;
    let ring = CardKeyring::open(&settings.cards, &settings.database, store.clone())
        .await
        .unwrap();
    let site_id = site(&store, "HQ").await.id;
    if keys {
        ring.add_version(site_id, NewVersion::First, &Actor::cli())
            .await
            .unwrap();
    }
    let person = NewPerson {
        name: "Ada Byron".into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 1,
    };
    let person_id = store.create_person(person, &Actor::cli()).await.unwrap().id;
    Site {
        store,
        ring,
        site_id,
        person_id,
        _dir: dir,
    }
}

impl Site {
    fn request(&self) -> IssueRequest {
        IssueRequest {
            person_id: self.person_id,
            site_id: self.site_id,
            valid_from: None,
            valid_until: None,
        }
    }

    /// What a door of the site holds for `version`.
    async fn door_keys(&self, version: u8) -> SiteKeys {
        let keys = self
            .ring
            .site_keys(self.site_id, version)
            .await
            .unwrap()
            .unwrap();
        SiteKeys {
            site_id: *self.site_id.as_bytes(),
            version,
            read: AesKey::new(*keys.read),
            uid: AesKey::new(*keys.uid),
        }
    }

    async fn issue(
        &self,
        desk: &Desk,
    ) -> Result<gatehouse_server::store::CredentialRecord, IssueError> {
        service::issue(
            &self.store,
            &self.ring,
            desk.again(),
            self.request(),
            &Actor::cli(),
        )
        .await
    }

    async fn logged(&self, action: &str) -> Vec<serde_json::Value> {
        let log = self.store.list_operator_log(None, 1000).await.unwrap();
        log.into_iter()
            .filter(|e| e.action == action)
            .map(|e| e.after.map(|j| j.0).unwrap_or_default())
            .collect()
    }
}

fn authentic(site: Uuid, version: u8) -> DoorRead {
    DoorRead::Authentic {
        uid: UID.to_vec(),
        site_id: *site.as_bytes(),
        version,
    }
}

async fn an_issued_card_is_read_back_and_becomes_an_active_secure_credential(db: &TestDb) {
    let s = site_with_keys(db, true).await;
    for random_id in [false, true] {
        let desk = Desk::blank(random_id);
        if random_id {
            // The first card holds the UID now: the second needs another holder's card.
            let c = s
                .store
                .credential_by_card(&hex::encode_upper(UID))
                .await
                .unwrap();
            let revoke = gatehouse_server::store::CredentialChange {
                state: Some(CredentialState::Revoked),
                ..Default::default()
            };
            s.store
                .update_credential(c.unwrap().id, revoke, &Actor::cli())
                .await
                .unwrap();
        }
        let credential = s.issue(&desk).await.unwrap();
        assert_eq!(credential.card, hex::encode_upper(UID), "the real UID");
        assert_eq!(
            (credential.kind, credential.state, credential.person_id),
            (CardKind::Secure, CredentialState::Active, Some(s.person_id))
        );
        let keys = s.door_keys(1).await;
        assert_eq!(desk.door_read(&[keys]).unwrap(), authentic(s.site_id, 1));
    }
    let logged = s.logged("card.issue").await;
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0]["key_version"], 1);
    assert_eq!(logged[0]["reader"], "Desk reader 00");
    assert_eq!(logged[0]["card"], hex::encode_upper(UID));
}

async fn nothing_is_written_or_stored_without_keys_a_holder_or_a_blank_card(db: &TestDb) {
    let s = site_with_keys(db, false).await;
    let desk = Desk::blank(false);
    let err = s.issue(&desk).await.unwrap_err();
    assert!(matches!(err, IssueError::NoKeys(_)), "{err:?}");
    s.ring
        .add_version(s.site_id, NewVersion::First, &Actor::cli())
        .await
        .unwrap();
    let keys = s.door_keys(1).await;
    assert_eq!(
        desk.door_read(std::slice::from_ref(&keys)).unwrap(),
        DoorRead::NoApplication
    );

    let nobody = IssueRequest {
        person_id: Uuid::now_v7(),
        ..s.request()
    };
    let err = service::issue(&s.store, &s.ring, desk.again(), nobody, &Actor::cli()).await;
    assert!(err.is_err());
    assert_eq!(
        desk.door_read(std::slice::from_ref(&keys)).unwrap(),
        DoorRead::NoApplication
    );

    s.issue(&desk).await.unwrap();
    let err = s.issue(&desk).await.unwrap_err();
    assert!(
        matches!(err, IssueError::Station(StationError::AlreadyIssued)),
        "{err:?}"
    );
    assert!(s.logged("card.issue").await.len() == 1);
}

/// A card whose UID already has a live credential cannot get a second one: the card the
/// station just wrote is wiped again, so no keyed card is left without a credential.
async fn a_card_that_cannot_be_stored_is_wiped_again(db: &TestDb) {
    let s = site_with_keys(db, true).await;
    let uid_card = NewCredential {
        card: hex::encode_upper(UID),
        kind: CardKind::Uid,
        holder: Holder::Person(s.person_id),
        valid_from: None,
        valid_until: None,
        pin: None,
    };
    s.store
        .create_credential(uid_card, &Actor::cli())
        .await
        .unwrap();
    let desk = Desk::blank(false);
    assert!(s.issue(&desk).await.is_err());
    let keys = s.door_keys(1).await;
    assert_eq!(desk.door_read(&[keys]).unwrap(), DoorRead::NoApplication);
    assert!(s.logged("card.issue").await.is_empty());
}

async fn a_rotation_then_rekey_moves_the_card_and_wipe_revokes_it(db: &TestDb) {
    let s = site_with_keys(db, true).await;
    let desk = Desk::blank(true);
    let credential = s.issue(&desk).await.unwrap();
    s.ring
        .add_version(s.site_id, NewVersion::Rotate, &Actor::cli())
        .await
        .unwrap();
    let (v1, v2) = (s.door_keys(1).await, s.door_keys(2).await);
    assert_eq!(
        desk.door_read(std::slice::from_ref(&v2)).unwrap_err(),
        Error::NotAuthentic
    );
    let rekeyed = service::rekey(&s.store, &s.ring, desk.again(), s.site_id, &Actor::cli()).await;
    assert_eq!(rekeyed.unwrap().map(|c| c.id), Some(credential.id));
    assert_eq!(
        desk.door_read(std::slice::from_ref(&v2)).unwrap(),
        authentic(s.site_id, 2)
    );
    assert_eq!(
        desk.door_read(std::slice::from_ref(&v1)).unwrap_err(),
        Error::NotAuthentic
    );
    assert_eq!(s.logged("card.rekey").await[0]["key_version"], 2);

    let wiped = service::wipe(&s.store, &s.ring, desk.again(), s.site_id, &Actor::cli()).await;
    let wiped = wiped.unwrap().unwrap();
    assert_eq!(
        (wiped.id, wiped.state),
        (credential.id, CredentialState::Revoked)
    );
    assert_eq!(desk.door_read(&[v2]).unwrap(), DoorRead::NoApplication);
    assert_eq!(s.logged("card.wipe").await.len(), 1);
    // A wiped card can be issued again.
    let again = s.issue(&desk).await.unwrap();
    assert_ne!(again.id, credential.id);
}

/// The API checks the person, the site and its keys, and the window before asking for a
/// card; without a desk reader in this build it says so (409) and starts nothing.
async fn the_api_checks_before_asking_for_a_card(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(with_kek(db, &dir)).await;
    let admin = app.admin_token().await;
    let (site, _) = crate::agents::support::door(&app, &admin, "HQ").await;
    let body = json!({"name": "Ada Byron", "kind": "staff", "clearance": 1});
    let person = expect(
        app.post("/api/v1/people", &admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let issue = format!(
        "/api/v1/people/{}/secure-cards",
        person["id"].as_str().unwrap()
    );
    let no_keys = app.post(&issue, &admin, json!({"site_id": site})).await;
    assert_eq!(no_keys.status(), StatusCode::CONFLICT);
    assert!(
        error_of(no_keys).await["message"]
            .as_str()
            .unwrap()
            .contains("card keys")
    );
    let keys = app
        .post(
            &format!("/api/v1/sites/{site}/card-keys"),
            &admin,
            json!({}),
        )
        .await;
    expect(keys, StatusCode::CREATED).await;

    let nobody = format!("/api/v1/people/{}/secure-cards", Uuid::now_v7());
    let r = app.post(&nobody, &admin, json!({"site_id": site})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .post(&issue, &admin, json!({"site_id": Uuid::now_v7()}))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let window = json!({"site_id": site, "valid_from": "2027-01-02T00:00:00Z",
        "valid_until": "2027-01-01T00:00:00Z"});
    invalid(app.post(&issue, &admin, window).await, "valid_until").await;
    let r = app
        .get(&format!("/api/v1/desk-jobs/{}", Uuid::now_v7()), &admin)
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    #[cfg(not(feature = "pcsc"))]
    for path in [
        issue.clone(),
        format!("/api/v1/sites/{site}/secure-cards/rekey"),
        format!("/api/v1/sites/{site}/secure-cards/wipe"),
    ] {
        let r = app.post(&path, &admin, json!({"site_id": site})).await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{path}");
        let message = error_of(r).await["message"].as_str().unwrap().to_owned();
        assert!(message.contains("no desk reader"), "{message}");
    }
    app.stop().await;
}

conformance!(
    an_issued_card_is_read_back_and_becomes_an_active_secure_credential,
    nothing_is_written_or_stored_without_keys_a_holder_or_a_blank_card,
    a_card_that_cannot_be_stored_is_wiped_again,
    a_rotation_then_rekey_moves_the_card_and_wipe_revokes_it,
    the_api_checks_before_asking_for_a_card,
);
