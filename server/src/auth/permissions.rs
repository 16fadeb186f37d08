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
    /// Any logged-in operator: their own session and profile.
    AnyOperator: [Admin, Security, Receptionist, Host, Auditor]
);
permission!(
    /// Creating, changing and listing operator accounts.
    ManageOperators: [Admin]
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
    /// Reading visits.
    ReadVisits: [Admin, Security, Auditor, Receptionist]
);
permission!(
    /// Registering visits and checking visitors in and out.
    WriteVisits: [Admin, Security, Receptionist]
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
