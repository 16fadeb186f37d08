//! The visitor card pool at the desk: the site's cards by state, with who holds each one
//! handed out; registering a card; marking one returned, lost or retired; and handing one
//! to a checked-in visitor ([`HandOutCard`] and `parts/hand_out_card.html`, for the
//! check-in flow). Each action calls the store as the API's endpoint does.

use crate::api::error::ApiError;
use crate::api::routes::visitor_cards::parse_new;
use crate::auth::permissions::{Permission, ReadVisits, WriteVisits};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{Store, StoreError, VisitorCardChange, VisitorCardState};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

/// A card of the list.
struct CardLine {
    id: Uuid,
    label: String,
    card: String,
    site: String,
    state: &'static str,
    /// Not returned by a visitor: shown strong.
    unreturned: bool,
    /// Which changes the desk may make (each a button).
    may_return: bool,
    may_lose: bool,
    may_retire: bool,
    /// Who has it (an issued or unreturned card): the visitor's name.
    holder: String,
    changed: String,
}

#[derive(Template)]
#[template(path = "visitor_cards.html")]
struct PoolPage {
    chrome: Chrome,
    cards: Vec<CardLine>,
    sites: Vec<(Uuid, String, bool)>,
    states: Vec<(&'static str, &'static str, bool)>,
    may_write: bool,
}

#[derive(Deserialize)]
pub struct Filter {
    #[serde(default)]
    site: String,
    #[serde(default)]
    state: String,
}

/// How each state reads on the page.
pub fn state_label(state: VisitorCardState) -> &'static str {
    match state {
        VisitorCardState::Available => "Available",
        VisitorCardState::Issued => "Handed out",
        VisitorCardState::Unreturned => "Not returned",
        VisitorCardState::Lost => "Lost",
        VisitorCardState::Retired => "Retired",
    }
}

const STATES: [VisitorCardState; 5] = [
    VisitorCardState::Available,
    VisitorCardState::Issued,
    VisitorCardState::Unreturned,
    VisitorCardState::Lost,
    VisitorCardState::Retired,
];

/// `GET /visitor-cards?site=&state=`: the pool.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Query(filter): Query<Filter>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let site = filter.site.parse::<Uuid>().ok();
    let wanted = filter.state.parse::<VisitorCardState>().ok();
    let cards = state.store.list_visitor_cards(site, wanted).await?;
    let mut lines = Vec::with_capacity(cards.len());
    for card in cards {
        let holder = match (card.state, card.visit_id) {
            (VisitorCardState::Issued | VisitorCardState::Unreturned, Some(visit)) => {
                match state.store.visit(visit).await {
                    Ok(v) => v.visitor_name,
                    Err(StoreError::NotFound) => String::new(),
                    Err(e) => return Err(e.into()),
                }
            }
            _ => String::new(),
        };
        lines.push(CardLine {
            id: card.id,
            label: card.label,
            card: card.card,
            site: names.site(card.site_id).to_owned(),
            state: state_label(card.state),
            unreturned: card.state == VisitorCardState::Unreturned,
            may_return: card.state != VisitorCardState::Available,
            may_lose: card.state != VisitorCardState::Lost,
            may_retire: card.state != VisitorCardState::Retired,
            holder,
            changed: names.time(card.updated_at, Some(card.site_id)),
        });
    }
    let sites = names
        .sites_by_name()
        .into_iter()
        .map(|(id, name)| (id, name.to_owned(), site == Some(id)))
        .collect();
    let states = STATES
        .iter()
        .map(|s| (s.as_ref(), state_label(*s), wanted == Some(*s)))
        .collect();
    Ok(render(PoolPage {
        chrome: Chrome::new(&user.principal, "/visitor-cards", "Visitor cards"),
        cards: lines,
        sites,
        states,
        may_write: WriteVisits::ROLES.contains(&user.principal.role),
    }))
}

#[derive(Deserialize)]
pub struct Register {
    site: Uuid,
    card: String,
    label: String,
}

