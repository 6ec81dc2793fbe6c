//! Watching the consumer's connection: a failed connection stops every worker at once.

use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::Connection;

use super::BrokerLost;

pub(super) fn connection_lost_error() -> BrokerLost {
    BrokerLost::Other("the connection to RabbitMQ was lost".into())
}

/// Returns once the connection has failed: told by its error event at once, or seen on a
/// periodic look at its status should an event never come.
pub(super) async fn connection_lost(
    conn: &Connection,
    events: impl futures_util::Stream<Item = lapin::Event> + Send,
) {
    tokio::pin!(events);
    let mut listening = true;
    loop {
        tokio::select! {
            event = events.next(), if listening => listening = event.is_some(),
            () = tokio::time::sleep(CONNECTION_CHECK) => {}
        }
        if !conn.status().connected() {
            return;
        }
    }
}

/// How often the consumer looks at its connection's status between events.
const CONNECTION_CHECK: Duration = Duration::from_millis(250);
