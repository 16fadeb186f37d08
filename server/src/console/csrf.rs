//! Cross-site request refusal: every state-changing console request must come from a
//! page of this server. `SameSite=Strict` already keeps the cookie off other sites'
//! requests; this checks the browser's own statement of where the request comes from
//! (`Sec-Fetch-Site`, or `Origin` against `Host` for browsers that do not send it), so a
//! forged form fails even where the cookie would travel (e.g. a sibling subdomain).

use super::page::Failure;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Middleware for the console's routes.
pub async fn same_origin_only(request: Request, next: Next) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    // A violation report changes nothing but a log line, whoever sends it.
    let report = request.uri().path() == "/csp-report";
    if safe || report || from_this_site(request.headers()) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "cross-site console request refused");
    Failure::cross_site().into_response()
}

/// Whether the browser says the request comes from this site (or was typed by the user).
pub fn from_this_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn table() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("sec-fetch-site", "same-origin")], true),
            (&[("sec-fetch-site", "none")], true),
            (&[("sec-fetch-site", "cross-site")], false),
            (&[("sec-fetch-site", "same-site")], false),
            // Sec-Fetch-Site decides even when Origin would match.
            (
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "http://h:8080"),
                    ("host", "h:8080"),
                ],
                false,
            ),
            (&[("origin", "http://h:8080"), ("host", "h:8080")], true),
            (&[("origin", "https://H:8080"), ("host", "h:8080")], true),
            (&[("origin", "http://evil:8080"), ("host", "h:8080")], false),
            (&[("origin", "http://h:8081"), ("host", "h:8080")], false),
            (&[("origin", "null"), ("host", "h:8080")], false),
            (&[("host", "h:8080")], false),
            (&[], false),
        ];
        for (pairs, expected) in cases {
            assert_eq!(from_this_site(&headers(pairs)), *expected, "{pairs:?}");
        }
    }
}
