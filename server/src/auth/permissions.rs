//! Which roles may call which API function, in one place. Handlers name a permission in
//! their `Authorized<P>` extractor, so no handler can skip the check, and the role matrix
//! test reads what each endpoint allows from here.

use gatehouse_core::role::Role;

/// A set of roles allowed to perform one kind of API call.
pub trait Permission: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

macro_rules! permission {
    ($(#[$doc:meta])* $name:ident: [$($role:ident),+]) => {
        $(#[$doc])*
        pub struct $name;
        impl Permission for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    };
}

permission!(
    /// Any logged-in operator: their own session, profile and password.
    AnyOperator: [Admin, Security, Receptionist, Host, Auditor]
);
permission!(
    /// Creating, changing and listing operator accounts.
    ManageOperators: [Admin]
);
permission!(
    /// The server's own health: database, audit checkpoints, the last verification.
    ReadServerHealth: [Admin, Auditor]
);
permission!(
    /// Reading the operator log.
    ReadOperatorLog: [Admin, Auditor]
);
permission!(
    /// Reading the security model: sites, zones, doors, schedules, groups, grants,
    /// credentials, vetting.
    ReadSecurityModel: [Admin, Security, Auditor]
);
permission!(
    /// Changing the security model, threat levels and credentials; bulk import.
    WriteSecurityModel: [Admin, Security]
);
permission!(
    /// Looking up people: receptionists need it to find a visitor's host.
    ReadPeople: [Admin, Security, Auditor, Receptionist]
);
permission!(
    /// Reading visits. A host reads only the visits it hosts (checked per object).
    ReadVisits: [Admin, Security, Auditor, Receptionist, Host]
);
permission!(
    /// Inviting visitors, editing and cancelling visits. A host only its own, to zones
    /// the visit rules open and the host may enter (checked per object).
    InviteVisitors: [Admin, Security, Receptionist, Host]
);
permission!(
    /// The front desk: checking visitors in and out, handing out pool cards, badges.
    WriteVisits: [Admin, Security, Receptionist]
);
permission!(
    /// Which zones are open to visitors, and a site's visit settings: reading them
    /// (receptionists and hosts choose among them).
    ReadVisitRules: [Admin, Security, Auditor, Receptionist, Host]
);
permission!(
    /// Setting the visit rules; approving visits outside them; deciding watchlist
    /// matches; keeping the watchlist and the document templates.
    ManageVisitRules: [Admin, Security]
);
permission!(
    /// Reading the watchlist and screening results.
    ReadWatchlist: [Admin, Security, Auditor]
);
permission!(
    /// Reading notifications sent (email, webhook) and their delivery results.
    ReadNotifications: [Admin, Security, Auditor, Receptionist]
);
permission!(
    /// Asking the decision engine: "why can't this card open that door?", "who can
    /// enter this zone?", "where can this person go?", "whose vetting expires soon?".
    QueryAccess: [Admin, Security, Auditor]
);
permission!(
    /// Registering, revoking and re-enrolling door agents.
    ManageAgents: [Admin]
);
permission!(
    /// Site card keys: creating, rotating, retiring, listing their versions.
    ManageCardKeys: [Admin]
);
permission!(
    /// Issuing, re-keying and wiping secure cards on the server's desk reader.
    IssueSecureCards: [Admin, Security]
);
permission!(
    /// Reading door agents and their ingest alarms.
    ReadAgents: [Admin, Security]
);
permission!(
    /// Verifying and exporting the audit trail, and reading its public key.
    ReadAudit: [Admin, Auditor]
);
permission!(
    /// Reading who is inside: zone occupancy, the muster list, musters.
    ReadOccupancy: [Admin, Security, Auditor]
);
permission!(
    /// Starting musters and marking people accounted for.
    RunMuster: [Admin, Security]
);
permission!(
    /// Reading the events door agents uploaded.
    ReadEvents: [Admin, Security, Auditor]
);
permission!(
    /// Reading alarms and their live stream.
    ReadAlarms: [Admin, Security, Auditor]
);
permission!(
    /// Acknowledging an alarm (with a note).
    AcknowledgeAlarms: [Admin, Security]
);
permission!(
    /// Reading every door's live state (lock, contact, mode, alarms, agent online) and
    /// its stream, and the remote commands given.
    ReadDoorStatus: [Admin, Security, Auditor]
);
permission!(
    /// Remote door commands: a momentary release, a mode change.
    ControlDoors: [Admin, Security]
);

/// A field of an answer that only some roles may read: every answer that carries it
/// leaves it out for the other roles (see `auth::visibility`). `schema` and `field` are
/// the names in the OpenAPI document, so the role-matrix test and the web console read
/// the same declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestrictedField {
    pub schema: &'static str,
    pub field: &'static str,
    pub roles: &'static [Role],
}

/// One restricted field, named in a `skip_serializing_if` of the type that carries it.
pub trait FieldPermission: Send + Sync + 'static {
    const FIELD: RestrictedField;
}

macro_rules! restricted_fields {
    ($(
        $(#[$doc:meta])*
        $name:ident: $schema:literal . $field:literal => $permission:ident
    ),+ $(,)?) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl FieldPermission for $name {
                const FIELD: RestrictedField = RestrictedField {
                    schema: $schema,
                    field: $field,
                    roles: <$permission as Permission>::ROLES,
                };
            }
        )+
        /// Every restricted field, for the tests and the console.
        pub const RESTRICTED_FIELDS: &[RestrictedField] = &[$(<$name as FieldPermission>::FIELD),+];
    };
}

restricted_fields!(
    /// A person's current vetting (status, reference, note, who checked): whoever may
    /// read the vetting history.
    PersonVetting: "Person"."vetting" => ReadSecurityModel,
    /// The groups a person belongs to: whoever may read the groups.
    PersonGroups: "Person"."group_ids" => ReadSecurityModel,
    /// A person's clearance level (compared with zone levels): whoever may read zones.
    PersonClearance: "Person"."clearance" => ReadSecurityModel,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The operator log keeps full records (before and after), so whoever reads it must
    /// be allowed every restricted field.
    #[test]
    fn operator_log_readers_may_read_every_restricted_field() {
        for field in RESTRICTED_FIELDS {
            for role in ReadOperatorLog::ROLES {
                assert!(
                    field.roles.contains(role),
                    "{role:?} reads the operator log but not {}.{}",
                    field.schema,
                    field.field
                );
            }
        }
    }
}
