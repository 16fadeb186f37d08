//! What every console page shares: the navigation (from one table of pages and the
//! permission each needs), rendering a template into an HTML answer, and the error page.

use crate::api::error::ApiError;
use crate::auth::permissions::{
    AnyOperator, ManageAgents, ManageOperators, Permission, QueryAccess, ReadAgents, ReadAlarms,
    ReadAudit, ReadEvents, ReadOccupancy, ReadOperatorLog, ReadSecurityModel, ReadServerHealth,
    ReadVisitRules, ReadVisits, ReadWatchlist, WriteSecurityModel,
};
use crate::store::{Principal, StoreError};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::role::Role;

/// A page of the navigation and the roles that may open it: the same permission the
/// page's handler demands, so the menu never offers what would answer 403.
pub struct PageLink {
    pub path: &'static str,
    pub label: &'static str,
    pub roles: &'static [Role],
}

/// Every page of the navigation, in menu order.
pub const PAGES: &[PageLink] = &[
    PageLink {
        path: "/desk",
        label: "Door board",
        roles: <super::desk::doors::ReadDoorBoard as Permission>::ROLES,
    },
    PageLink {
        path: "/alarms",
        label: "Alarms",
        roles: ReadAlarms::ROLES,
    },
    PageLink {
        path: "/threat",
        label: "Lockdown",
        roles: WriteSecurityModel::ROLES,
    },
    PageLink {
        path: "/muster",
        label: "Muster",
        roles: ReadOccupancy::ROLES,
    },
    PageLink {
        path: "/occupancy",
        label: "Occupancy",
        roles: ReadOccupancy::ROLES,
    },
    PageLink {
        path: "/events",
        label: "Events",
        roles: ReadEvents::ROLES,
    },
    PageLink {
        path: "/access",
        label: "Access check",
        roles: QueryAccess::ROLES,
    },
    PageLink {
        path: "/reports",
        label: "Reports",
        roles: ReadEvents::ROLES,
    },
    PageLink {
        path: "/audit",
        label: "Audit trail",
        roles: ReadAudit::ROLES,
    },
    PageLink {
        path: "/operator-log",
        label: "Operator log",
        roles: ReadOperatorLog::ROLES,
    },
    PageLink {
        path: "/visits",
        label: "Visits",
        roles: ReadVisits::ROLES,
    },
    PageLink {
        path: "/notifications",
        label: "Notifications",
        roles: crate::auth::permissions::ReadNotifications::ROLES,
    },
    PageLink {
        path: "/visitor-cards",
        label: "Visitor cards",
        roles: ReadVisits::ROLES,
    },
    PageLink {
        path: "/screenings",
        label: "Screening",
        roles: ReadWatchlist::ROLES,
    },
    PageLink {
        path: ADMIN,
        label: "Administration",
        roles: ReadSecurityModel::ROLES,
    },
    PageLink {
        path: "/account",
        label: "My account",
        roles: AnyOperator::ROLES,
    },
];

/// The administration pages' common start: they share a second menu.
pub const ADMIN: &str = "/admin";

/// The administration pages, in their menu's order; `/admin` lists those a role may open.
pub const ADMIN_PAGES: &[PageLink] = &[
    PageLink {
        path: "/admin/sites",
        label: "Sites, zones and doors",
        roles: ReadSecurityModel::ROLES,
    },
    PageLink {
        path: "/admin/schedules",
        label: "Schedules and holidays",
        roles: ReadSecurityModel::ROLES,
    },
    PageLink {
        path: "/admin/people",
        label: "People and cards",
        roles: ReadSecurityModel::ROLES,
    },
    PageLink {
        path: "/admin/groups",
        label: "Groups and grants",
        roles: ReadSecurityModel::ROLES,
    },
    PageLink {
        path: "/admin/visit-rules",
        label: "Visit rules",
        roles: ReadSecurityModel::ROLES,
    },
    PageLink {
        path: "/admin/import",
        label: "HR import",
        roles: WriteSecurityModel::ROLES,
    },
    PageLink {
        path: "/admin/documents",
        label: "Visitor documents",
        roles: ReadVisitRules::ROLES,
    },
    PageLink {
        path: "/admin/watchlist",
        label: "Watchlist",
        roles: ReadWatchlist::ROLES,
    },
    PageLink {
        path: "/admin/agents",
        label: "Door agents",
        roles: ReadAgents::ROLES,
    },
    PageLink {
        path: "/admin/kiosks",
        label: "Kiosks",
        roles: ManageAgents::ROLES,
    },
    PageLink {
        path: "/admin/operators",
        label: "Operator accounts",
        roles: ManageOperators::ROLES,
    },
    PageLink {
        path: "/admin/health",
        label: "Server health",
        roles: ReadServerHealth::ROLES,
    },
];

