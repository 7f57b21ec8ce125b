//! A FakeStoreAPI on loopback (wiremock) serving the real 20 products, with the same quirks:
//! an unknown id answers 200 with an empty body. Tests switch it into failure modes and read
//! how many requests it received.

use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const FIXTURE: &str = include_str!("../../fixtures/fakestore-products.json");

pub fn fixture_products() -> Vec<Value> {
    serde_json::from_str(FIXTURE).expect("the fixture is a JSON array")
}

/// The title of the fixture's product `id` (1 to 20).
pub fn title(id: usize) -> String {
    fixture_products()[id - 1]["title"]
        .as_str()
        .expect("a title")
        .to_owned()
}

pub struct FakeCatalog {
    server: MockServer,
    /// The products it serves: the fixture's, as `retitle`, `reprice` and `withdraw` left them.
    products: std::sync::Mutex<Vec<Value>>,
}

impl FakeCatalog {
    pub async fn start() -> Self {
        let catalog = Self {
            server: MockServer::start().await,
            products: std::sync::Mutex::new(fixture_products()),
        };
        catalog.mount_normal().await;
        catalog
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    fn current_products(&self) -> Vec<Value> {
        self.products.lock().expect("not poisoned").clone()
    }

    async fn mount_normal(&self) {
        self.mount_answers(std::time::Duration::ZERO).await;
    }

    /// The normal answers, each `delay` late (a distant or slow catalog), with an empty log.
    pub async fn answer_late(&self, delay: std::time::Duration) {
        self.server.reset().await;
        self.mount_answers(delay).await;
    }

    async fn mount_answers(&self, delay: std::time::Duration) {
        let products = self.current_products();
        Mock::given(method("GET"))
            .and(path("/products"))
            .respond_with(
                // The fixture's own bytes, until a test changes a product.
                ResponseTemplate::new(200)
                    .set_body_raw(
                        if products == fixture_products() {
                            FIXTURE.to_owned()
                        } else {
                            Value::from(products.clone()).to_string()
                        },
                        "application/json",
                    )
                    .set_delay(delay),
            )
            .mount(&self.server)
            .await;
        for product in products {
            let id = product["id"].as_i64().expect("numeric id");
            Mock::given(method("GET"))
                .and(path(format!("/products/{id}")))
                .respond_with(
                    ResponseTemplate::new(200)
                        .set_body_raw(product.to_string(), "application/json")
                        .set_delay(delay),
                )
                .mount(&self.server)
                .await;
        }
        // FakeStoreAPI's answer for an unknown or non-numeric id: 200 with an empty body.
        Mock::given(method("GET"))
            .and(path_regex(r"^/products/.+$"))
            .respond_with(ResponseTemplate::new(200).set_delay(delay))
            .with_priority(10)
            .mount(&self.server)
            .await;
    }

    /// From now on product `id` is called `title`, in both the list and its own answer (back to
    /// normal answers, with an empty request log).
    pub async fn retitle(&self, id: i64, title: &str) {
        self.edit(id, |product| product["title"] = title.into())
            .await;
    }

    /// From now on product `id` costs `price` (back to normal answers, with an empty log).
    pub async fn reprice(&self, id: i64, price: f64) {
        self.edit(id, |product| product["price"] = price.into())
            .await;
    }

    /// From now on the catalog no longer has product `id`: it answers for it as for an unknown
    /// id (200, empty body), and leaves it out of the list.
    pub async fn withdraw(&self, id: i64) {
        self.products
            .lock()
            .expect("not poisoned")
            .retain(|product| product["id"] != id);
        self.recover().await;
    }

    async fn edit(&self, id: i64, change: impl Fn(&mut Value)) {
        for product in self.products.lock().expect("not poisoned").iter_mut() {
            if product["id"] == id {
                change(product);
            }
        }
        self.recover().await;
    }

    /// Every request answers `response` from now on (and the request log starts afresh).
    pub async fn answer_everything_with(&self, response: ResponseTemplate) {
        self.server.reset().await;
        Mock::given(method("GET"))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    pub async fn go_down(&self) {
        self.answer_everything_with(ResponseTemplate::new(503))
            .await;
    }

    /// Every request hangs (well past any budget of the app's).
    pub async fn hang(&self) {
        self.answer_everything_with(
            ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(30)),
        )
        .await;
    }

    /// The next `times` requests for `url_path` answer `response`; then the normal answers.
    pub async fn answer_path_times(&self, url_path: &str, response: ResponseTemplate, times: u64) {
        Mock::given(method("GET"))
            .and(path(url_path))
            .respond_with(response)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Back to normal answers, with an empty request log.
    pub async fn recover(&self) {
        self.server.reset().await;
        self.mount_normal().await;
    }

    /// Overrides one path with `response`, ahead of the normal answers.
    pub async fn answer_path_with(&self, url_path: &str, response: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(url_path))
            .respond_with(response)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// How many requests asked for exactly `url_path` (e.g. `/products/3`).
    pub async fn requests_to(&self, url_path: &str) -> usize {
        self.request_paths()
            .await
            .iter()
            .filter(|path| *path == url_path)
            .count()
    }

    /// The path of every request received, in order.
    pub async fn request_paths(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .expect("the fake catalog records requests")
            .iter()
            .map(|request| request.url.path().to_owned())
            .collect()
    }

    /// Every request received, headers included, in order.
    pub async fn received(&self) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .expect("the fake catalog records requests")
    }

    pub async fn requests(&self) -> usize {
        self.server
            .received_requests()
            .await
            .expect("the fake catalog records requests")
            .len()
    }
}
