use super::*;
use chrono::TimeZone;

fn invitation() -> Invitation {
    Invitation {
        visit_id: Uuid::nil(),
        visitor_name: "Ada Lovelace".to_owned(),
        visitor_email: "ada@example.org".to_owned(),
        host_name: "Bob <Host> & Co".to_owned(),
        site_name: "Berlin HQ".to_owned(),
        tz: chrono_tz::Europe::Berlin,
        window_start: Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0).unwrap(),
        window_end: Utc.with_ymd_and_hms(2026, 12, 7, 11, 0, 0).unwrap(),
        purpose: Some("Quarterly review".to_owned()),
        check_in_code: "K7Q2-9XMP".to_owned(),
        escort_required: true,
    }
}

fn arrival() -> Arrival {
    Arrival {
        visit_id: Uuid::nil(),
        visitor_name: "Ada Lovelace".to_owned(),
        visitor_organisation: Some("Analytical Engines".to_owned()),
        host_name: "Bob".to_owned(),
        host_email: Some("bob@example.org".to_owned()),
        site_name: "Berlin HQ".to_owned(),
        tz: chrono_tz::Europe::Berlin,
        arrived_at: Utc.with_ymd_and_hms(2026, 12, 7, 9, 41, 5).unwrap(),
    }
}

fn from() -> Mailbox {
    mailbox(Some("Gatehouse"), "gatehouse@example.org").unwrap()
}

/// The message with quoted-printable soft line breaks and `=3D` undone (enough to read
/// the parts these tests look at).
fn readable(message: Vec<u8>) -> String {
    String::from_utf8(message)
        .unwrap()
        .replace("=\r\n", "")
        .replace("=3D", "=")
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap()
}

#[test]
fn local_times_name_the_zone() {
    let start = invitation().window_start;
    assert_eq!(
        local(start, chrono_tz::Europe::Berlin),
        "Monday 7 December 2026, 10:30 CET"
    );
}

#[test]
fn invitation_has_text_html_qr_and_calendar() {
    let id = Uuid::now_v7();
    let email = invitation_email(&invitation(), &from(), id, at()).unwrap();
    assert_eq!(
        email.subject,
        "Your visit to Berlin HQ on Monday 7 December 2026"
    );
    let text = readable(email.message);
    assert!(text.contains("Subject: Your visit to Berlin HQ on Monday 7 December 2026"));
    assert!(
        text.contains("To: \"Ada Lovelace\" <ada@example.org>"),
        "{text}"
    );
    assert!(text.contains(&format!("Message-ID: <{id}@example.org>")));
    for part in [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "Content-Type: image/png",
        "Content-ID: <checkin-qr>",
        "Content-Type: text/calendar",
        "filename=\"invitation.ics\"",
    ] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
    assert!(text.contains("Monday 7 December 2026, 10:30 CET"), "{text}");
    assert!(text.contains("K7Q2-9XMP"));
    assert!(text.contains("DTSTART:20261207T093000Z"), "{text}");
    assert!(text.contains("DTEND:20261207T110000Z"));
    assert!(text.contains("UID:00000000-0000-0000-0000-000000000000@gatehouse"));
    // The HTML part escapes what it shows.
    assert!(
        text.contains("Bob &#60;Host&#62; &#38; Co invites you"),
        "{text}"
    );
    assert!(text.contains("<img src=\"cid:checkin-qr\""), "{text}");
}

#[test]
fn an_invalid_visitor_address_is_refused() {
    let mut bad = invitation();
    bad.visitor_email = "not an address".to_owned();
    assert!(matches!(
        invitation_email(&bad, &from(), Uuid::nil(), at()),
        Err(ContentError::Address(_))
    ));
}

#[test]
fn arrival_email_and_webhook() {
    let email = arrival_email(&arrival(), &from(), Uuid::nil(), at()).unwrap();
    assert_eq!(email.subject, "Ada Lovelace has arrived at Berlin HQ");
    let text = readable(email.message);
    assert!(text.contains("To: Bob <bob@example.org>"), "{text}");
    assert!(text.contains("Ada Lovelace (Analytical Engines) arrived at Berlin HQ: "));
    assert!(text.contains("Monday 7 December 2026, 10:41 CET"), "{text}");

    let id = Uuid::now_v7();
    let body: serde_json::Value = serde_json::from_slice(&arrival_webhook(&arrival(), id)).unwrap();
    assert_eq!(body["event"], "visitor.arrived");
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["visitor"]["name"], "Ada Lovelace");
    assert_eq!(body["visitor"]["organisation"], "Analytical Engines");
    assert_eq!(body["host"]["name"], "Bob");
    assert_eq!(body["site"]["name"], "Berlin HQ");
    assert_eq!(body["site"]["timezone"], "Europe/Berlin");
    assert_eq!(body["arrived_at"], "2026-12-07T09:41:05Z");
    assert_eq!(body["arrived_at_local"], "2026-12-07T10:41:05+01:00");
}

#[test]
fn arrival_without_host_address_is_refused() {
    let mut none = arrival();
    none.host_email = None;
    assert!(arrival_email(&none, &from(), Uuid::nil(), at()).is_err());
}
