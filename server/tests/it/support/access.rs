//! The desk's access questions through the API, so a test's table rows read as the
//! question and its expected answer: `ask(&door, CARD).read_as("failed")` and
//! `expect_reason(...)`, with the records they need made in one line each.

use crate::common::{TestApp, created, expect};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Makes records through the API as one operator, returning their ids.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub token: &'a str,
}

impl Api<'_> {
    /// `POST path` with `body`, expecting 201; the new record's id.
    pub async fn create(&self, path: &str, body: Value) -> String {
        created(self.app.post(path, self.token, body).await).await
    }

    /// A zone of `site`, under `parent` if any.
    pub async fn zone(&self, site: &str, parent: Option<&str>, name: &str, level: u8) -> String {
        let body = json!({"site_id": site, "parent_id": parent, "name": name, "level": level});
        self.create("/api/v1/zones", body).await
    }

    /// A door from one zone into another.
    pub async fn door(&self, name: &str, from: &str, to: &str) -> String {
        let body = json!({"name": name, "from_zone_id": from, "to_zone_id": to});
        self.create("/api/v1/doors", body).await
    }

    /// A staff member with a card of `kind` (`uid` or `secure`) and a grant to `zone`;
    /// the person's id.
    pub async fn card_holder(&self, name: &str, card: &str, kind: &str, zone: &str) -> String {
        let person = json!({"name": name, "kind": "staff", "clearance": 1});
        let person = self.create("/api/v1/people", person).await;
        let credential = json!({"person_id": person, "card": card, "kind": kind});
        self.create("/api/v1/credentials", credential).await;
        let grant = json!({"person_id": person, "zone_id": zone});
        self.create("/api/v1/grants", grant).await;
        person
    }
}

/// One `POST /api/v1/access/check` question.
#[derive(Clone, Debug)]
pub struct Question(Value);

/// Would `card` open `door` now (entering, the card read as issued)?
pub fn ask(door: &str, card: &str) -> Question {
    Question(json!({"door_id": door, "card": card}))
}

impl Question {
    /// How the reader's authentication of the card went (`not_attempted`, `failed`, …).
    pub fn read_as(mut self, authentication: &str) -> Question {
        self.0["authentication"] = json!(authentication);
        self
    }

    /// Leaving through the door rather than entering.
    pub fn exit(mut self) -> Question {
        self.0["direction"] = json!("exit");
        self
    }

    /// The body as sent, for asking it wrongly.
    pub fn body(&self) -> Value {
        self.0.clone()
    }

    /// The server's answer (200 expected).
    pub async fn answer(&self, app: &TestApp, token: &str) -> Value {
        let response = app
            .post("/api/v1/access/check", token, self.0.clone())
            .await;
        expect(response, StatusCode::OK).await
    }
}

/// The answer's reason (`granted`, `assurance_insufficient`, …).
pub fn reason(answer: &Value) -> &str {
    answer["reason"].as_str().unwrap_or_default()
}

/// The detail of the answer's last trace step: the rule that decided, in words.
pub fn last_detail(answer: &Value) -> &str {
    let last = answer["trace"].as_array().and_then(|t| t.last());
    last.and_then(|step| step["detail"].as_str())
        .unwrap_or_default()
}

/// Asks each `(what, question, reason)` row and checks its reason, naming the row.
pub async fn expect_reasons(app: &TestApp, token: &str, rows: &[(&str, Question, &str)]) {
    for (what, question, expected) in rows {
        let answer = question.answer(app, token).await;
        assert_eq!(reason(&answer), *expected, "{what}: {answer}");
    }
}
