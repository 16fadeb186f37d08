//! A console client: a cookie, redirects not followed, forms sent as a browser sends
//! them from a page of the console (`Sec-Fetch-Site: same-origin`).

use crate::common::TestApp;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};

pub struct Console<'a> {
    pub app: &'a TestApp,
    client: Client,
    pub cookie: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or("")
    }
}

async fn answer(response: Response) -> Answer {
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

impl<'a> Console<'a> {
    pub fn new(app: &'a TestApp) -> Console<'a> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Console {
            app,
            client,
            cookie: None,
        }
    }

    /// Logs in through the form; panics unless it lands somewhere with a cookie.
    pub async fn login(app: &'a TestApp, username: &str, password: &str) -> Console<'a> {
        let mut console = Console::new(app);
        let answer = console
            .submit(
                "/login",
                &[("username", username), ("password", password), ("next", "")],
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "login of {username}: {}",
            answer.body
        );
        let cookie = answer
            .headers
            .get(SET_COOKIE)
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .to_owned();
        console.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        console
    }

    pub fn with_cookie(app: &'a TestApp, cookie: &str) -> Console<'a> {
        let mut console = Console::new(app);
        console.cookie = Some(cookie.to_owned());
        console
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.app.url(path));
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.request(reqwest::Method::GET, path)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A form as a console page posts it.
    /// `file` sent to `path` as a browser sends it from an upload form (field `file`).
    pub async fn upload(&self, path: &str, name: &str, file: &[u8]) -> Answer {
        let boundary = "----gatehouse-test-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut request = self
            .client
            .post(self.app.url(path))
            .header("sec-fetch-site", "same-origin")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie.clone());
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.submit_from(path, fields, &[("sec-fetch-site", "same-origin")])
            .await
    }

    /// A form posted with the given request-origin headers.
    pub async fn submit_from(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.request(reqwest::Method::POST, path).form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.unwrap()).await
    }
}
