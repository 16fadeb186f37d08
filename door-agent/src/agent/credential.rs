//! The agent's identity, written by `door-agent enroll`: agent id, bearer token, its
//! doors and the server's pinned policy-signing key. Stored as JSON, mode 0600, written
//! atomically. The token is a [`SecretString`], so `Debug` never shows it.
//!
//! Beside it, in `<credential file>.pin-key` (base64, mode 0600), the server's PIN key:
//! the secret that checks the PIN verifiers of the policy snapshot. It is kept apart from
//! the snapshot (in the state directory) so that a copy of the snapshot tests no PIN
//! guess; whoever has both files can search a PIN at a few microseconds a guess (README).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use gatehouse_core::model::PinKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What enrolment produced.
#[derive(Debug)]
pub struct Credential {
    /// The agent's id at the server.
    pub agent_id: Uuid,
    /// `Authorization: Bearer` token.
    pub token: SecretString,
    /// The doors the server assigned to this agent.
    pub door_ids: Vec<Uuid>,
    /// The key that must have signed every policy snapshot (pinned at enrolment).
    pub policy_key: VerifyingKey,
    /// The server the agent enrolled with.
    pub server_url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    agent_id: Uuid,
    token: String,
    door_ids: Vec<Uuid>,
    /// Ed25519 public key, base64.
    policy_public_key: String,
    server_url: String,
}

impl Credential {
    /// Reads the credential file.
    pub fn load(path: &Path) -> anyhow::Result<Credential> {
        let text = fs::read_to_string(path).with_context(|| {
            format!(
                "reading the credential file {} (run `door-agent enroll` first)",
                path.display()
            )
        })?;
        let file: CredentialFile = serde_json::from_str(&text)
            .with_context(|| format!("credential file {} is malformed", path.display()))?;
        let policy_key = decode_key(&file.policy_public_key)
            .with_context(|| format!("credential file {}: policy_public_key", path.display()))?;
        Ok(Credential {
            agent_id: file.agent_id,
            token: SecretString::from(file.token),
            door_ids: file.door_ids,
            policy_key,
            server_url: file.server_url,
        })
    }

    /// Writes the credential file, readable by its owner only.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let file = CredentialFile {
            agent_id: self.agent_id,
            token: self.token.expose_secret().to_owned(),
            door_ids: self.door_ids.clone(),
            policy_public_key: STANDARD.encode(self.policy_key.as_bytes()),
            server_url: self.server_url.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file)?;
        bytes.push(b'\n');
        write_atomic(path, &bytes, 0o600)
    }
}

/// An Ed25519 public key from base64.
pub fn decode_key(text: &str) -> anyhow::Result<VerifyingKey> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow!("not base64"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow!("not a 32-byte Ed25519 key"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| anyhow!("not a valid Ed25519 key"))
}

/// Where the PIN key is kept: `<credential file>.pin-key`.
pub fn pin_key_path(credential_file: &Path) -> PathBuf {
    let mut path = credential_file.as_os_str().to_owned();
    path.push(".pin-key");
    PathBuf::from(path)
}

/// A PIN key from base64 (32 bytes).
pub fn decode_pin_key(text: &str) -> anyhow::Result<PinKey> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| anyhow!("not base64"))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow!("not a 32-byte PIN key"))?;
    Ok(PinKey::from_bytes(bytes))
}

/// Writes the PIN key, readable by its owner only.
pub fn save_pin_key(path: &Path, key: &PinKey) -> anyhow::Result<()> {
    let text = format!("{}\n", STANDARD.encode(key.as_bytes()));
    write_atomic(path, text.as_bytes(), 0o600)
}

/// Reads the PIN key; `None` when there is no file yet (the server sends it).
pub fn load_pin_key(path: &Path) -> anyhow::Result<Option<PinKey>> {
    match fs::read_to_string(path) {
        Ok(text) => decode_pin_key(&text)
            .map(Some)
            .with_context(|| format!("PIN key file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new content, never a
/// mix: temp file (mode `mode`) + fsync + rename + directory fsync.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_owner_only_and_token_hidden_from_debug() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/cred.json");
        let key = gatehouse_core::policy::generate_key().verifying_key();
        let cred = Credential {
            agent_id: Uuid::new_v4(),
            token: SecretString::from("gha_supersecret".to_owned()),
            door_ids: vec![Uuid::new_v4()],
            policy_key: key,
            server_url: "http://127.0.0.1:1".into(),
        };
        cred.save(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = Credential::load(&path).unwrap();
        assert_eq!(loaded.token.expose_secret(), "gha_supersecret");
        assert_eq!(loaded.policy_key, key);
        assert!(!format!("{loaded:?}").contains("supersecret"));
    }

    #[test]
    fn the_pin_key_is_kept_beside_the_credential_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = pin_key_path(&dir.path().join("cred.json"));
        assert_eq!(path, dir.path().join("cred.json.pin-key"));
        assert!(load_pin_key(&path).unwrap().is_none());
        let key = PinKey::from_bytes([9; 32]);
        save_pin_key(&path, &key).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_pin_key(&path).unwrap(), Some(key));
        fs::write(&path, "short").unwrap();
        assert!(load_pin_key(&path).is_err());
    }
}
