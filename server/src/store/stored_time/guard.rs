//! Keeps every time read from the database going through [`super::StoredTime`]: scans the
//! server's sources for a row field or a query result decoding chrono directly, which
//! sqlx's PostgreSQL decoder would do with a panicking `+`.

use std::path::{Path, PathBuf};

/// The chrono types sqlx decodes with unchecked arithmetic on PostgreSQL.
fn mentions_chrono(text: &str) -> bool {
    ["DateTime", "NaiveDateTime", "chrono::"]
        .iter()
        .any(|t| text.contains(t))
}

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Fields of structs deriving `FromRow` whose time type lacks the `try_from` attribute.
fn row_fields(name: &str, text: &str, problems: &mut Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut in_row = false;
    let mut derives_row = false;
    for (n, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("#[derive(") && trimmed.contains("FromRow") {
            derives_row = true;
            continue;
        }
        if derives_row && (trimmed.contains("struct ") || trimmed.contains("enum ")) {
            derives_row = false;
            in_row = trimmed.ends_with('{');
            continue;
        }
        if !in_row {
            continue;
        }
        if trimmed == "}" {
            in_row = false;
            continue;
        }
        let Some((_, ty)) = trimmed.split_once(": ") else {
            continue;
        };
        if trimmed.starts_with("#[") || trimmed.starts_with("//") || !mentions_chrono(ty) {
            continue;
        }
        let want = match ty.trim_end_matches(',') {
            "DateTime<Utc>" => "#[sqlx(try_from = \"StoredTime\")]",
            "Option<DateTime<Utc>>" => "#[sqlx(try_from = \"OptionalStoredTime\")]",
            _ => "a try_from through StoredTime",
        };
        let attributes = lines[..n]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("#[") || l.starts_with("//"));
        if !attributes.clone().any(|a| a == want) {
            problems.push(format!(
                "{name}:{}: row field `{trimmed}` needs {want}",
                n + 1
            ));
        }
    }
}

/// The type between `<` at `from` and its matching `>`.
fn generic_args(text: &str, from: usize) -> &str {
    let mut depth = 0usize;
    for (i, c) in text[from..].char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &text[from..from + i];
                }
            }
            _ => {}
        }
    }
    &text[from..]
}

/// Queries whose result type (turbofish, or the annotated `let` it is assigned to, or a
/// tuple alias) decodes chrono directly.
fn query_results(name: &str, text: &str, problems: &mut Vec<String>) {
    for call in ["query_as::<", "query_scalar::<"] {
        for (at, _) in text.match_indices(call) {
            let args = generic_args(text, at + call.len() - 1);
            if mentions_chrono(args) {
                let call = call.trim_end_matches('<');
                problems.push(format!("{name}: `{call}{args}>` decodes a time directly"));
            }
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let annotated = trimmed.starts_with("let ") && trimmed.contains(": ");
        let alias = trimmed.starts_with("type ") && trimmed.contains("= (");
        if !(annotated || alias) {
            continue;
        }
        let ty = trimmed
            .split_once(if alias { "=" } else { ": " })
            .map_or("", |t| t.1);
        let ty = ty.split_once(" = ").map_or(ty, |t| t.0);
        if !mentions_chrono(ty) {
            continue;
        }
        let statement: String = lines[n..].iter().take(4).copied().collect();
        if alias
            || ["query_as(", "query_scalar(", "build_query_as("]
                .iter()
                .any(|q| statement.contains(q))
        {
            problems.push(format!(
                "{name}:{}: `{trimmed}` decodes a time directly",
                n + 1
            ));
        }
    }
}

#[test]
fn every_time_read_from_the_database_decodes_through_stored_time() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} sources under {root:?}",
        files.len()
    );
    let mut problems = Vec::new();
    for file in files {
        if file.ends_with("stored_time/guard.rs") {
            continue;
        }
        let name = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        row_fields(&name, &text, &mut problems);
        query_results(&name, &text, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_guard_catches_a_direct_decode() {
    let mut problems = Vec::new();
    let bad = "#[derive(Debug, sqlx::FromRow)]\nstruct R {\n    id: Uuid,\n    \
               at: DateTime<Utc>,\n    #[sqlx(try_from = \"StoredTime\")]\n    \
               until: Option<DateTime<Utc>>,\n}\n";
    row_fields("bad.rs", bad, &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");
    let mut problems = Vec::new();
    let bad = "let a = sqlx::query_scalar::<_, Option<DateTime<Utc>>>(SQL);\n\
               let b: Vec<(Uuid, DateTime<Utc>)> = on!(pool, |p| {\n    sqlx::query_as(\n";
    query_results("bad.rs", bad, &mut problems);
    assert_eq!(problems.len(), 2, "{problems:?}");
    let mut problems = Vec::new();
    let good = "#[derive(sqlx::FromRow)]\nstruct R {\n    \
                #[sqlx(try_from = \"OptionalStoredTime\")]\n    \
                at: Option<DateTime<Utc>>,\n}\n\
                let c = query_as::<_, (i64, StoredTime)>(S);\n";
    row_fields("good.rs", good, &mut problems);
    query_results("good.rs", good, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
}
