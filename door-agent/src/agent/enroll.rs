//! `door-agent enroll`: the one-time code exchanged for the agent's token, the server's
//! policy-signing key pinned, both written to the credential file (see [`super::credential`])
//! and the PIN key beside it; the agent's new X25519 key pair for card keys goes to the
//! state directory (see [`super::card_keys`]). Uses the wire types of `gatehouse_core::protocol`.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::protocol::{EnrollRequest, Enrolled, PublicKey};
use secrecy::SecretString;

use super::credential::{Credential, decode_key, decode_pin_key, pin_key_path, save_pin_key};
use super::http_client;
use crate::config::{AgentConfig, check_server_url};

/// `door-agent enroll`: exchanges the one-time `code` for the agent's token, pins the
/// server's policy-signing key, and writes both to `agent.credential_file` (mode 0600),
/// and the PIN key beside it (`<credential_file>.pin-key`, mode 0600).
pub async fn enroll(config: &AgentConfig, server: &str, code: &str) -> anyhow::Result<Credential> {
    let url = check_server_url(server, config.server.allow_plain_http)
        .map_err(|e| anyhow!("--server: {e}"))?;
    let base = url.as_str().trim_end_matches('/').to_owned();
    let client = http_client(config)?;
    let key: PublicKey = client
        .get(format!("{base}/api/v1/policy/public-key"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .context("fetching the policy public key")?
        .error_for_status()
        .context("fetching the policy public key")?
        .json()
        .await
        .context("reading the policy public key")?;
    if key.algorithm != "Ed25519" {
        bail!(
            "the server signs policy with {:?}, not Ed25519",
            key.algorithm
        );
    }
    let policy_key = decode_key(&key.public_key).context("the server's policy public key")?;
    // A new key pair for the card keys, kept before the server learns its public half.
    let card_secret = super::card_keys::create_secret(&config.agent.state_dir)
        .context("making the card key pair")?;
    let send = |card_public_key: Option<String>| {
        client
            .post(format!("{base}/api/v1/agent/enroll"))
            .json(&EnrollRequest {
                code: code.to_owned(),
                card_public_key,
            })
            .timeout(Duration::from_secs(30))
            .send()
    };
    let public = STANDARD.encode(card_secret.public_key());
    let mut answer = send(Some(public)).await.context("enrolling")?;
    if answer.status() == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        // A server older than card keys refuses the unknown field before it looks at the
        // code (which stays unused): enrol without it.
        answer = send(None).await.context("enrolling")?;
    }
    if answer.status() == reqwest::StatusCode::UNAUTHORIZED {
        bail!("the server refused the enrolment code (unknown, used or expired)");
    }
    let enrolled: Enrolled = answer
        .error_for_status()
        .context("enrolling")?
        .json()
        .await
        .context("reading the enrolment answer")?;
    let credential = Credential {
        agent_id: enrolled.agent_id,
        token: SecretString::from(enrolled.token),
        door_ids: enrolled.door_ids,
        policy_key,
        server_url: base,
    };
    credential.save(&config.agent.credential_file)?;
    if let Some(text) = enrolled.pin_key {
        let key = decode_pin_key(&text).context("the server's PIN key")?;
        save_pin_key(&pin_key_path(&config.agent.credential_file), &key)?;
    }
    Ok(credential)
}
