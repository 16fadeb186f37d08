//! The one table from the store's uniqueness rules to what a client is told when a write
//! breaks one. A broken rule reaches the API as `StoreError::Conflict { constraint }`:
//! PostgreSQL names the constraint or index, SQLite names the column
//! (`operators.username`), so each rule is listed under both spellings.

/// Constraint names (PostgreSQL, then SQLite) → the message.
const CONFLICTS: &[(&[&str], &str)] = &[
    (
        &["operators_username_key", "operators.username"],
        "username is already taken",
    ),
    (
        &["credentials_live_card", "credentials.card"],
        "the card is already issued to a credential that is not revoked",
    ),
    (
        &["person_groups_name_key", "person_groups.name"],
        "a group with this name exists",
    ),
];

/// What a client is told for a rule not in the table.
pub const OTHER_CONFLICT: &str = "conflicts with an existing record";

/// Names a broken uniqueness rule in words a client can act on.
pub fn conflict_message(constraint: &str) -> &'static str {
    CONFLICTS
        .iter()
        .find(|(names, _)| names.contains(&constraint))
        .map_or(OTHER_CONFLICT, |(_, message)| message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_name_the_rule() {
        for (names, message) in CONFLICTS {
            for name in *names {
                assert_eq!(conflict_message(name), *message, "{name}");
            }
        }
        assert_eq!(conflict_message("people_external_id_key"), OTHER_CONFLICT);
    }
}
