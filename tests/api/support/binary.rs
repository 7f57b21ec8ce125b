//! The real binary as a child process, for what only a process shows: its memory and file
//! descriptors under attack, its exit status and first line when it refuses to start, and what
//! it logs. It runs in a directory of its own (so no `.env` or `favorites.toml` is read but the
//! test's), with nothing of the test's environment but `PATH`.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::app::{ADMIN, PASSWORD, password_hash};
use crate::support::catalog::FakeCatalog;

pub const SECRET: &str = "binary-test-secret-0123456789abcdef0123";
/// As a value in `env`: leave the key out of the base settings.
pub const UNSET: &str = "\u{0}unset";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A working directory removed with the value.
pub struct WorkDir(PathBuf);

impl WorkDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("favorites-binary-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a work directory");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("write a file");
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<String>>,
    pub catalog: FakeCatalog,
    _dir: WorkDir,
}

/// What a start that failed left behind.
#[derive(Debug)]
pub struct Refused {
    pub status: ExitStatus,
    pub stderr: String,
}

/// The settings every start gets unless `env` says otherwise: SQLite in the work directory, a
/// fake catalog, a test key and admin.
fn base_env(dir: &WorkDir, catalog: &FakeCatalog, port: u16) -> Vec<(String, String)> {
    vec![
        (
            "DATABASE_URL".into(),
            format!("sqlite://{}/binary.db?mode=rwc", dir.path().display()),
        ),
        ("FAKESTOREAPI_URL".into(), catalog.url()),
        ("SECRET_KEY".into(), SECRET.into()),
        ("MASTER_USERNAME".into(), ADMIN.into()),
        ("MASTER_PASSWORD_HASH".into(), password_hash()),
        ("LISTEN_ADDR".into(), format!("127.0.0.1:{port}")),
        ("RUST_LOG".into(), "warn".into()),
    ]
}

impl Server {
    /// Starts the binary with `env` over the base settings, in `dir`, and waits until it answers.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::start_in(WorkDir::new(), env)
            .await
            .expect("the server starts")
    }

    pub async fn start_in(dir: WorkDir, env: &[(&str, &str)]) -> Result<Self, Refused> {
        let catalog = FakeCatalog::start().await;
        let port = env
            .iter()
            .find(|(key, _)| *key == "LISTEN_ADDR")
            .and_then(|(_, value)| value.rsplit(':').next()?.parse().ok())
            .unwrap_or_else(free_port);
        let mut settings = base_env(&dir, &catalog, port);
        for (key, value) in env {
            settings.retain(|(existing, _)| existing != key);
            if *value != UNSET {
                settings.push(((*key).to_owned(), (*value).to_owned()));
            }
        }
        let listen = settings
            .iter()
            .find(|(key, _)| key == "LISTEN_ADDR")
            .map(|(_, value)| value.replace("0.0.0.0", "127.0.0.1"))
            .unwrap_or_else(|| format!("127.0.0.1:{port}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_favorites-api"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(settings)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let sink = Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let base = format!("http://{listen}");
        let http = reqwest::Client::new();
        let ready_by = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                // Let the reader catch the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let stderr = stderr.lock().unwrap().clone();
                return Err(Refused { status, stderr });
            }
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                break;
            }
            assert!(
                Instant::now() < ready_by,
                "the server never answered:\n{}",
                stderr.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            child,
            base,
            stderr,
            catalog,
            _dir: dir,
        })
    }

    pub fn address(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends the process a signal (`"-TERM"`, `"-INT"`).
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .await
            .expect("kill runs");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    /// Waits up to `within` for the process to exit.
    pub async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("its status")
    }

    /// An admin token, through the REST door.
    pub async fn admin_token(&self) -> String {
        let login: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/master-token", self.base))
            .json(&serde_json::json!({ "username": ADMIN, "password": PASSWORD }))
            .send()
            .await
            .expect("the login answers")
            .json()
            .await
            .expect("a JSON login");
        login["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {login}"))
            .to_owned()
    }

    fn status_field(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("a number of kB")
    }

    /// The most resident memory the process has had, in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        self.status_field("VmHWM:") / 1024
    }

    /// File descriptors the process has open.
    pub fn open_files(&self) -> usize {
        let pid = self.child.id().expect("running");
        std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
    }
}

/// Starts the binary expecting it to refuse; returns its exit status and what it wrote.
pub async fn refused_start(dir: WorkDir, env: &[(&str, &str)]) -> Refused {
    match Server::start_in(dir, env).await {
        Ok(server) => panic!("the server started:\n{}", server.stderr()),
        Err(refused) => refused,
    }
}

/// The admin's token from a running binary (the REST door).
pub async fn admin_token(server: &Server) -> String {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/master-token", server.base))
        .json(&serde_json::json!({ "username": ADMIN, "password": PASSWORD }))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    answer["access_token"].as_str().expect("a token").to_owned()
}
