//! A site with an outside, a lobby and a lab inside it, two doors, an agent for both,
//! two people and a visitor; and presentations uploaded as the agent would.

use chrono::{DateTime, Duration, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{
    DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, ReleasedEntryRecord, chain_hash,
};
use gatehouse_core::model::{DoorMode, PersonKind};
use gatehouse_server::store::{
    Actor, NewAgent, NewDoor, NewPerson, NewSite, NewVisit, NewZone, Store, UploadRecord,
    ZoneRules, now,
};
use uuid::Uuid;

pub struct Site {
    pub store: Store,
    pub site: Uuid,
    pub street: Uuid,
    pub lobby: Uuid,
    pub lab: Uuid,
    pub front: Uuid,
    pub lab_door: Uuid,
    pub ada: Uuid,
    pub bo: Uuid,
    pub visit: Uuid,
    agent: Uuid,
    next_seq: u64,
    previous: [u8; 32],
    pub t0: DateTime<Utc>,
}

async fn zone(store: &Store, site: Uuid, parent: Option<Uuid>, name: &str, level: u8) -> Uuid {
    let new = NewZone {
        site_id: site,
        parent_id: parent,
        name: name.into(),
        level,
        rules: ZoneRules::default(),
    };
    store.create_zone(new, &Actor::cli()).await.unwrap().id
}

async fn door(store: &Store, name: &str, from: Uuid, to: Uuid) -> Uuid {
    let new = NewDoor {
        name: name.into(),
        from_zone_id: from,
        to_zone_id: to,
        mode: DoorMode::Normal,
        unlock_ms: 5000,
        held_open_ms: 30000,
    };
    store.create_door(new, &Actor::cli()).await.unwrap().id
}

async fn person(store: &Store, name: &str) -> Uuid {
    let new = NewPerson {
        name: name.into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 1,
    };
    store.create_person(new, &Actor::cli()).await.unwrap().id
}

impl Site {
    pub async fn create(store: Store) -> Site {
        let site = NewSite {
            name: "HQ".into(),
            timezone: "UTC".into(),
            secure_cards_from_threat_level: None,
        };
        let site = store.create_site(site, &Actor::cli()).await.unwrap().id;
        let street = zone(&store, site, None, "Street", 0).await;
        let lobby = zone(&store, site, None, "Lobby", 0).await;
        let lab = zone(&store, site, Some(lobby), "Lab", 0).await;
        let front = door(&store, "Front", street, lobby).await;
        let lab_door = door(&store, "Lab door", lobby, lab).await;
        let ada = person(&store, "Ada").await;
        let bo = person(&store, "=Bo<script>").await;
        let visit = store
            .create_visit(
                NewVisit {
                    visitor_name: "Vera".into(),
                    visitor_organisation: Some("Acme Ltd".into()),
                    host_person_id: ada,
                    window_start: now() - Duration::hours(1),
                    window_end: now() + Duration::hours(8),
                    allowed_zone_ids: [lobby].into(),
                    escort_required: false,
                    ..Default::default()
                },
                &Actor::cli(),
            )
            .await
            .unwrap()
            .id;
        store.check_in_visit(visit, &Actor::cli()).await.unwrap();
        let agent = store
            .create_agent(
                NewAgent {
                    name: "agent".into(),
                    door_ids: vec![front, lab_door],
                    code_hash: b"code".to_vec(),
                    code_expires_at: now() + Duration::minutes(15),
                },
                &Actor::cli(),
            )
            .await
            .unwrap()
            .id;
        Site {
            store,
            site,
            street,
            lobby,
            lab,
            front,
            lab_door,
            ada,
            bo,
            visit,
            agent,
            next_seq: 1,
            previous: GENESIS_HASH,
            t0: now() - Duration::minutes(30),
        }
    }

    /// Uploads one presentation by `holder` (a person, or the visit) at `door`, `minute`
    /// minutes after `t0`.
    pub async fn badge(
        &mut self,
        holder: Uuid,
        door: Uuid,
        direction: Direction,
        outcome: Outcome,
        minute: i64,
    ) -> u64 {
        let visitor = holder == self.visit;
        let event = DoorEvent {
            occurred_at: self.t0 + Duration::minutes(minute),
            door_id: Some(door),
            kind: EventKind::Presentation(PresentationRecord {
                reader: "r".into(),
                card: "0A".into(),
                direction,
                outcome,
                reason: if outcome == Outcome::Granted {
                    Reason::Granted
                } else {
                    Reason::NoGrant
                },
                person_id: (!visitor).then_some(holder),
                visit_id: visitor.then_some(holder),
                credential_id: None,
                zone_id: None,
                alarms: vec![],
                policy_version: 1,
                trace: None,
            }),
        };
        self.upload(event).await
    }

    /// Uploads `event` as the agent's next record; returns its sequence number.
    pub async fn upload(&mut self, event: DoorEvent) -> u64 {
        let payload = event.encode().unwrap();
        let seq = self.next_seq;
        let hash = chain_hash(&self.previous, seq, &payload);
        self.previous = hash;
        self.next_seq += 1;
        let record = UploadRecord {
            seq,
            payload,
            hash,
            event,
        };
        self.store
            .ingest_events(self.agent, &[record], 0)
            .await
            .unwrap();
        seq
    }

    /// Uploads the entry of `holder` (a person, or the visit), who waited at `door`,
    /// released by `by`'s presentation journalled as `by_seq`, `minute` minutes after
    /// `t0`, as the agent journals it.
    pub async fn released(&mut self, holder: Uuid, by: Uuid, by_seq: u64, door: Uuid, minute: i64) {
        let visitor = holder == self.visit;
        let event = DoorEvent {
            occurred_at: self.t0 + Duration::minutes(minute),
            door_id: Some(door),
            kind: EventKind::ReleasedEntry(ReleasedEntryRecord {
                reader: "r".into(),
                card: Some("0B".into()),
                waited_for: if visitor {
                    Reason::EscortRequired
                } else {
                    Reason::SecondPersonRequired
                },
                person_id: (!visitor).then_some(holder),
                visit_id: visitor.then_some(holder),
                credential_id: Uuid::now_v7(),
                zone_id: None,
                released_by: by,
                released_by_credential: None,
                release_of: by_seq,
                policy_version: 1,
            }),
        };
        self.upload(event).await;
    }

    pub async fn in_zone(&self, zone: Uuid) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self
            .store
            .zone_occupants(zone)
            .await
            .unwrap()
            .iter()
            .map(|o| o.holder_id)
            .collect();
        ids.sort();
        ids
    }

    pub async fn in_site(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self
            .store
            .site_occupants(self.site)
            .await
            .unwrap()
            .iter()
            .map(|o| o.holder_id)
            .collect();
        ids.sort();
        ids
    }
}

pub fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}
