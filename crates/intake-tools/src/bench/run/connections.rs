//! Many idle keep-alive connections held open on the front, for its memory figure: each
//! asked once, held while the front's RSS is read, and asked again to show they still work.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use serde::Serialize;

const REQUEST: &[u8] =
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
/// How long the connections stay open after the first round, while the RSS is read.
const HOLD: Duration = Duration::from_secs(4);
const TIMEOUT: Duration = Duration::from_secs(5);

/// What holding the connections gave.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub opened: usize,
    pub connect_errors: usize,
    pub answered_first: usize,
    pub answered_after_hold: usize,
    pub front_before_kib: Option<u64>,
    pub front_holding_kib: Option<u64>,
}

/// Sends the request on every connection, then counts the `200` answers.
fn ask(sockets: &mut [TcpStream]) -> usize {
    for socket in sockets.iter_mut() {
        let _ = socket.write_all(REQUEST);
    }
    sockets
        .iter_mut()
        .map(|socket| {
            let mut answer = [0u8; 4096];
            socket
                .read(&mut answer)
                .is_ok_and(|read| answer[..read].starts_with(b"HTTP/1.1 200"))
        })
        .filter(|answered| *answered)
        .count()
}

/// Opens `count` connections to `port`, asks on each, says `ready`, holds them, asks again.
/// Runs on a thread of its own (blocking sockets, as many as asked).
pub fn hold(port: u16, count: u64, ready: mpsc::Sender<()>) -> Held {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut sockets = Vec::new();
    let mut connect_errors = 0;
    for _ in 0..count {
        match TcpStream::connect_timeout(&address, TIMEOUT) {
            Ok(socket) => {
                let _ = socket.set_read_timeout(Some(TIMEOUT));
                let _ = socket.set_write_timeout(Some(TIMEOUT));
                sockets.push(socket);
            }
            Err(_) => connect_errors += 1,
        }
    }
    let answered_first = ask(&mut sockets);
    let _ = ready.send(());
    std::thread::sleep(HOLD);
    let answered_after_hold = ask(&mut sockets);
    Held {
        opened: sockets.len(),
        connect_errors,
        answered_first,
        answered_after_hold,
        front_before_kib: None,
        front_holding_kib: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn connections_are_counted_asked_and_held() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut buffer = [0u8; 1024];
                    while stream.read(&mut buffer).is_ok_and(|read| read > 0) {
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                    }
                });
            }
        });
        let (ready, said) = mpsc::channel();
        let held = hold(port, 3, ready);
        assert!(said.try_recv().is_ok());
        assert_eq!((held.opened, held.connect_errors), (3, 0));
        assert_eq!((held.answered_first, held.answered_after_hold), (3, 3));
    }
}
