//! Shared integration-test harness: a database of its own per test (migrated on creation,
//! dropped on `Drop`), exchange and queue names of its own, the real front and consumer
//! in-process, a signing HTTP client, and polling helpers.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod broker;
pub mod cli;
pub mod metrics;
pub mod multipart;
pub mod ops;
pub mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_query;
use intake::config::{Config, Secret};
use intake::front::Front;
use intake::store::{Store, admin};
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use tokio_util::sync::CancellationToken;

/// The database URL tests derive their own databases from.
pub fn base_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://intake:intake@127.0.0.1:5432/intake".into())
}

/// The broker URL tests use.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://intake:intake@127.0.0.1:5672/intake".into())
}

fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("DATABASE_URL has a path");
    format!("{base}/{name}")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// `TEST_PARTITIONS=N` runs every test against sessions and attachments hash-partitioned
/// into N, as `intake migrate --partitions N` leaves them. (Not `INTAKE_…`: the configuration
/// refuses variables of that prefix that it does not know.)
pub fn test_partitions() -> Option<u32> {
    let value = std::env::var("TEST_PARTITIONS").ok()?;
    Some(value.parse().expect("TEST_PARTITIONS is a partition count"))
}

/// A migrated database of the test's own, dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> Self {
        let db = Self::unmigrated();
        db.store().migrate().expect("migrate the test database");
        if let Some(partitions) = test_partitions() {
            intake::store::partition::partition_by_project(&mut db.conn(), partitions)
                .expect("partition the test database");
        }
        db
    }

    /// An empty database without any migration, for tests of the migrations themselves.
    pub fn unmigrated() -> Self {
        let name = unique("intake_test");
        let mut admin = PgConnection::establish(&with_database(&base_database_url(), "postgres"))
            .expect("connect to the postgres database");
        sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let url = with_database(&base_database_url(), &name);
        Self { name, url }
    }

    pub fn store(&self) -> Store {
        Store::new(&test_config_for(&self.url, &Topology::named("unused")).database)
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) =
            PgConnection::establish(&with_database(&base_database_url(), "postgres"))
        {
            let _ = sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// Exchange and queue names of the test's own, deleted with it.
#[derive(Clone)]
pub struct Topology {
    pub exchange: String,
    pub queue: String,
    pub dead_letter_exchange: String,
    pub dead_letter_queue: String,
    pub events_exchange: String,
}

impl Topology {
    pub fn named(base: &str) -> Self {
        Self {
            exchange: format!("{base}.x"),
            queue: format!("{base}.q"),
            dead_letter_exchange: format!("{base}.dlx"),
            dead_letter_queue: format!("{base}.dlq"),
            events_exchange: format!("{base}.events"),
        }
    }

    pub fn unique() -> Self {
        Self::named(&unique("intake-test"))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if !self.queue.starts_with("intake-test") {
            return;
        }
        let names = self.clone_names();
        // Drop cannot await; clean up on a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let Ok(conn) = lapin::Connection::connect(&amqp_url(), Default::default()).await
                else {
                    return;
                };
                let Ok(channel) = conn.create_channel().await else {
                    return;
                };
                // Partition queues too (RabbitMQ deletes a missing queue without complaint).
                let partitions = (1..8).map(|p| format!("{}.p{p}", names.0));
                for queue in [names.0.clone(), names.1.clone()]
                    .into_iter()
                    .chain(partitions)
                {
                    let _ = channel
                        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                for exchange in [&names.2, &names.3, &names.4] {
                    let _ = channel
                        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
                let _ = conn.close(200, "test done".into()).await;
            });
        })
        .join();
    }
}

impl Topology {
    fn clone_names(&self) -> (String, String, String, String, String) {
        (
            self.queue.clone(),
            self.dead_letter_queue.clone(),
            self.exchange.clone(),
            self.dead_letter_exchange.clone(),
            self.events_exchange.clone(),
        )
    }
}

