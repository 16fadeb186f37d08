//! What one PIN guess costs whoever can still make guesses offline (README, "PINs"):
//! - with database access: one SHA-256 of salt ‖ PIN against the stored hash;
//! - with a door agent's PIN key file and its policy snapshot: one SHA-256 and one
//!   HMAC-SHA256 against the verifier. `PinVerifier::check` tests a PIN and its duress
//!   form at once, so a search needs one call per two candidates;
//! - with the snapshot alone, or as an operator: none (nothing to test against).
//!
//! `cargo bench -p gatehouse-core --bench pin_guess` (guesses from
//! `GATEHOUSE_BENCH_GUESSES`, default 200000).

use gatehouse_core::model::{PinCheck, PinHash, PinKey, PinVerifier};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let guesses: u32 = std::env::var("GATEHOUSE_BENCH_GUESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let salt = [7u8; 16];
    let stored = PinHash::with_salt("73914682", salt).unwrap_or_else(|e| panic!("{e}"));
    let key = PinKey::generate();
    let verifier = PinVerifier::keyed(&stored, &key);
    let pins: Vec<String> = (0..guesses).map(|n| format!("{:08}", n * 2)).collect();

    let start = Instant::now();
    let mut hits = 0u32;
    for pin in &pins {
        let guess = PinHash::with_salt(black_box(pin), salt).unwrap_or_else(|e| panic!("{e}"));
        hits += u32::from(guess.hash == stored.hash);
    }
    let database = start.elapsed().as_nanos() as f64 / f64::from(guesses);
    black_box(hits);

    let start = Instant::now();
    for pin in &pins {
        let check = verifier.check(Some(&key), black_box(pin));
        hits += u32::from(check != Ok(PinCheck::Incorrect));
    }
    let keyed = start.elapsed().as_nanos() as f64 / f64::from(guesses) / 2.0;
    black_box(hits);

    println!("offline PIN search, per candidate PIN ({guesses} guesses):");
    for (who, ns) in [
        ("database (salt + SHA-256)", database),
        ("agent key file + snapshot (SHA-256 + HMAC)", keyed),
    ] {
        println!(
            "  {who:<44} {:>7.0} ns; all 4 digits {:>8.3} s, all 8 digits {:>8.0} s",
            ns,
            ns * 1e4 / 1e9,
            ns * 1e8 / 1e9
        );
    }
}
