//! `gatehouse tls self-signed`: a self-signed certificate (ECDSA P-256, valid ten years)
//! for the given host names and IP addresses, written as `server.pem` and
//! `server-key.pem` (mode 0600), with its SHA-256 fingerprint and the config lines for
//! the server and the door agents printed.

use chrono::{Datelike, Utc};
use clap::{Args, Subcommand};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType,
};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Years a generated certificate is valid.
const VALID_YEARS: i32 = 10;

/// `gatehouse tls ...`.
#[derive(Subcommand)]
pub enum TlsCommand {
    /// Make a self-signed certificate and key for the API (for small sites; door
    /// agents pin the certificate with `server.ca_cert`).
    SelfSigned(SelfSignedArgs),
}

#[derive(Args)]
pub struct SelfSignedArgs {
    /// A DNS name the agents use to reach the server (repeatable).
    #[arg(long = "hostname", value_name = "NAME")]
    pub hostnames: Vec<String>,
    /// An IP address the agents use to reach the server (repeatable).
    #[arg(long = "ip", value_name = "ADDR")]
    pub ips: Vec<IpAddr>,
    /// Folder for server.pem and server-key.pem (created when missing).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Replace server.pem and server-key.pem when they exist.
    #[arg(long)]
    pub force: bool,
}

/// A generated certificate and its key, PEM-encoded.
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the certificate (DER), as colon-separated upper-case hex.
    pub fingerprint: String,
}

/// Generates a certificate valid for `hostnames` and `ips` (at least one in all).
pub fn generate(hostnames: &[String], ips: &[IpAddr]) -> anyhow::Result<SelfSigned> {
    let Some(common_name) = hostnames
        .first()
        .cloned()
        .or_else(|| ips.first().map(IpAddr::to_string))
    else {
        anyhow::bail!("give at least one --hostname or --ip");
    };
    let mut names = Vec::with_capacity(hostnames.len() + ips.len());
    for name in hostnames {
        let dns = rcgen::string::Ia5String::try_from(name.as_str())
            .map_err(|e| anyhow::anyhow!("--hostname {name:?} is not a DNS name: {e}"))?;
        names.push(SanType::DnsName(dns));
    }
    names.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));

    let mut params = CertificateParams::default();
    params.subject_alt_names = names;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Gatehouse (self-signed)");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let yesterday = Utc::now() - chrono::Duration::days(1);
    let (month, day) = (
        month_day(yesterday.month()),
        month_day(yesterday.day().min(28)),
    );
    params.not_before = rcgen::date_time_ymd(yesterday.year(), month, day);
    params.not_after = rcgen::date_time_ymd(yesterday.year() + VALID_YEARS, month, day);

    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        fingerprint: fingerprint(cert.der()),
    })
}

fn month_day(value: u32) -> u8 {
    u8::try_from(value).unwrap_or(1)
}

/// SHA-256 of `der` as `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| hex::encode_upper([*b]))
        .collect::<Vec<_>>()
        .join(":")
}

/// Runs `gatehouse tls ...`.
pub fn run(command: &TlsCommand) -> anyhow::Result<()> {
    let TlsCommand::SelfSigned(args) = command;
    let pair = generate(&args.hostnames, &args.ips)?;
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out_dir.display()))?;
    let dir = std::fs::canonicalize(&args.out_dir)
        .map_err(|e| anyhow::anyhow!("cannot resolve {}: {e}", args.out_dir.display()))?;
    let cert_path = dir.join("server.pem");
    let key_path = dir.join("server-key.pem");
    for path in [&cert_path, &key_path] {
        if path.exists() && !args.force {
            anyhow::bail!(
                "{} already exists; pass --force to replace it",
                path.display()
            );
        }
    }
    write_file(&key_path, pair.key_pem.as_bytes(), 0o600)?;
    write_file(&cert_path, pair.cert_pem.as_bytes(), 0o644)?;

    let host = args
        .hostnames
        .first()
        .cloned()
        .or_else(|| {
            args.ips.first().map(|ip| match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            })
        })
        .unwrap_or_default();
    let valid_for = args
        .hostnames
        .iter()
        .cloned()
        .chain(args.ips.iter().map(IpAddr::to_string))
        .collect::<Vec<_>>()
        .join(", ");
    println!("wrote {} (certificate)", cert_path.display());
    println!("wrote {} (private key, mode 0600)", key_path.display());
    println!("valid for: {valid_for} ({VALID_YEARS} years)");
    println!("SHA-256 fingerprint: {}", pair.fingerprint);
    println!();
    println!("Server (config/server.toml):");
    println!("  [tls]");
    println!("  cert = {:?}", cert_path.display().to_string());
    println!("  key = {:?}", key_path.display().to_string());
    println!();
    println!(
        "Each door agent (door-agent.toml), with server.pem copied to it (the key stays on the server):"
    );
    println!("  [server]");
    println!("  url = \"https://{host}:8080\"");
    println!("  ca_cert = {:?}", cert_path.display().to_string());
    Ok(())
}

/// Writes `bytes` to `path` (replacing it) with permissions `mode` on Unix, set at
/// creation so the key is never readable by others, even briefly.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let failed = |e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(())
}