/// The test overlay, pointed at a database and topology of the test's own.
pub fn test_config_for(database_url: &str, topology: &Topology) -> Config {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut config = Config::load_from(&dir, Some("test")).expect("load config/test.toml");
    config.database.url = Secret::new(database_url);
    config.broker.url = intake::config::BrokerUrls::parse(&amqp_url()).unwrap();
    config.broker.exchange = topology.exchange.clone();
    config.broker.queue = topology.queue.clone();
    config.broker.dead_letter_exchange = topology.dead_letter_exchange.clone();
    config.broker.dead_letter_queue = topology.dead_letter_queue.clone();
    config.broker.events_exchange = topology.events_exchange.clone();
    config
}

/// A running front (and optionally consumers) against a database and topology of its own.
pub struct TestApp {
    pub db: TestDb,
    pub topology: Topology,
    pub config: Config,
    pub address: SocketAddr,
    /// The front's metrics listener.
    pub metrics_address: SocketAddr,
    pub project_id: i64,
    pub username: String,
    pub secret: String,
    pub http: reqwest::Client,
    front_stop: Option<tokio::sync::oneshot::Sender<()>>,
    consumers: Vec<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

impl TestApp {
    /// Front and one consumer.
    pub async fn spawn() -> Self {
        let mut app = Self::front_only().await;
        app.start_consumer();
        app
    }

    /// Front only: the queue fills and nothing is stored until a consumer starts.
    pub async fn front_only() -> Self {
        Self::front_with(|_| {}).await
    }

    /// Front with a configuration tweak.
    pub async fn front_with(tweak: impl FnOnce(&mut Config)) -> Self {
        intake::telemetry::init_for_tests();
        let db = TestDb::create();
        let topology = Topology::unique();
        let mut config = test_config_for(&db.url, &topology);
        tweak(&mut config);
        let (project_id, username, secret) = {
            let mut conn = db.conn();
            let project_id = admin::create_project(&mut conn, "field-survey").unwrap();
            let user = admin::create_user(&mut conn, "device-fleet").unwrap();
            admin::grant(&mut conn, user.id, project_id).unwrap();
            (project_id, user.username, user.secret)
        };
        let front = Front::build(config.clone()).await.expect("front starts");
        let address = front.local_addr().unwrap();
        let metrics_address = front.metrics_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(front.run(async move {
            let _ = stopped.await;
        }));
        let app = Self {
            db,
            topology,
            config,
            address,
            metrics_address,
            project_id,
            username,
            secret,
            http: reqwest::Client::new(),
            front_stop: Some(stop),
            consumers: Vec::new(),
        };
        // A TLS front cannot be probed over plain HTTP; such a test checks it itself.
        if app.config.front.tls_cert.is_none() {
            app.wait_ready().await;
        }
        app
    }