/// `POST /visitor-cards`: registers a card (the API's `POST /visitor-cards`).
pub async fn register(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Form(form): Form<Register>,
) -> Result<Response, Failure> {
    let new = parse_new(form.site, &form.card, &form.label).map_err(ApiError::from)?;
    state
        .store
        .create_visitor_card(new, &user.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to("/visitor-cards").into_response())
}

#[derive(Deserialize)]
pub struct SetState {
    state: String,
}

/// `POST /visitor-cards/{id}/state`: returned (`available`), `lost` or `retired` (the
/// API's `PATCH /visitor-cards/{id}`).
pub async fn set_state(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Path(id): Path<Uuid>,
    Form(form): Form<SetState>,
) -> Result<Response, Failure> {
    let new: VisitorCardState = form
        .state
        .parse()
        .map_err(|_| ApiError::field("state", "is available, lost or retired"))?;
    let change = VisitorCardChange {
        state: Some(new),
        label: None,
    };
    state
        .store
        .update_visitor_card(id, change, &user.actor())
        .await
        .map_err(crate::api::routes::site_model::not_found("visitor card"))?;
    Ok(Redirect::to("/visitor-cards").into_response())
}

#[derive(Deserialize)]
pub struct HandOut {
    visit: Uuid,
    visitor_card: Uuid,
    /// Where to go back to (a console path), `/visitor-cards` when absent.
    #[serde(default)]
    back: String,
}

/// `POST /visitor-cards/hand-out`: hands a pool card to a checked-in visit (the API's
/// `POST /visits/{id}/card`), then back to the page the form was on.
pub async fn hand_out(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Form(form): Form<HandOut>,
) -> Result<Response, Failure> {
    state
        .store
        .issue_pool_card(form.visit, form.visitor_card, &user.actor())
        .await
        .map_err(crate::api::routes::site_model::not_found("visit"))?;
    // Only a path of this console: never a redirect elsewhere.
    let back = match form.back.as_str() {
        path if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => path,
        _ => "/visitor-cards",
    };
    Ok(Redirect::to(back).into_response())
}

/// What `parts/hand_out_card.html` needs: the visit and the site's available cards by
/// label. Include the part where a variable `hand_out` of this type is in scope, e.g.
/// `{% if let Some(hand_out) = visit.hand_out %}{% include "parts/hand_out_card.html" %}
/// {% endif %}`, and render it only for roles holding `WriteVisits`.
pub struct HandOutCard {
    pub visit_id: Uuid,
    /// `(id, label)` of each available card.
    pub cards: Vec<(Uuid, String)>,
    /// The console path to come back to after handing the card out.
    pub back: String,
}

impl HandOutCard {
    /// The choice for visit `visit_id` at site `site_id`.
    pub async fn load(
        store: &Store,
        site_id: Uuid,
        visit_id: Uuid,
        back: &str,
    ) -> Result<HandOutCard, StoreError> {
        let cards = store
            .list_visitor_cards(Some(site_id), Some(VisitorCardState::Available))
            .await?
            .into_iter()
            .map(|c| (c.id, c.label))
            .collect();
        Ok(HandOutCard {
            visit_id,
            cards,
            back: back.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Template)]
    #[template(source = "{% include \"parts/hand_out_card.html\" %}", ext = "html")]
    struct Part {
        hand_out: HandOutCard,
    }

    #[test]
    fn the_part_offers_the_available_cards() {
        let visit_id = Uuid::from_u128(7);
        let card = Uuid::from_u128(9);
        let part = Part {
            hand_out: HandOutCard {
                visit_id,
                cards: vec![(card, "V-07".into())],
                back: "/visits".into(),
            },
        };
        let html = part.render().unwrap_or_default();
        assert!(
            html.contains("action=\"/visitor-cards/hand-out\""),
            "{html}"
        );
        assert!(html.contains(&format!("value=\"{card}\">V-07")), "{html}");
        assert!(html.contains(&format!("value=\"{visit_id}\"")), "{html}");
        let none = Part {
            hand_out: HandOutCard {
                visit_id,
                cards: Vec::new(),
                back: "/visits".into(),
            },
        };
        let html = none.render().unwrap_or_default();
        assert!(html.contains("No visitor card is available"), "{html}");
    }
}
