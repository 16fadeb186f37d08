//! A PDF read back by independent tools, as the server's badge tests do: poppler's
//! `pdftotext` for its text, `pdftoppm` (300 dpi) then zbar's `zbarimg` for its QR code.
//! Without the tools the reading is skipped with a message, unless
//! `GATEHOUSE_TEST_REQUIRE_PDF_TOOLS` (the server's tests' variable, set by `.ci/run`)
//! or `GATEHOUSE_TEST_REQUIRE_CHROMIUM` (the browser tests') is set.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set (to anything) to fail instead of skipping when the tools are missing.
pub const REQUIRE_VAR: &str = "GATEHOUSE_TEST_REQUIRE_PDF_TOOLS";

/// What the tools read in a PDF.
pub struct ReadBack {
    /// Its text (`pdftotext`).
    pub text: String,
    /// The content of the QR code on its first page (`zbarimg`).
    pub qr: String,
}

/// Whether pdftoppm, pdftotext and zbarimg are installed; panics when they are not but
/// required, prints that reading back `what` is skipped otherwise.
pub fn tools(what: &str) -> bool {
    let found = ["pdftoppm", "pdftotext", "zbarimg"]
        .iter()
        .all(|tool| Command::new(tool).arg("-v").output().is_ok());
    if !found {
        let message = "pdftoppm, pdftotext or zbarimg is missing \
                       (Debian: apt-get install poppler-utils zbar-tools)";
        let required = [REQUIRE_VAR, crate::browser::REQUIRE_VAR]
            .iter()
            .find(|var| std::env::var_os(var).is_some());
        assert!(required.is_none(), "{required:?} is set but {message}");
        eprintln!("skipped reading back {what}: {message}");
    }
    found
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `pdf` in a file of a new temporary folder (kept while the folder is).
fn in_file(pdf: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a folder for the PDF");
    let file = dir.path().join("document.pdf");
    std::fs::write(&file, pdf).expect("write the PDF");
    (dir, file)
}

/// The text of `pdf` (pdftotext; the tools must be there: see [`tools`]).
pub fn text(pdf: &[u8]) -> String {
    let (_dir, file) = in_file(pdf);
    run("pdftotext", &[path_text(&file), "-"])
}

/// The content of the QR code on the first page of `pdf` (pdftoppm at 300 dpi, then
/// zbarimg; the tools must be there: see [`tools`]).
pub fn qr(pdf: &[u8]) -> String {
    let (dir, file) = in_file(pdf);
    let prefix = dir.path().join("page");
    let png = [
        "-r",
        "300",
        "-png",
        "-singlefile",
        path_text(&file),
        path_text(&prefix),
    ];
    run("pdftoppm", &png);
    let image = dir.path().join("page.png");
    run("zbarimg", &["-q", "--raw", path_text(&image)])
        .trim()
        .to_owned()
}

/// `pdf` (named `what` in messages) read back, or `None` when the tools are missing
/// and not required.
pub fn read_back(what: &str, pdf: &[u8]) -> Option<ReadBack> {
    tools(what).then(|| ReadBack {
        text: text(pdf),
        qr: qr(pdf),
    })
}

fn path_text(path: &Path) -> &str {
    path.to_str().expect("a temporary path in UTF-8")
}
