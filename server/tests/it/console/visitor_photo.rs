//! The visitor's photo on the visit's page: taken or chosen in a form (a tablet camera
//! through `capture="user"`), shown with the visitor's name as its text, replaced and
//! removed; an auditor sees it without the form; a wrong file is refused on the page.

use super::client::Console;
use crate::common::{PASSWORD, TestApp, TestDb, expect};
use crate::visits::support::{operator, site, visit};
use reqwest::StatusCode;

conformance!(the_desk_takes_shows_and_removes_a_visitors_photo);

/// A multipart form with one `photo` file part of `content_type`, as a browser posts it.
async fn post_photo(
    console: &Console<'_>,
    visit: &str,
    content_type: &str,
    bytes: &[u8],
) -> (StatusCode, String, String) {
    let boundary = "----gatehouse-photo-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"me.png\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(console.app.url(&format!("/visits/{visit}/photo")))
        .header("cookie", console.cookie.clone().unwrap())
        .header("sec-fetch-site", "same-origin")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, response.text().await.unwrap())
}

async fn the_desk_takes_shows_and_removes_a_visitors_photo(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, desk_token) = operator(&app, &s.admin, "rita", "receptionist").await;
    operator(&app, &s.admin, "audrey", "auditor").await;
    let id = app
        .post(
            "/api/v1/visits",
            &desk_token,
            visit(&s.host, &[&s.lobby], 60),
        )
        .await;
    let id = expect(id, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let desk = Console::login(&app, "rita", PASSWORD).await;
    let auditor = Console::login(&app, "audrey", PASSWORD).await;
    let page = format!("/visits/{id}");
    let img = format!("<img src=\"/visits/{id}/photo\" alt=\"Vera Visitor\">");

    let before = desk.get(&page).await;
    assert_eq!(before.status, StatusCode::OK);
    assert!(
        before.body.contains("Take or choose a photo"),
        "{}",
        before.body
    );
    assert!(before.body.contains("capture=\"user\""));
    assert!(before.body.contains("accept=\"image/jpeg,image/png\""));
    assert!(!before.body.contains(&img));
    // Nothing to show an auditor yet, and nothing it may do.
    assert!(!auditor.get(&page).await.body.contains("visit-photo"));

    let png = crate::visits::photo::png_photo(24, 32);
    let (status, location, _) = post_photo(&desk, &id, "image/png", &png).await;
    assert_eq!(
        (status, location.as_str()),
        (StatusCode::SEE_OTHER, page.as_str())
    );
    let shown = desk.get(&page).await;
    assert!(shown.body.contains(&img), "{}", shown.body);
    assert!(shown.body.contains("Replace the photo"));
    assert!(shown.body.contains("Remove the photo"));
    let served = reqwest::Client::new()
        .get(app.url(&format!("/visits/{id}/photo")))
        .header("cookie", desk.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["cache-control"], "private, no-store");
    assert_eq!(served.bytes().await.unwrap().as_ref(), png.as_slice());
    // Without a session: the login page, not the photo.
    let anonymous = Console::new(&app).get(&format!("/visits/{id}/photo")).await;
    assert_ne!(anonymous.status, StatusCode::OK);

    let audited = auditor.get(&page).await;
    assert!(audited.body.contains(&img));
    assert!(!audited.body.contains("Save the photo"));
    assert!(!audited.body.contains("Remove the photo"));
    assert_eq!(
        auditor
            .submit(&format!("/visits/{id}/photo/remove"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // A file whose bytes are not the type it claims: refused on the page, the photo kept.
    let (status, _, body) = post_photo(&desk, &id, "image/jpeg", &png).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("image/png"), "{body}");
    let (status, _, _) = post_photo(&desk, &id, "image/gif", b"GIF89a").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(desk.get(&page).await.body.contains(&img));

    let removed = desk
        .submit(&format!("/visits/{id}/photo/remove"), &[])
        .await;
    assert_eq!(
        (removed.status, removed.location()),
        (StatusCode::SEE_OTHER, page.as_str())
    );
    let after = desk.get(&page).await;
    assert!(!after.body.contains(&img));
    assert!(after.body.contains("No photo yet"));
    assert_eq!(
        desk.get(&format!("/visits/{id}/photo")).await.status,
        StatusCode::NOT_FOUND
    );
}
