//! chromedriver as a child process of the test, on a free port, and headless Chromium with a
//! profile directory of its own, driven over WebDriver.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// Where Debian's `chromium-driver` and `chromium` put them (scripts/services.sh installs
/// both); `CHROMEDRIVER` and `CHROMIUM` override.
fn chromedriver_path() -> PathBuf {
    std::env::var_os("CHROMEDRIVER").map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// A free loopback port: bound and released at once (the driver binds it right after).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

/// A running chromedriver, shut down (with the browsers it started) and reaped on drop.
pub struct Chromedriver {
    child: Child,
    address: SocketAddr,
}

impl Chromedriver {
    pub fn start() -> Self {
        let path = chromedriver_path();
        assert!(
            path.exists(),
            "{} is missing: scripts/services.sh installs chromium and chromium-driver",
            path.display()
        );
        let port = free_port();
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .arg("--log-level=SEVERE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let driver = Self {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(driver.address).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver not listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// chromedriver's own shutdown endpoint quits the browsers of its sessions too, which a
    /// kill of the driver alone would leave running.
    fn request_shutdown(&self) {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.address, Duration::from_secs(1))
        else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
        let request = format!(
            "GET /shutdown HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        self.request_shutdown();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A profile directory of the browser's own, removed on drop.
pub struct ProfileDir(pub PathBuf);

impl ProfileDir {
    fn create() -> Self {
        let path =
            std::env::temp_dir().join(format!("intake-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create the browser profile directory");
        Self(path)
    }
}

impl Drop for ProfileDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (375, 812);

/// A WebDriver session in headless Chromium. Fields drop in order: the session's client,
/// then the driver (which quits the browser), then the profile directory.
pub struct Session {
    pub client: Client,
    _driver: Chromedriver,
    _profile: ProfileDir,
}

impl Session {
    pub async fn start() -> Self {
        let driver = Chromedriver::start();
        let profile = ProfileDir::create();
        let capabilities = json!({
            "browserName": "chrome",
            // An alert a page opens stays open, so a test can see that a script ran.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": chromium_path(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--hide-scrollbars",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                    format!("--user-data-dir={}", profile.0.display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .expect("a WebDriver session in headless Chromium");
        let session = Self {
            client,
            _driver: driver,
            _profile: profile,
        };
        session.resize(DESKTOP).await;
        session
    }

    /// Sets the viewport (not the outer window) to `width` x `height` CSS pixels.
    pub async fn resize(&self, (width, height): (u32, u32)) {
        self.client.set_window_size(width, height).await.unwrap();
        // Whatever frame the window has is not viewport: grow the window by it.
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .unwrap();
        let inner = |i: usize| u32::try_from(inner[i].as_u64().unwrap()).unwrap();
        let (frame_w, frame_h) = (
            width.saturating_sub(inner(0)),
            height.saturating_sub(inner(1)),
        );
        if (frame_w, frame_h) != (0, 0) {
            self.client
                .set_window_size(width + frame_w, height + frame_h)
                .await
                .unwrap();
        }
    }
}
