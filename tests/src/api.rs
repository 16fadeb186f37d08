//! A thin HTTP client for the routes the end-to-end tests call, under `/api/v1`.

use serde_json::Value;
use std::time::Duration;

/// The client every helper uses: a request that hangs fails after 10 s.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build the HTTP client")
}

/// The API of one server, under `/api/v1`.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base_url: String,
}

impl Api {
    pub fn new(base_url: &str) -> Api {
        Api::with_client(base_url, http_client())
    }

    /// An API client sending through `client` (e.g. one that trusts only a test's own
    /// TLS certificate).
    pub fn with_client(base_url: &str, client: reqwest::Client) -> Api {
        Api {
            client,
            base_url: format!("{base_url}/api/v1"),
        }
    }

    /// `POST /auth/login`, whatever the answer.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let body = serde_json::json!({ "username": username, "password": password });
        self.send(self.client.post(self.url("/auth/login")).json(&body))
            .await
    }

    /// Logs in and returns the access token; panics unless the login succeeds.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        let body = expect_json(response, 200).await;
        assert_eq!(body["token_type"], "Bearer", "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `GET path` with `token` as bearer.
    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// `POST path` with a JSON body and `token` as bearer.
    /// POSTs and expects 201 Created; returns the new record.
    pub async fn created(&self, token: &str, path: &str, body: Value) -> Value {
        expect_json(self.post(path, token, &body).await, 201).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `PUT path` with a JSON body and `token` as bearer.
    pub async fn put(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(
            self.client
                .put(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `PATCH path` with a JSON body and `token` as bearer.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(
            self.client
                .patch(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Every item of a paginated list, fetched `limit` at a time by following
    /// `next_cursor`.
    pub async fn list_all(&self, path: &str, token: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let request = self
                .client
                .get(self.url(path))
                .bearer_auth(token)
                .query(&query);
            let page = expect_json(self.send(request).await, 200).await;
            let page_items = page["items"].as_array().expect("items");
            let page_len = u32::try_from(page_items.len()).expect("page length");
            assert!(
                page_len <= limit,
                "{path}: {page_len} items in a page of {limit}"
            );
            items.extend(page_items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        request.send().await.expect("send the request")
    }
}

/// The JSON body of `response`, after checking its status.
pub async fn expect_json(response: reqwest::Response, status: u16) -> Value {
    let (url, actual) = (response.url().clone(), response.status());
    let text = response.text().await.expect("read the response body");
    assert_eq!(actual.as_u16(), status, "{url} answered {actual}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url} answered non-JSON ({e}): {text}"))
}
