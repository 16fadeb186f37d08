//! Console sessions in a real browser: logging in and out through the forms, the idle
//! and absolute ends of a session, and the CSP check every browser test ends with.

use gatehouse_e2e::browser::PAGE_TIMEOUT;
use gatehouse_e2e::{Browser, Console};
use std::time::{Duration, Instant};

#[tokio::test]
async fn login_lands_on_the_role_home_and_logout_ends_the_session() {
    let Some(mut console) = Console::start("login_and_logout", &[]).await else {
        return;
    };
    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    assert_eq!(browser.path().await, "/desk");
    assert!(browser.page_text().await.contains("officer"));
    browser.goto("/alarms").await;
    browser.goto("/threat").await;
    browser.goto("/account").await;

    browser.press("Log out").await;
    assert_eq!(browser.path().await, "/login");
    // Back to the page before: the browser asks the server again (nothing shown from a
    // cache), which sends it to the login form.
    browser.client().back().await.unwrap();
    let path = browser.path().await;
    assert!(path.starts_with("/login"), "back after logout shows {path}");
    assert!(!browser.page_text().await.contains("officer"));
    browser.goto("/desk").await;
    assert!(
        browser.path().await.starts_with("/login"),
        "{}",
        browser.path().await
    );
    console.finish().await;
}

/// With the keyboard alone: the login form has the focus, Tab moves to the password,
/// Enter logs in; on the page, the first Tab stop skips to the content.
#[tokio::test]
async fn login_works_with_the_keyboard_alone() {
    let Some(mut console) = Console::start("keyboard_login", &[]).await else {
        return;
    };
    let password = console.operator("officer", "security").await;
    let browser = &mut console.browser;
    browser.goto("/login").await;
    assert!(browser.focused().await.contains("id=\"username\""));
    let keys = format!("officer{}{password}{}", Browser::TAB, Browser::ENTER);
    browser.keys(&keys, true).await;
    assert_eq!(browser.path().await, "/desk");
    browser.keys(Browser::TAB, false).await;
    let first = browser.focused().await;
    assert!(first.contains("Skip to content"), "{first}");
    browser.keys(Browser::ENTER, false).await;
    assert!(browser.path().await.starts_with("/desk"));
    console.finish().await;
}

/// Changing one's own password on the account page ends one's other sessions (here an
/// API token) and the new password is the one that logs in.
#[tokio::test]
async fn changing_my_password_ends_my_other_sessions() {
    let Some(mut console) = Console::start("change_password", &[]).await else {
        return;
    };
    let old = console.operator("host", "host").await;
    let other = console.api.token("host", &old).await;
    let browser = &mut console.browser;
    browser.login("host", &old).await;
    // A host lands on its visitors (issue 13); the account page is in the menu.
    assert_eq!(browser.path().await, "/visits");
    browser.goto("/account").await;
    browser.fill("#current_password", &old).await;
    browser.fill("#new_password", "a-brand-new-password").await;
    browser.press("Change password").await;
    let text = browser.text("main").await;
    assert!(text.contains("Your password was changed"), "{text}");
    let me = console.api.get("/auth/me", &other).await;
    assert_eq!(me.status().as_u16(), 401, "the other session survived");

    let browser = &mut console.browser;
    browser.press("Log out").await;
    browser.goto("/login").await;
    browser.fill("#username", "host").await;
    browser.fill("#password", &old).await;
    browser.press("Log in").await;
    assert_eq!(
        browser.path().await,
        "/login",
        "the old password still works"
    );
    browser.login("host", "a-brand-new-password").await;
    assert_eq!(browser.path().await, "/visits");
    console.finish().await;
}

#[tokio::test]
async fn a_wrong_password_stays_on_the_login_form() {
    let Some(mut console) = Console::start("wrong_password", &[]).await else {
        return;
    };
    let browser = &mut console.browser;
    browser.goto("/login").await;
    browser.fill("#username", "admin").await;
    browser.fill("#password", "not-the-password").await;
    browser.press("Log in").await;
    assert_eq!(browser.path().await, "/login");
    assert!(
        browser
            .text("[role=alert]")
            .await
            .contains("Wrong username or password")
    );
    console.finish().await;
}

#[tokio::test]
async fn an_idle_session_ends() {
    let env = [("GATEHOUSE__CONSOLE__IDLE_TIMEOUT_S", "2")];
    let Some(mut console) = Console::start("idle_expiry", &env).await else {
        return;
    };
    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    browser.goto("/alarms").await;
    assert_eq!(browser.path().await, "/alarms");
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.goto("/threat").await;
    assert!(
        browser.path().await.starts_with("/login"),
        "{}",
        browser.path().await
    );
    console.finish().await;
}

#[tokio::test]
async fn a_session_ends_at_its_lifetime_however_busy() {
    let env = [
        ("GATEHOUSE__CONSOLE__IDLE_TIMEOUT_S", "2"),
        ("GATEHOUSE__CONSOLE__SESSION_LIFETIME_S", "4"),
    ];
    let Some(mut console) = Console::start("absolute_expiry", &env).await else {
        return;
    };
    console.login_as("officer", "security").await;
    let logged_in = Instant::now();
    let browser = &mut console.browser;
    // A page a second, never idle for 2 s: the session lasts until its lifetime ends.
    let mut pages = 0;
    while !browser.path().await.starts_with("/login") {
        assert!(
            logged_in.elapsed() < Duration::from_secs(4) + PAGE_TIMEOUT,
            "the session outlived its lifetime"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        browser
            .goto(if pages % 2 == 0 { "/alarms" } else { "/desk" })
            .await;
        pages += 1;
    }
    let lasted = logged_in.elapsed();
    assert!(
        lasted >= Duration::from_secs(3),
        "ended after {lasted:?}, before its lifetime"
    );
    assert!(pages >= 3, "only {pages} pages before the end");
    console.finish().await;
}

/// The checks every browser test relies on do see what they look for: a script the
/// page adds inline is refused and reported to the server's log, and axe-core reports an
/// image without a text alternative.
#[tokio::test]
async fn the_csp_and_accessibility_checks_catch_a_broken_page() {
    let Some(mut console) = Console::start("csp_and_axe_checks", &[]).await else {
        return;
    };
    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    if browser.checks_accessibility() {
        assert_eq!(
            browser.checked_pages.len(),
            2,
            "{:?}",
            browser.checked_pages
        );
    }
    browser
        .execute(
            "var s = document.createElement('script');
             s.textContent = 'document.title = \"inline ran\"';
             document.body.appendChild(s);
             var img = document.createElement('img');
             img.src = '/assets/none.png';
             document.querySelector('main').appendChild(img);
             return null;",
        )
        .await;
    if let Some(violations) = browser.axe_violations().await {
        assert!(
            violations.iter().any(|v| v.rule == "image-alt"),
            "{violations:?}"
        );
    }
    assert_ne!(browser.title().await, "inline ran");
    console.wait_log("csp violation", PAGE_TIMEOUT).await;
}
