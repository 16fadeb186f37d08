//! What notifications say: the visitor's invitation (a multipart email with text, HTML, the
//! check-in code's QR as an inline PNG, and an .ics calendar event) and the host's arrival
//! notice (a short email, and a webhook's JSON). Pure functions of plain structs the visit
//! flow fills; times are shown in the site's zone, with its abbreviation.

use super::ics;
use crate::qr::QrMatrix;
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use gatehouse_core::local_time::in_zone;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use std::time::SystemTime;
use uuid::Uuid;

/// Everything the invitation says.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub visit_id: Uuid,
    pub visitor_name: String,
    pub visitor_email: String,
    pub host_name: String,
    pub site_name: String,
    /// The site's time zone: the email shows local times.
    pub tz: Tz,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub purpose: Option<String>,
    pub check_in_code: String,
    pub escort_required: bool,
}

/// Everything the arrival notice says.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub visit_id: Uuid,
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    pub host_name: String,
    /// `None` when the host has no address: the email is then recorded as failed.
    pub host_email: Option<String>,
    pub site_name: String,
    pub tz: Tz,
    pub arrived_at: DateTime<Utc>,
}

/// A built email: its subject and the whole RFC 5322 message.
#[derive(Debug, Clone)]
pub struct Email {
    pub subject: String,
    pub message: Vec<u8>,
}

/// Why an email could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("{0:?} is not a valid email address")]
    Address(String),
    #[error("the message could not be built: {0}")]
    Build(String),
}

/// The Content-ID of the QR image inside the invitation.
const QR_CID: &str = "checkin-qr";
/// Pixels per QR module: about 240 px for a short code, crisp on a phone.
const QR_SCALE: usize = 8;

/// `Monday 7 December 2026, 09:30 CET`.
pub fn local(at: DateTime<Utc>, tz: Tz) -> String {
    in_zone(at, tz).format("%A %-d %B %Y, %H:%M %Z").to_string()
}

/// An address as a mailbox with a display name, or why not.
pub fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, ContentError> {
    let address = address
        .trim()
        .parse()
        .map_err(|_| ContentError::Address(address.to_owned()))?;
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

#[derive(Template)]
#[template(path = "notify/invitation.txt")]
struct InvitationText<'a> {
    visitor_name: &'a str,
    host_name: &'a str,
    site_name: &'a str,
    start: String,
    end: String,
    purpose: Option<&'a str>,
    escort_required: bool,
    check_in_code: &'a str,
}

#[derive(Template)]
#[template(path = "notify/invitation.html")]
struct InvitationHtml<'a> {
    subject: &'a str,
    visitor_name: &'a str,
    host_name: &'a str,
    site_name: &'a str,
    start: String,
    end: String,
    purpose: Option<&'a str>,
    escort_required: bool,
    check_in_code: &'a str,
    has_qr: bool,
    qr_cid: &'a str,
}

#[derive(Template)]
#[template(path = "notify/arrival.txt")]
struct ArrivalText<'a> {
    visitor_name: &'a str,
    visitor_organisation: Option<&'a str>,
    host_name: &'a str,
    site_name: &'a str,
    arrived_at: String,
}

fn render(template: &impl Template) -> Result<String, ContentError> {
    template
        .render()
        .map_err(|e| ContentError::Build(e.to_string()))
}

fn content_type(text: &str) -> Result<ContentType, ContentError> {
    ContentType::parse(text).map_err(|e| ContentError::Build(e.to_string()))
}

/// The `Message-ID` of notification `id`: stable, so a resent message is the same one.
fn message_id(id: Uuid, from: &Mailbox) -> String {
    format!("<{id}@{}>", from.email.domain())
}