    async fn wait_ready(&self) {
        let url = format!("http://{}/readyz", self.address);
        eventually("front ready", Duration::from_secs(20), || async {
            let response = self.http.get(&url).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
    }

    /// Starts one more in-process consumer on the same queue.
    pub fn start_consumer(&mut self) {
        self.start_consumer_with(|_| {});
    }

    /// Starts a consumer with a configuration tweak.
    pub fn start_consumer_with(&mut self, tweak: impl FnOnce(&mut Config)) {
        let mut config = self.config.clone();
        tweak(&mut config);
        self.consumers.push(spawn_consumer(config));
    }

    /// Stops every consumer, waiting for in-flight batches to finish.
    pub async fn stop_consumers(&mut self) {
        for (cancel, handle) in self.consumers.drain(..) {
            cancel.cancel();
            let _ = handle.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn sessions_url(&self) -> String {
        self.url(&format!("/api/v1/projects/{}/sessions", self.project_id))
    }

    /// A request with valid MDA auth headers.
    pub fn signed(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        sign(request, &self.username, &self.secret)
    }

    pub async fn post_json(&self, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let request = self.signed(self.http.post(self.sessions_url())).json(body);
        read(request.send().await.unwrap()).await
    }

    /// POSTs a JSON session with `?wait=stored` (read-your-write), signed.
    pub async fn post_json_wait_stored(&self, body: &serde_json::Value) -> reqwest::Response {
        let url = format!("{}?wait=stored", self.sessions_url());
        self.signed(self.http.post(url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_form(&self, body: &str) -> (u16, serde_json::Value) {
        let request = self
            .signed(self.http.post(self.sessions_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        read(request.send().await.unwrap()).await
    }

    /// Waits until the session row holds the expected unit id (or any, if `None`).
    pub async fn stored(&self, uuid: &str) -> StoredSession {
        let project_id = self.project_id;
        let url = self.db.url.clone();
        let uuid = uuid.to_owned();
        let what = format!("session {uuid} stored");
        eventually(&what, Duration::from_secs(30), || {
            let url = url.clone();
            let uuid = uuid.clone();
            async move {
                tokio::task::spawn_blocking(move || load_session(&url, project_id, &uuid))
                    .await
                    .unwrap()
            }
        })
        .await
    }

    /// The stored session now, if any.
    pub async fn stored_now(&self, uuid: &str) -> Option<StoredSession> {
        let (url, project_id, uuid) = (self.db.url.clone(), self.project_id, uuid.to_owned());
        tokio::task::spawn_blocking(move || load_session(&url, project_id, &uuid))
            .await
            .unwrap()
    }
}

/// An in-process consumer on a task of its own, stopped by cancelling its token.
pub fn spawn_consumer(config: Config) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let handle = tokio::spawn(async move {
        intake::consumer::run(config, stop)
            .await
            .expect("the consumer runs");
    });
    (cancel, handle)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.front_stop.take() {
            let _ = stop.send(());
        }
        for (cancel, _) in &self.consumers {
            cancel.cancel();
        }
    }
}

pub use broker::{publish_uploads, raw_channel};

/// Adds valid MDA auth headers for `username` now.
pub use intake_tools::sign;

/// Status and JSON body of a response.
pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("response is not JSON ({status}): {text}"));
    (status, body)
}

/// Polls `probe` until it yields a value, or fails the test after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (point, embedded, filename, content type, bytes).
pub type StoredAttachment = (String, bool, Option<String>, String, Vec<u8>);

/// A session row with its attachments, as a user would check it in PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    pub unit_id: String,
    pub created: i64,
    pub saved: i64,
    pub received_from: String,
    pub upload_id: uuid::Uuid,
    pub is_deleted: bool,
    pub points: serde_json::Value,
    pub timezone_offset: Option<i32>,
    /// Sorted by point.
    pub attachments: Vec<StoredAttachment>,
}

#[derive(QueryableByName)]
struct SessionRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    unit_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    created: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    saved: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    received_from: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    upload_id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    is_deleted: bool,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    points: serde_json::Value,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    timezone_offset: Option<i32>,
}

#[derive(QueryableByName)]
struct AttachmentRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    point: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    embedded: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    filename: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    content_type: String,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    bytes: Vec<u8>,
}

/// Reads one session straight from PostgreSQL.
pub fn load_session(url: &str, project_id: i64, uuid: &str) -> Option<StoredSession> {
    let mut conn = PgConnection::establish(url).ok()?;
    let row: SessionRow = sql_query(
        "SELECT id, unit_id, extract(epoch FROM created)::int8 AS created,
                extract(epoch FROM saved)::int8 AS saved, received_from, upload_id, is_deleted,
                points, timezone_offset
         FROM sessions WHERE project_id = $1 AND uuid = $2",
    )
    .bind::<diesel::sql_types::BigInt, _>(project_id)
    .bind::<diesel::sql_types::Text, _>(uuid)
    .get_result(&mut conn)
    .optional()
    .ok()??;
    let attachments: Vec<AttachmentRow> = sql_query(
        "SELECT point, embedded, filename, content_type, bytes FROM attachments
         WHERE project_id = $1 AND session_id = $2 ORDER BY point",
    )
    .bind::<diesel::sql_types::BigInt, _>(project_id)
    .bind::<diesel::sql_types::BigInt, _>(row.id)
    .load(&mut conn)
    .ok()?;
    Some(StoredSession {
        unit_id: row.unit_id,
        created: row.created,
        saved: row.saved,
        received_from: row.received_from,
        upload_id: row.upload_id,
        is_deleted: row.is_deleted,
        points: row.points,
        timezone_offset: row.timezone_offset,
        attachments: attachments
            .into_iter()
            .map(|a| (a.point, a.embedded, a.filename, a.content_type, a.bytes))
            .collect(),
    })
}

/// Counts rows of a table in a test database.
pub fn count(url: &str, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = PgConnection::establish(url).unwrap();
    sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n
}

// ----- Helpers for the read, write and ordering-of-operations tests. -----

impl TestApp {
    /// `/api/v1/projects/{this project}{rest}`.
    pub fn project_path(&self, rest: &str) -> String {
        format!("/api/v1/projects/{}{rest}", self.project_id)
    }

    /// A signed request of any method to a path on this front.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.signed(self.http.request(method, self.url(path)))
    }

    /// A signed `GET`: status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        read(
            self.request(reqwest::Method::GET, path)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A signed `GET`: the body as text (exports, which are not one JSON document).
    pub async fn get_text(&self, path: &str) -> String {
        let response = self.request(reqwest::Method::GET, path).send().await;
        response.unwrap().text().await.unwrap()
    }

    /// Posts a JSON session and waits until the consumer stored this very upload.
    pub async fn create_stored(&self, body: &serde_json::Value) -> StoredSession {
        let response = self
            .signed(self.http.post(self.sessions_url()))
            .json(body)
            .send()
            .await
            .unwrap();
        let upload_id: uuid::Uuid = response
            .headers()
            .get("x-upload-id")
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse().ok())
            .unwrap();
        let (status, response) = read(response).await;
        assert_eq!(status, 202, "{response}");
        let uuid = response["result"]["uuid"].as_str().unwrap().to_owned();
        eventually("upload stored", Duration::from_secs(30), || async {
            self.stored_now(&uuid)
                .await
                .filter(|s| s.upload_id == upload_id)
        })
        .await
    }

