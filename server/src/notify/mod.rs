//! Notifications: the visitor's invitation email and the host's arrival notice, by email
//! (SMTP) and by a signed webhook (issue 13 item 3).
//!
//! An outbox (`store::notifications`): the visit flow builds the messages here
//! ([`Notifier::invitation`], [`Notifier::arrival`]), enqueues them in its own transaction
//! (`Db::enqueue_notification`) and, after the commit, calls [`Notifier::wake`]. The
//! [`worker`] sends what is due, records each attempt's result, retries with doubling
//! backoff up to `notify.max_attempts`, then marks the notification failed, where the
//! console and `GET /notifications` show it and an operator may retry it. Why an outbox
//! rather than sending in the request: a slow or down mail server never delays or fails
//! a check-in, nothing is lost when the server stops mid-send (the claim is a lease), and
//! every attempt is on record.

pub mod content;
pub mod ics;
pub mod send;
pub mod settings;
pub mod worker;

pub use content::{Arrival, ContentError, Invitation};
pub use settings::NotifySettings;

use crate::store::notifications::{Channel, NewNotification, NotificationKind};
use chrono::Utc;
use lettre::message::Mailbox;
use uuid::Uuid;

/// Builds notifications and wakes the worker. Held in `AppState`.
pub struct Notifier {
    settings: NotifySettings,
    from: Mailbox,
    wake: tokio::sync::Notify,
}

impl Notifier {
    /// From validated settings. Without SMTP, emails name `gatehouse@localhost` as their
    /// sender; they are recorded as failed ("SMTP not configured") and never leave.
    pub fn new(settings: NotifySettings) -> Notifier {
        let from = settings.from().unwrap_or_else(|| {
            Mailbox::new(
                None,
                lettre::Address::new_dangerous("gatehouse", "localhost"),
            )
        });
        Notifier {
            settings,
            from,
            wake: tokio::sync::Notify::new(),
        }
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    /// Tells the worker something was enqueued (call after the commit). A wake while the
    /// worker is busy is kept for its next wait, never lost.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Notifier::wake`].
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// The visitor's invitation email, ready to enqueue. When it cannot be built (the
    /// visitor's address is not valid) it is enqueued all the same, to fail visibly.
    pub fn invitation(&self, invitation: &Invitation) -> NewNotification {
        let id = Uuid::now_v7();
        let built = content::invitation_email(invitation, &self.from, id, Utc::now());
        let (subject, message) = match built {
            Ok(email) => (email.subject, email.message),
            Err(error) => (
                format!("Invitation to {}", invitation.site_name),
                unbuilt(&error),
            ),
        };
        NewNotification {
            id,
            kind: NotificationKind::Invitation,
            channel: Channel::Email,
            recipient: invitation.visitor_email.trim().to_owned(),
            endpoint: None,
            subject,
            visit_id: Some(invitation.visit_id),
            message,
        }
    }

    /// The host's arrival notices, ready to enqueue: one email, and one webhook per
    /// `notify.webhook.urls`.
    pub fn arrival(&self, arrival: &Arrival) -> Vec<NewNotification> {
        let id = Uuid::now_v7();
        let subject = content::arrival_subject(arrival);
        let message = match content::arrival_email(arrival, &self.from, id, Utc::now()) {
            Ok(email) => email.message,
            Err(error) => unbuilt(&error),
        };
        let mut all = vec![NewNotification {
            id,
            kind: NotificationKind::Arrival,
            channel: Channel::Email,
            recipient: arrival
                .host_email
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            endpoint: None,
            subject: subject.clone(),
            visit_id: Some(arrival.visit_id),
            message,
        }];
        for url in &self.settings.webhook.urls {
            let id = Uuid::now_v7();
            let host = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            all.push(NewNotification {
                id,
                kind: NotificationKind::Arrival,
                channel: Channel::Webhook,
                recipient: host,
                endpoint: Some(url.clone()),
                subject: subject.clone(),
                visit_id: Some(arrival.visit_id),
                message: content::arrival_webhook(arrival, id),
            });
        }
        all
    }
}

/// An email that could not be built (its address is not valid: the error names it, so it
/// is not logged) is stored as an empty message, which the worker fails for good.
fn unbuilt(_: &ContentError) -> Vec<u8> {
    Vec::new()
}
