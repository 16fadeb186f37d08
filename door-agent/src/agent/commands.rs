//! Operators' remote door commands (`POST /api/v1/agent/commands`, a long-poll): each
//! command is journalled at its door as a `remote_command` event naming the operator,
//! durably, before the door acts (as a card's grant is), then executed, and reported
//! done in the next poll. The server hands out only commands for this agent's own doors
//! and not yet expired; a command handed out again (its "done" lost) is not executed
//! twice.
//!
//! A release is a grant of `seconds` at the door (the lock relocks when the door closes
//! after opening, or when the time is up). A mode is an override on the policy (see
//! `policy_sync`), so the decision engine and the door both follow it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind, RemoteCommandRecord};
use gatehouse_core::protocol::{CommandAction, CommandPage, CommandPoll, DoorCommand};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::backoff::Backoff;
use super::doors::send;
use super::journal_cell::JournalCell;
use super::policy_sync::{PolicyState, without_url};
use crate::door::{Input, InputSink};

/// How long one poll waits for a command (the server's longest).
const WAIT_S: u64 = 25;
/// Command ids remembered as executed.
const REMEMBERED: usize = 1000;

/// What executing a command needs.
pub struct CommandContext {
    pub doors: BTreeMap<Uuid, InputSink>,
    pub journal: Arc<JournalCell>,
    pub policy: Arc<PolicyState>,
}

impl CommandContext {
    /// Journals and executes `command`; returns whether it may be reported done (it was
    /// executed, or can never be: its door is not driven here).
    pub async fn execute(&self, command: &DoorCommand) -> bool {
        let Some(door) = self.doors.get(&command.door_id) else {
            tracing::error!(door = %command.door_id, "remote command for a door not driven here");
            return true;
        };
        let event = DoorEvent {
            occurred_at: Utc::now(),
            door_id: Some(command.door_id),
            kind: EventKind::RemoteCommand(RemoteCommandRecord {
                command_id: command.id,
                operator_id: command.operator_id,
                operator: command.operator.clone(),
                action: command.action.clone().into(),
            }),
        };
        let journal = Arc::clone(&self.journal);
        let journalled = tokio::task::spawn_blocking(move || journal.append(&event)).await;
        if !matches!(journalled, Ok(Ok(_))) {
            // No unrecorded remote access: the door does not act.
            tracing::error!(command = %command.id, "REMOTE COMMAND NOT EXECUTED: it could not be journalled");
            return false;
        }
        tracing::info!(door = %command.door_id, operator = %command.operator,
            action = %command.action.describe(), "remote command");
        match &command.action {
            CommandAction::Release { seconds } => send(
                door,
                Input::Grant {
                    unlock_for: Duration::from_secs(u64::from(*seconds)),
                },
            ),
            CommandAction::SetMode { mode, until } => {
                self.policy
                    .set_override(command.door_id, *mode, *until)
                    .await;
                // Also without a policy in hand; with one, `follow_policy` sends the same.
                send(door, Input::SetMode(*mode));
            }
        }
        true
    }
}