    /// Creates another project, optionally granted to this app's user; returns its id once
    /// the front knows it (the auth cache reloads in the background).
    pub async fn add_project(&self, name: &str, granted: bool) -> i64 {
        let id = {
            let mut conn = self.db.conn();
            let id = admin::create_project(&mut conn, name).unwrap();
            if granted {
                let user = admin::find_user(&mut conn, &self.username)
                    .unwrap()
                    .unwrap();
                admin::grant(&mut conn, user.id, id).unwrap();
            }
            id
        };
        let want = if granted { 200 } else { 403 };
        let path = format!("/api/v1/projects/{id}/devices");
        eventually(
            "project known to the front",
            Duration::from_secs(20),
            || {
                let path = path.clone();
                async move { (self.get_json(&path).await.0 == want).then_some(()) }
            },
        )
        .await;
        id
    }

    /// A signed request with an optional JSON body: status and JSON body.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    /// Waits until a read of the session (deleted ones too) satisfies `done`; returns it.
    pub async fn read_until(
        &self,
        uuid: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let path = self.project_path(&format!("/sessions/{uuid}?deleted=true"));
        eventually("the write read back", Duration::from_secs(60), || async {
            let (status, body) = self.get_json(&path).await;
            (status == 200 && done(&body["result"])).then(|| body["result"].clone())
        })
        .await
    }

    /// Runs SQL against the test database.
    pub fn execute(&self, statement: &str) -> usize {
        let mut conn = self.db.conn();
        sql_query(statement).execute(&mut conn).unwrap()
    }
}
