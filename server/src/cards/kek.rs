//! The card key-encryption key (KEK): 32 bytes that encrypt every site card key at rest
//! (AES-256-GCM, a random 96-bit nonce per key; a site has a few keys per rollover, far
//! below the 2^32 encryptions a random nonce allows). It never enters the database, so a
//! database backup alone holds no card key.
//!
//! Where it comes from, first match wins: the `GATEHOUSE_KEK` environment variable (64
//! hex digits); the file named by `cards.kek_file` (64 hex digits; it must exist); else
//! `<data dir>/card-kek` (the SQLite file's folder, or `data/` on PostgreSQL), which the
//! server writes (random, mode 0600) when it first needs a KEK, i.e. when the first site
//! keys are made. That is later than the first start on purpose: a server that never
//! issues secure cards leaves no key file behind.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The environment variable holding the KEK (hex).
pub const KEK_ENV: &str = "GATEHOUSE_KEK";
/// The KEK file's name in the data folder when none is configured.
pub const KEK_FILE_NAME: &str = "card-kek";
const NONCE_LEN: usize = 12;

/// The key-encryption key. Redacted in `Debug`, wiped on drop.
pub struct Kek(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

impl Kek {
    /// A fresh random KEK.
    pub fn generate() -> Kek {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut_slice());
        Kek(bytes)
    }

    /// A KEK from 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Kek, &'static str> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), bytes.as_mut_slice())
            .map_err(|_| "must be 64 hex digits (32 bytes)")?;
        Ok(Kek(bytes))
    }

    fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_slice()))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_slice().into())
    }

    /// `nonce ‖ ciphertext` of `plain`, bound to `aad`.
    pub fn encrypt(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload { msg: plain, aad };
        // AES-GCM fails only on a message over 64 GiB; these are 16 bytes.
        let sealed = self
            .cipher()
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext of [`Kek::encrypt`]'s output; `None` when this KEK (or `aad`) is not
    /// the one it was made with, or it was altered.
    pub fn decrypt(&self, aad: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let payload = Payload { msg: sealed, aad };
        self.cipher()
            .decrypt(&Nonce::from(nonce), payload)
            .ok()
            .map(Zeroizing::new)
    }
}

/// Where the KEK was found, or where it will be made.
#[derive(Debug)]
pub enum Located {
    Found { kek: Kek, from: String },
    Missing { create_at: PathBuf },
}

/// A KEK that cannot be used: the message names its source.
#[derive(Debug, thiserror::Error)]
#[error("card key-encryption key: {0}")]
pub struct KekError(pub String);

/// Finds the KEK: `env` (the value of [`KEK_ENV`]), then `kek_file`, then the default
/// file in `data_dir` (which may not exist yet).
pub fn locate(
    env: Option<&str>,
    kek_file: Option<&Path>,
    data_dir: &Path,
) -> Result<Located, KekError> {
    if let Some(text) = env {
        let kek = Kek::from_hex(text).map_err(|why| KekError(format!("{KEK_ENV} {why}")))?;
        return Ok(Located::Found {
            kek,
            from: KEK_ENV.to_owned(),
        });
    }
    if let Some(path) = kek_file {
        let kek = read_file(path)
            .map_err(|why| KekError(format!("cards.kek_file {}: {why}", path.display())))?;
        return Ok(Located::Found {
            kek,
            from: path.display().to_string(),
        });
    }
    let path = data_dir.join(KEK_FILE_NAME);
    match fs::metadata(&path) {
        Ok(_) => {
            let kek =
                read_file(&path).map_err(|why| KekError(format!("{}: {why}", path.display())))?;
            Ok(Located::Found {
                kek,
                from: path.display().to_string(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Located::Missing { create_at: path })
        }
        Err(e) => Err(KekError(format!("{}: {e}", path.display()))),
    }
}

fn read_file(path: &Path) -> Result<Kek, String> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|e| e.to_string())?);
    Kek::from_hex(&text).map_err(str::to_owned)
}

/// Writes a new random KEK to `path` (mode 0600) and returns it; when another process
/// made the file first, returns that one instead. Crash-safe: the file appears whole or
/// not at all (temp file, fsync, hard link, which fails rather than replace).
pub fn create(path: &Path) -> Result<Kek, KekError> {
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| KekError(format!("cannot create {}: {e}", path.display()));
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(fail)?;
    let kek = Kek::generate();
    let tmp = dir.join(format!(".{KEK_FILE_NAME}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    let text = kek.to_hex();
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(fail)?;
    drop(file);
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
            Ok(kek)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_file(path).map_err(|why| KekError(format!("{}: {why}", path.display())))
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_with_its_associated_data() {
        let kek = Kek::generate();
        let blob = kek.encrypt(b"site 1 read", &[7; 16]);
        assert_eq!(blob.len(), 12 + 16 + 16);
        assert!(!blob.windows(16).any(|w| w == [7; 16]));
        assert_eq!(
            kek.decrypt(b"site 1 read", &blob).as_deref(),
            Some(&vec![7; 16])
        );
        assert!(kek.decrypt(b"site 1 uid", &blob).is_none(), "another role");
        assert!(
            Kek::generate().decrypt(b"site 1 read", &blob).is_none(),
            "another KEK"
        );
        assert!(kek.decrypt(b"site 1 read", &blob[..5]).is_none());
    }

    #[test]
    fn the_environment_wins_then_the_file_then_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let hex64 = "ab".repeat(32);
        let file = dir.path().join("kek");
        fs::write(&file, format!("{}\n", "cd".repeat(32))).unwrap();
        let from = |l: Located| match l {
            Located::Found { from, .. } => from,
            Located::Missing { create_at } => format!("missing {}", create_at.display()),
        };
        let found = locate(Some(&hex64), Some(&file), dir.path()).unwrap();
        assert_eq!(from(found), KEK_ENV);
        let found = locate(None, Some(&file), dir.path()).unwrap();
        assert_eq!(from(found), file.display().to_string());
        let default = dir.path().join(KEK_FILE_NAME);
        let missing = locate(None, None, dir.path()).unwrap();
        assert_eq!(from(missing), format!("missing {}", default.display()));

        let bad = locate(Some("abc"), None, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            bad.contains("GATEHOUSE_KEK") && bad.contains("64 hex"),
            "{bad}"
        );
        let absent = dir.path().join("nope");
        let bad = locate(None, Some(&absent), dir.path())
            .unwrap_err()
            .to_string();
        assert!(bad.contains("cards.kek_file"), "{bad}");
        // Nothing secret in the messages or in Debug.
        assert!(!bad.contains(&hex64));
        let Located::Found { kek, .. } = locate(Some(&hex64), None, dir.path()).unwrap() else {
            panic!("found")
        };
        assert_eq!(format!("{kek:?}"), "Kek(<redacted>)");
    }

    #[test]
    fn created_once_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEK_FILE_NAME);
        let kek = create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let blob = kek.encrypt(b"x", b"y");
        // A second creator gets the first one's key, never a new one.
        let again = create(&path).unwrap();
        assert!(again.decrypt(b"x", &blob).is_some());
        let Located::Found { kek: read, .. } = locate(None, None, &dir.path().join("sub")).unwrap()
        else {
            panic!("found")
        };
        assert!(read.decrypt(b"x", &blob).is_some());
    }
}
