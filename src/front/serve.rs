//! The accept loop. axum's own `serve` has no header read timeout and no connection limit,
//! so a slow or abusive client could hold connections without end; this loop bounds both,
//! gives every connection a deadline for its first request and an idle limit after it (for
//! HTTP/1 and HTTP/2 alike), optionally speaks TLS, and drains in-flight requests on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Limits on connections, from the front's configuration.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers. A new connection must have sent its
    /// first request's headers (TLS handshake and protocol preface included) by then.
    pub header_read_timeout: Duration,
    /// Time a connection may sit without a request in flight before it is closed (HTTP/1
    /// keep-alive and HTTP/2 alike); also the HTTP/2 ping interval.
    pub idle_timeout: Duration,
    /// Time in-flight requests get to finish after shutdown begins.
    pub drain_timeout: Duration,
}

/// Connections the kernel may hold for the front before it accepts them. The usual 128 (std's
/// and tokio's) fills at once when a fleet reconnects together after an outage, and every
/// connect past it is dropped and retried a second or more later. The kernel caps it at
/// `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `address` with room for [`LISTEN_BACKLOG`] connections waiting to be accepted.
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As tokio's own bind does: a restarted front may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// HTTP/2 header blocks larger than this are refused. hyper's default (16 MiB a stream, 200
/// streams a connection) would let one client make the front hold gigabytes of headers;
/// HTTP/1 stops at hyper's 400 KB buffer and 100 headers.
const MAX_HTTP2_HEADER_BYTES: u32 = 64 * 1024;

/// Serves `app` on `listener` until `stop` fires, then stops accepting and lets open
/// connections finish their requests, for at most the drain timeout. With `tls`, every
/// connection is a TLS one.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
) {
    let slots = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(slots));
    let builder = Arc::new(builder(&limits));
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let (stream, _peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            builder: Arc::clone(&builder),
            limits,
            first_request_by: Instant::now() + limits.header_read_timeout,
            stop: stop.clone(),
        };
        // A task per case: one future type for both would size every plain connection's
        // task for a TLS handshake's state (3.5 KiB a connection, measured).
        match &tls {
            None => drop(tokio::spawn(async move {
                connection.serve(stream).await;
                drop(permit);
            })),
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                drop(tokio::spawn(async move {
                    let deadline = connection.first_request_by;
                    match timeout_at(deadline, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake not finished in time"),
                    }
                    drop(permit);
                }));
            }
        }
    }
    drop(listener);
    // Every connection holds a permit until it ends: having them all back means drained.
    let drained = u32::try_from(slots).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain_timeout, permits.acquire_many(drained))
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time; exiting anyway");
    }
}

fn builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HTTP2_HEADER_BYTES)
        // Pings find peers that vanished while a request was in flight.
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    builder
}

/// One accepted connection and what it needs to be served.
struct Connection {
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    limits: ConnectionLimits,
    first_request_by: Instant,
    stop: CancellationToken,
}

impl Connection {
    /// Serves the connection until it ends, it idles out, or shutdown has drained it.
    async fn serve<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::default());
        let app = self.app;
        let tracked = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let busy = tracked.begin();
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(axum::body::Body::new)).await;
                // Busy until the answer is sent: a long download is not idle.
                response.map(|response| {
                    response.map(|body| axum::body::Body::new(Tracked { body, _busy: busy }))
                })
            }
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        tokio::pin!(connection);
        // The protocol detection and the TLS handshake run before hyper's own header timer
        // starts: until the first request arrives, this deadline is the only bound.
        let mut deadline = self.first_request_by;
        let mut closing = false;
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(error) = ended {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                () = self.stop.cancelled(), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    deadline = Instant::now() + self.limits.drain_timeout;
                }
                () = sleep_until(deadline) => {
                    if closing || !activity.started() {
                        return; // dropping the connection closes the socket
                    }
                    let now = Instant::now();
                    match activity.idle_since() {
                        Some(since) if now >= since + self.limits.idle_timeout => {
                            // Nothing in flight: an HTTP/1 connection closes at once, an
                            // HTTP/2 one after its GOAWAY; a peer that never reads it is cut.
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                            deadline = now + self.limits.header_read_timeout;
                        }
                        Some(since) => deadline = since + self.limits.idle_timeout,
                        None => deadline = now + self.limits.idle_timeout,
                    }
                }
            }
        }
    }
}

/// What a connection's requests are doing, for its idle deadline.
#[derive(Default)]
struct Activity {
    started: AtomicBool,
    in_flight: AtomicUsize,
    last_done: std::sync::Mutex<Option<Instant>>,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.started.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(self))
    }

    fn started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// When the connection became idle; `None` while a request is in flight.
    fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = self.last_done.lock().map_or(None, |last| *last);
        Some(last.unwrap_or_else(Instant::now))
    }
}

/// A request in flight; dropping it (also when the request is cancelled) ends it.
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        if let Ok(mut last) = self.0.last_done.lock() {
            *last = Some(Instant::now());
        }
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request counted as in flight until it is sent or dropped.
struct Tracked {
    body: axum::body::Body,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
