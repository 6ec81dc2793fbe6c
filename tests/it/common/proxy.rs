//! A TCP proxy on loopback that a test can cut and restore, to take a real server away from
//! one process without stopping it for everyone else on the machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The test broker's address (from `AMQP_URL`).
pub fn broker_address() -> SocketAddr {
    let url = super::amqp_url();
    let host_port = url
        .split('@')
        .next_back()
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5672");
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .unwrap_or_else(|_| "127.0.0.1:5672".parse().unwrap())
}

/// The test broker URL, its host and port replaced by the proxy's.
pub fn through(proxy: &Proxy) -> String {
    let url = super::amqp_url();
    let (scheme, rest) = url.split_once("://").unwrap_or(("amqp", &url));
    let (credentials, host_and_path) = rest.rsplit_once('@').unwrap_or(("", rest));
    let path = host_and_path
        .find('/')
        .map_or("", |at| &host_and_path[at..]);
    let credentials = if credentials.is_empty() {
        String::new()
    } else {
        format!("{credentials}@")
    };
    format!("{scheme}://{credentials}{}{path}", proxy.address)
}

pub struct Proxy {
    pub address: SocketAddr,
    up: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    frozen: watch::Sender<bool>,
}

impl Proxy {
    /// Forwards a fresh loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let (frozen, _) = watch::channel(false);
        let proxy = Self {
            address,
            up: Arc::clone(&up),
            generation: generation.clone(),
            frozen: frozen.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = generation.subscribe();
                let (up_frozen, down_frozen) = (frozen.subscribe(), frozen.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        () = pump(client_read, server_write, up_frozen) => {}
                        () = pump(server_read, client_write, down_frozen) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    /// Drops every open connection and refuses new ones, like a server that went away.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Holds every byte in both directions while keeping connections open, like a server
    /// that hangs.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Lets bytes flow again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies one direction, pausing (without reading) while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if frozen.wait_for(|frozen| !frozen).await.is_err() {
            return;
        }
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.wait_for(|frozen| !frozen).await.is_err()
            || to.write_all(&buffer[..n]).await.is_err()
        {
            return;
        }
    }
}