/// Where each role lands after logging in.
pub fn home(role: Role) -> &'static str {
    match role {
        Role::Admin | Role::Security => "/desk",
        Role::Receptionist => "/visits",
        Role::Auditor => "/events",
        Role::Host => "/visits",
    }
}

/// A link of the navigation as a page shows it.
pub struct NavLink {
    pub path: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The frame around every page: who is logged in and where they may go.
pub struct Chrome {
    pub title: String,
    pub user: String,
    pub role: &'static str,
    pub nav: Vec<NavLink>,
    /// The administration menu, on administration pages only.
    pub subnav: Vec<NavLink>,
}

impl Chrome {
    pub fn new(principal: &Principal, current: &str, title: impl Into<String>) -> Chrome {
        Chrome {
            title: title.into(),
            user: principal.display_name.clone(),
            role: role_label(principal.role),
            nav: links(PAGES, principal.role, current),
            subnav: if current.starts_with(ADMIN) {
                links(ADMIN_PAGES, principal.role, current)
            } else {
                Vec::new()
            },
        }
    }
}

/// The pages of `table` that `role` may open; the current one (or its section) marked.
pub fn links(table: &[PageLink], role: Role, current: &str) -> Vec<NavLink> {
    table
        .iter()
        .filter(|page| page.roles.contains(&role))
        .map(|page| NavLink {
            path: page.path,
            label: page.label,
            current: page.path == current
                || current
                    .strip_prefix(page.path)
                    .is_some_and(|rest| rest.starts_with('/')),
        })
        .collect()
}

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Administrator",
        Role::Security => "Security officer",
        Role::Receptionist => "Receptionist",
        Role::Host => "Host",
        Role::Auditor => "Auditor",
    }
}

/// Renders a page; a template that fails to render is an internal error page.
pub fn render(page: impl Template) -> Response {
    match page.render() {
        Ok(body) => Html(body).into_response(),
        Err(error) => Failure::internal(error).into_response(),
    }
}

/// An error shown as a page: the status, what went wrong in words, and for a form each
/// field's problem.
pub struct Failure {
    status: StatusCode,
    message: String,
    fields: Vec<(String, String)>,
    retry_after_s: Option<u64>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
    fields: &'a [(String, String)],
}

impl Failure {
    pub fn forbidden() -> Failure {
        ApiError::Forbidden.into()
    }

    pub fn cross_site() -> Failure {
        Failure {
            status: StatusCode::FORBIDDEN,
            message: "This request did not come from a page of this console, so it was \
                      refused. Open the console and try again."
                .to_owned(),
            fields: Vec::new(),
            retry_after_s: None,
        }
    }

    pub fn not_found(what: &'static str) -> Failure {
        ApiError::NotFound(what).into()
    }

    /// For `map_err`: a store's `NotFound` as "`what` not found", other errors as they are.
    pub fn unless_found(what: &'static str) -> impl Fn(StoreError) -> Failure {
        move |error| match error {
            StoreError::NotFound => Failure::not_found(what),
            other => other.into(),
        }
    }

    pub fn internal(error: impl std::fmt::Display) -> Failure {
        tracing::error!(error = %error, "console internal error");
        Failure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error".to_owned(),
            fields: Vec::new(),
            retry_after_s: None,
        }
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Failure {
        if let ApiError::Internal(inner) = &error {
            return Failure::internal(format!("{inner:#}"));
        }
        let status = error.status();
        let retry_after_s = match &error {
            ApiError::TooManyRequests { retry_after_s } => Some(*retry_after_s),
            ApiError::Busy => Some(1),
            _ => None,
        };
        let fields = match &error {
            ApiError::Validation(fields) => fields
                .iter()
                .map(|(field, problem)| (field.replace('_', " "), problem.clone()))
                .collect(),
            _ => Vec::new(),
        };
        let message = match &error {
            ApiError::Forbidden => "Your role does not allow this page or action.".to_owned(),
            other => sentence(&other.to_string()),
        };
        Failure {
            status,
            message,
            fields,
            retry_after_s,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        ApiError::from(error).into()
    }
}

/// An error's words as a sentence: capitalised, ending with a full stop.
pub(crate) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
            fields: &self.fields,
        };
        let mut response = match page.render() {
            Ok(body) => (self.status, Html(body)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        };
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}
