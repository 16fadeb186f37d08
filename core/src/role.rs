//! Operator roles: who may use the server's API for what.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The role of an operator account. Each API function allows a fixed set of roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "lowercase", parse_err_ty = UnknownRole, parse_err_fn = unknown_role)]
pub enum Role {
    /// Runs the server, enrols doors, manages operator accounts.
    Admin,
    /// Sets zones, clearances, grants and schedules; watches alarms.
    Security,
    /// Registers and checks in visitors.
    Receptionist,
    /// Any staff member inviting their own visitors.
    Host,
    /// Reads records, exports and verifies them; writes nothing.
    Auditor,
}

impl Role {
    /// Every role, in a fixed order (used by tests and documentation).
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Security,
        Role::Receptionist,
        Role::Host,
        Role::Auditor,
    ];

    /// The role's name as it appears on the wire and in the database (strum's, equal to
    /// serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The text was not the name of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownRole(pub String);

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown role {:?} (expected admin, security, receptionist, host or auditor)",
            self.0
        )
    }
}

impl std::error::Error for UnknownRole {}

fn unknown_role(name: &str) -> UnknownRole {
    UnknownRole(name.to_owned())
}

/// For the store's `#[sqlx(try_from = "String")]` columns; strum gives `TryFrom<&str>`.
impl TryFrom<String> for Role {
    type Error = UnknownRole;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".to_owned())));
        assert!("Admin".parse::<Role>().is_err(), "names are case-sensitive");
    }
}
