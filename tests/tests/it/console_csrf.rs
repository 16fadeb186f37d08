//! A forged cross-site form, posted by the browser from a page of another origin, is
//! refused and changes nothing: from another port of the same host (same-site, so the
//! `SameSite=Strict` cookie does travel and only the `Sec-Fetch-Site` check stands) and
//! from another host (cross-site).

use gatehouse_e2e::Console;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `html` to every request on a new port of `ip`; returns the page's URL.
async fn attacker_page(ip: &str, html: String) -> String {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{html}",
                html.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    url
}

#[tokio::test]
async fn a_forged_cross_site_post_is_refused() {
    let Some(mut console) = Console::start("forged_post", &[]).await else {
        return;
    };
    let site = console
        .api
        .created(
            &console.admin,
            "/sites",
            serde_json::json!({"name": "HQ", "timezone": "UTC"}),
        )
        .await;
    let site_id = site["id"].as_str().unwrap().to_owned();
    console.login_as("officer", "security").await;
    // A form like the console's own confirmation, sent the moment the page loads.
    let html = format!(
        "<!doctype html><html lang=en><title>Win a prize</title>\
         <form id=f method=post action=\"{}/threat/{site_id}\">\
         <input name=level value=9><input name=clearance_raise value=5>\
         <input name=lockdown value=on><button>Claim</button></form>\
         <script>document.getElementById('f').submit()</script>",
        console.server.base_url
    );
    // Another port of the console's host (same-site), and another loopback address
    // (cross-site; `localhost` would do too, but Chromium here spends a minute on it).
    for origin in [
        attacker_page("127.0.0.1", html.clone()).await,
        attacker_page("127.0.0.2", html.clone()).await,
    ] {
        console.browser.goto(&origin).await;
        let browser = &console.browser;
        let refused = gatehouse_e2e::wait_until(
            gatehouse_e2e::browser::PAGE_TIMEOUT,
            "the forged form's answer",
            async || {
                let path = browser.path().await;
                path.starts_with("/threat").then_some(())?;
                let text = browser.page_text().await;
                text.contains("Error 403").then_some(text)
            },
        )
        .await;
        assert!(!refused.contains("LOCKDOWN"), "{refused}");
        let now = console.get(&format!("/sites/{site_id}")).await;
        assert_eq!(
            now["threat"]["level"], 0,
            "after the form from {origin}: {now}"
        );
        assert_eq!(now["threat"]["lockdown"], false, "{now}");
    }
    assert_eq!(
        console
            .log_lines("cross-site console request refused")
            .len(),
        2,
        "both forged posts reached the server and were refused"
    );
    // The same change from the console's own page still works: the session was fine.
    let browser = &mut console.browser;
    browser
        .goto(&format!("/threat/{site_id}?level=2&clearance_raise=0"))
        .await;
    browser.press("Confirm").await;
    assert_eq!(browser.path().await, "/threat");
    let now = console.get(&format!("/sites/{site_id}")).await;
    assert_eq!(now["threat"]["level"], 2, "{now}");
    console.finish().await;
}
