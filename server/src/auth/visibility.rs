//! Field visibility: what a role may not read is left out of every answer that would
//! carry it, in one place — while the answer is serialised — rather than in each handler.
//!
//! Each request runs inside a task-local [`Viewer`] (the [`scope`] middleware); the
//! authentication extractor notes the operator's role in it. A restricted field (declared
//! in `auth::permissions`) carries `#[serde(skip_serializing_if = "hidden::<F, _>")]`,
//! which asks the viewer. Inside a request an anonymous caller (or a door agent) sees no
//! restricted field. Outside any request restricted fields are left out too (a spawned
//! task or a streamed body polled after its handler has no viewer): failing closed, so a
//! serialisation nobody thought about cannot leak them. What must keep every field says
//! so with [`unrestricted`]: the operator log serialises its records that way, so what
//! it keeps never depends on who made the change.

use super::permissions::FieldPermission;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_core::role::Role;
use std::sync::{Arc, OnceLock};

tokio::task_local! {
    static VIEWER: Viewer;
}

/// Who the answer being serialised is for.
#[derive(Clone)]
enum Viewer {
    /// An API request; the role once authenticated.
    Request(Arc<OnceLock<Role>>),
    /// Internal serialisation that keeps every field.
    Everything,
}

/// Middleware: runs the request with a viewer that authentication fills in.
pub async fn scope(request: Request, next: Next) -> Response {
    VIEWER
        .scope(Viewer::Request(Arc::default()), next.run(request))
        .await
}

/// Notes the authenticated operator's role for the answer to this request.
pub(crate) fn authenticated(role: Role) {
    let _ = VIEWER.try_with(|viewer| {
        if let Viewer::Request(cell) = viewer {
            let _ = cell.set(role);
        }
    });
}

/// Whether restricted field `F` is left out of the answer being serialised; for
/// `skip_serializing_if`.
pub fn hidden<F: FieldPermission, T: ?Sized>(_: &T) -> bool {
    VIEWER
        .try_with(|viewer| match viewer {
            Viewer::Request(cell) => cell.get().is_none_or(|role| !F::FIELD.roles.contains(role)),
            Viewer::Everything => false,
        })
        // No viewer: fail closed (see the module's doc).
        .unwrap_or(true)
}

/// Runs `f` (a serialisation) with every field shown, whoever the request is for.
pub fn unrestricted<R>(f: impl FnOnce() -> R) -> R {
    VIEWER.sync_scope(Viewer::Everything, f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::permissions::PersonVetting;

    fn visible_to(role: Option<Role>) -> bool {
        let cell = Arc::new(OnceLock::new());
        if let Some(role) = role {
            cell.set(role).unwrap();
        }
        VIEWER.sync_scope(Viewer::Request(cell), || !hidden::<PersonVetting, _>(&()))
    }

    #[test]
    fn restricted_fields_follow_the_role() {
        let cases = [
            (None, false),
            (Some(Role::Admin), true),
            (Some(Role::Security), true),
            (Some(Role::Auditor), true),
            (Some(Role::Receptionist), false),
            (Some(Role::Host), false),
        ];
        for (role, visible) in cases {
            assert_eq!(visible_to(role), visible, "{role:?}");
        }
    }

    #[test]
    fn no_viewer_hides_and_unrestricted_shows_everything() {
        // A serialisation outside any request (a spawned task, a streamed body) fails
        // closed; it was shown before, a leak waiting for its first such answer.
        assert!(hidden::<PersonVetting, _>(&()));
        assert!(unrestricted(|| !hidden::<PersonVetting, _>(&())));
        let cell = Arc::new(OnceLock::new());
        cell.set(Role::Host).unwrap();
        let shown = VIEWER.sync_scope(Viewer::Request(cell), || {
            unrestricted(|| !hidden::<PersonVetting, _>(&()))
        });
        assert!(shown);
    }
}