/// Polls for commands until `stop` is cancelled.
pub async fn command_loop(
    ctx: Arc<CommandContext>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    stop: CancellationToken,
) {
    let url = format!("{}/api/v1/agent/commands", base_url.trim_end_matches('/'));
    let mut done: Vec<Uuid> = Vec::new();
    let mut seen: VecDeque<Uuid> = VecDeque::new();
    let mut backoff = Backoff::new();
    while !stop.is_cancelled() {
        let body = CommandPoll {
            done: done.clone(),
            wait_s: Some(WAIT_S),
        };
        let request = client
            .post(&url)
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(Duration::from_secs(WAIT_S + 15))
            .send();
        let Some(answer) = stop.run_until_cancelled(request).await else {
            return;
        };
        let page = match answer {
            Ok(r) if r.status().is_success() => {
                let Some(page) = stop.run_until_cancelled(r.json::<CommandPage>()).await else {
                    return;
                };
                page.map_err(|e| tracing::warn!(error = %without_url(&e), "commands unreadable"))
            }
            Ok(r) => {
                tracing::warn!(status = %r.status(), "the server refused the command poll");
                Err(())
            }
            Err(e) => {
                tracing::warn!(error = %without_url(&e), "server unreachable for commands");
                Err(())
            }
        };
        let Ok(page) = page else {
            if !backoff.wait(&stop).await {
                return;
            }
            continue;
        };
        backoff.reset();
        // The server has the last `done`: only what this answer brings is reported next.
        done.clear();
        for command in page.commands {
            if seen.contains(&command.id) {
                done.push(command.id);
                continue;
            }
            seen.push_back(command.id);
            if seen.len() > REMEMBERED {
                seen.pop_front();
            }
            if ctx.execute(&command).await {
                done.push(command.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::model::{AntiPassback, Door, DoorMode, Site, ThreatLevel, Zone};
    use gatehouse_core::policy::{PolicySource, generate_key, sign};
    use std::sync::mpsc;

    const DOOR: Uuid = Uuid::from_u128(0x20);

    fn zone(id: u128) -> Zone {
        Zone {
            id: Uuid::from_u128(id),
            site_id: Uuid::from_u128(1),
            parent_id: None,
            level: 0,
            vetting_required: false,
            escort_required: false,
            two_person: false,
            pin_required: false,
            anti_passback: AntiPassback::Off,
            anti_passback_timeout_s: None,
            max_occupancy: None,
            min_assurance: Default::default(),
        }
    }

    /// A policy with one door in normal mode, on disk in `dir`, loaded.
    fn policy(dir: &std::path::Path) -> Arc<PolicyState> {
        let source = PolicySource {
            sites: vec![Site {
                id: Uuid::from_u128(1),
                name: "HQ".into(),
                timezone: serde_json::from_value(serde_json::json!("Europe/Berlin")).unwrap(),
                threat: ThreatLevel::default(),
                secure_cards_from_threat_level: None,
            }],
            zones: vec![zone(2), zone(3)],
            doors: vec![Door {
                id: DOOR,
                site_id: Uuid::from_u128(1),
                from_zone_id: Uuid::from_u128(2),
                to_zone_id: Uuid::from_u128(3),
                mode: DoorMode::Normal,
                unlock_ms: 5000,
                held_open_ms: 30_000,
            }],
            ..PolicySource::default()
        };
        let key = generate_key();
        let signed = sign(&source, 1, &key).unwrap();
        std::fs::write(dir.join("policy.snapshot"), signed.to_bytes().unwrap()).unwrap();
        Arc::new(PolicyState::load(dir, key.verifying_key()))
    }

    fn context(dir: &std::path::Path) -> (CommandContext, mpsc::Receiver<crate::door::TimedInput>) {
        let (tx, rx) = mpsc::channel();
        let journal = Arc::new(JournalCell::open(dir.join("journal")).unwrap());
        let ctx = CommandContext {
            doors: BTreeMap::from([(DOOR, tx)]),
            journal,
            policy: policy(dir),
        };
        (ctx, rx)
    }

    fn command(action: CommandAction) -> DoorCommand {
        DoorCommand {
            id: Uuid::from_u128(9),
            door_id: DOOR,
            action,
            operator_id: Uuid::from_u128(7),
            operator: "grace".into(),
            issued_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::seconds(10),
        }
    }

    fn mode_in_policy(ctx: &CommandContext) -> DoorMode {
        let current = ctx.policy.current.borrow();
        current.as_ref().unwrap().policy.door(DOOR).unwrap().mode
    }

    #[tokio::test]
    async fn a_release_is_journalled_naming_the_operator_then_sent_to_the_door() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, inputs) = context(dir.path());
        assert!(
            ctx.execute(&command(CommandAction::Release { seconds: 7 }))
                .await
        );
        let records = ctx.journal.pending(10).unwrap();
        let event = DoorEvent::decode(&records[0].payload).unwrap();
        assert_eq!(event.door_id, Some(DOOR));
        let EventKind::RemoteCommand(record) = event.kind else {
            panic!("{:?}", event.kind)
        };
        assert_eq!(
            (record.command_id, record.operator.as_str()),
            (Uuid::from_u128(9), "grace")
        );
        let input = inputs.try_recv().unwrap().input;
        assert_eq!(
            input,
            Input::Grant {
                unlock_for: Duration::from_secs(7)
            }
        );
        let last = ctx.journal.last_event(DOOR).unwrap();
        assert_eq!(
            (last.kind.as_str(), last.detail.as_deref()),
            ("remote_command", Some("release 7 s by grace"))
        );
    }

    #[tokio::test]
    async fn a_mode_override_rules_the_policy_until_its_time() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, inputs) = context(dir.path());
        let until = Utc::now() + chrono::Duration::seconds(60);
        let lock = CommandAction::SetMode {
            mode: DoorMode::Locked,
            until: Some(until),
        };
        assert!(ctx.execute(&command(lock)).await);
        assert_eq!(
            inputs.try_recv().unwrap().input,
            Input::SetMode(DoorMode::Locked)
        );
        assert_eq!(mode_in_policy(&ctx), DoorMode::Locked, "decisions see it");
        assert_eq!(
            ctx.policy.override_of(DOOR),
            Some((DoorMode::Locked, Some(until)))
        );
        assert!(!ctx.policy.expire_overrides(Utc::now()).await, "not yet");
        assert!(
            ctx.policy
                .expire_overrides(until + chrono::Duration::seconds(1))
                .await
        );
        assert_eq!(
            mode_in_policy(&ctx),
            DoorMode::Normal,
            "the policy's mode again"
        );
        // Without an end: until the next mode command; the policy's own mode clears it.
        let unlock = CommandAction::SetMode {
            mode: DoorMode::Unlocked,
            until: None,
        };
        ctx.execute(&command(unlock)).await;
        assert_eq!(mode_in_policy(&ctx), DoorMode::Unlocked);
        let normal = CommandAction::SetMode {
            mode: DoorMode::Normal,
            until: None,
        };
        ctx.execute(&command(normal)).await;
        assert_eq!(
            (mode_in_policy(&ctx), ctx.policy.override_of(DOOR)),
            (DoorMode::Normal, None)
        );
    }
}
