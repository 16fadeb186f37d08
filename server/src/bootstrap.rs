//! First start: with no operator at all, create `admin` so that someone can log in.

use crate::auth::password;
use crate::config::BootstrapSettings;
use crate::store::{Actor, NewOperator, Store, StoreError};
use gatehouse_core::role::Role;
use secrecy::ExposeSecret;

pub const BOOTSTRAP_USERNAME: &str = "admin";

/// Creates the first admin when the database has no operator. The password comes from
/// `bootstrap.admin_password` (`GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD`), or is generated
/// and printed once to stderr.
pub async fn ensure_admin(store: &Store, settings: &BootstrapSettings) -> anyhow::Result<()> {
    if store.count_operators().await? > 0 {
        return Ok(());
    }
    let (password, generated) = match &settings.admin_password {
        Some(given) => {
            if let Some(problem) = password::password_problem(given.expose_secret()) {
                anyhow::bail!("bootstrap.admin_password: {problem}");
            }
            (given.clone(), false)
        }
        None => (password::generate(), true),
    };
    let new = NewOperator {
        username: BOOTSTRAP_USERNAME.to_owned(),
        display_name: "Administrator".to_owned(),
        role: Role::Admin,
        password_hash: password::hash(password.clone()).await?,
    };
    match store.create_operator(new, &Actor::system()).await {
        Ok(_) if generated => {
            // Deliberately not through tracing: printed once, to the terminal only.
            eprintln!(
                "\nCreated the first operator: username 'admin', password '{}'.\n\
                 It is shown only this once. Log in and change it (PUT /api/v1/operators/{{id}}/password).\n",
                password.expose_secret()
            );
        }
        Ok(_) => tracing::info!("created the first operator 'admin' with the configured password"),
        // Another replica created it first.
        Err(StoreError::Conflict { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