/// The invitation email of notification `id` (also the calendar event's UID, so a second
/// invitation for the same visit updates the event instead of adding one).
pub fn invitation_email(
    invitation: &Invitation,
    from: &Mailbox,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Email, ContentError> {
    let to = mailbox(Some(&invitation.visitor_name), &invitation.visitor_email)?;
    let tz = invitation.tz;
    let day = in_zone(invitation.window_start, tz).format("%A %-d %B %Y");
    let subject = format!("Your visit to {} on {day}", invitation.site_name);
    let start = local(invitation.window_start, tz);
    let end = local(invitation.window_end, tz);
    let purpose = invitation
        .purpose
        .as_deref()
        .filter(|p| !p.trim().is_empty());
    let qr = QrMatrix::encode(&invitation.check_in_code)
        .and_then(|qr| qr.png(QR_SCALE))
        .ok();
    let text = render(&InvitationText {
        visitor_name: &invitation.visitor_name,
        host_name: &invitation.host_name,
        site_name: &invitation.site_name,
        start: start.clone(),
        end: end.clone(),
        purpose,
        escort_required: invitation.escort_required,
        check_in_code: &invitation.check_in_code,
    })?;
    let html = render(&InvitationHtml {
        subject: &subject,
        visitor_name: &invitation.visitor_name,
        host_name: &invitation.host_name,
        site_name: &invitation.site_name,
        start,
        end,
        purpose,
        escort_required: invitation.escort_required,
        check_in_code: &invitation.check_in_code,
        has_qr: qr.is_some(),
        qr_cid: QR_CID,
    })?;
    let mut description = format!(
        "Host: {}\nCheck-in code: {}",
        invitation.host_name, invitation.check_in_code
    );
    if let Some(purpose) = purpose {
        description.push_str(&format!("\nPurpose: {purpose}"));
    }
    if invitation.escort_required {
        description.push_str("\nAn escort will accompany you on site.");
    }
    let uid = format!("{}@gatehouse", invitation.visit_id);
    let calendar = ics::calendar(&ics::Event {
        uid: &uid,
        stamp: at,
        start: invitation.window_start,
        end: invitation.window_end,
        summary: &format!(
            "Visit to {} ({})",
            invitation.site_name, invitation.host_name
        ),
        location: &invitation.site_name,
        description: &description,
    });

    let mut related = MultiPart::related().multipart(MultiPart::alternative_plain_html(text, html));
    if let Some(png) = qr {
        related = related.singlepart(
            Attachment::new_inline_with_name(QR_CID.to_owned(), "check-in-code.png".to_owned())
                .body(png, content_type("image/png")?),
        );
    }
    let ics = Attachment::new("invitation.ics".to_owned()).body(
        calendar,
        content_type("text/calendar; charset=utf-8; method=PUBLISH")?,
    );
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject.clone())
        .message_id(Some(message_id(id, from)))
        .date(SystemTime::from(at))
        .multipart(MultiPart::mixed().multipart(related).singlepart(ics))
        .map_err(|e| ContentError::Build(e.to_string()))?;
    Ok(Email {
        subject,
        message: message.formatted(),
    })
}

/// The subject of the arrival notice (also what the console lists for its webhooks).
pub fn arrival_subject(arrival: &Arrival) -> String {
    format!(
        "{} has arrived at {}",
        arrival.visitor_name, arrival.site_name
    )
}

/// The host's arrival email of notification `id`.
pub fn arrival_email(
    arrival: &Arrival,
    from: &Mailbox,
    id: Uuid,
    at: DateTime<Utc>,
) -> Result<Email, ContentError> {
    let address = arrival.host_email.as_deref().unwrap_or_default();
    let to = mailbox(Some(&arrival.host_name), address)?;
    let subject = arrival_subject(arrival);
    let text = render(&ArrivalText {
        visitor_name: &arrival.visitor_name,
        visitor_organisation: arrival.visitor_organisation.as_deref(),
        host_name: &arrival.host_name,
        site_name: &arrival.site_name,
        arrived_at: local(arrival.arrived_at, arrival.tz),
    })?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject.clone())
        .message_id(Some(message_id(id, from)))
        .date(SystemTime::from(at))
        .singlepart(SinglePart::plain(text))
        .map_err(|e| ContentError::Build(e.to_string()))?;
    Ok(Email {
        subject,
        message: message.formatted(),
    })
}

/// The webhook body of the arrival notice `id` (`event: visitor.arrived`); times RFC 3339,
/// in UTC and in the site's zone. `id` lets a receiver drop a retried duplicate.
pub fn arrival_webhook(arrival: &Arrival, id: Uuid) -> Vec<u8> {
    let local = in_zone(arrival.arrived_at, arrival.tz);
    let body = serde_json::json!({
        "event": "visitor.arrived",
        "id": id,
        "visit_id": arrival.visit_id,
        "visitor": {
            "name": arrival.visitor_name,
            "organisation": arrival.visitor_organisation,
        },
        "host": { "name": arrival.host_name },
        "site": { "name": arrival.site_name, "timezone": arrival.tz.name() },
        "arrived_at": arrival.arrived_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "arrived_at_local": local.to_rfc3339_opts(SecondsFormat::Secs, false),
        "text": format!("{} ({})", arrival_subject(arrival), local.format("%H:%M %Z")),
    });
    body.to_string().into_bytes()
}

#[cfg(test)]
mod tests;
