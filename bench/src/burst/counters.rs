//! The counters a round is judged by besides its responses: the server's own (connections
//! used and refused, rows written) and the kernel's (connection attempts dropped on a full
//! listen queue).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

/// The server's own counters (a round's: those after it less those after the `FLUSH STATUS`
/// before it, which also set `Max_used_connections` back to the sessions then open).
#[derive(Default)]
pub struct ServerStatus {
    pub max_used_connections: u64,
    /// Connections refused for `max_connections` ("Too many connections", 1040).
    pub refused_for_max_connections: u64,
    pub aborted_connects: u64,
}

/// `TcpExt: ListenOverflows` of /proc/net/netstat: connection attempts the kernel dropped because
/// the listening socket's accept queue was full (the client's SYN is retried after 1 s). It counts
/// for the whole network namespace, so other work on the machine may add to it.
pub fn listen_overflows() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut tcp_ext = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (tcp_ext.next(), tcp_ext.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// A connection of the bench's own to the server. Right after a round the server may still be
/// closing the killed instances' sessions and refuse it, so it is retried for a while.
async fn monitor(server_url: &str) -> mysql_async::Conn {
    let opts = mysql_async::Opts::from_url(server_url).unwrap();
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match mysql_async::Conn::new(opts.clone()).await {
            Ok(conn) => return conn,
            Err(error) if Instant::now() > give_up => {
                panic!("cannot reach the burst server: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until the previous round's sessions are gone, then resets `Max_used_connections` to
/// the sessions open now (this one); returns the counters as they are after the reset.
pub async fn reset_status(server_url: &str) -> ServerStatus {
    let mut conn = monitor(server_url).await;
    let give_up = Instant::now() + Duration::from_secs(10);
    while status_value(&mut conn, "Threads_connected").await > 1 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    conn.query_drop("FLUSH STATUS").await.unwrap();
    let status = server_status(&mut conn).await;
    let _ = conn.disconnect().await;
    status
}

pub async fn read_status(server_url: &str) -> ServerStatus {
    let mut conn = monitor(server_url).await;
    let status = server_status(&mut conn).await;
    let _ = conn.disconnect().await;
    status
}

async fn server_status(conn: &mut mysql_async::Conn) -> ServerStatus {
    ServerStatus {
        max_used_connections: status_value(conn, "Max_used_connections").await,
        refused_for_max_connections: status_value(conn, "Connection_errors_max_connections").await,
        aborted_connects: status_value(conn, "Aborted_connects").await,
    }
}

async fn status_value(conn: &mut mysql_async::Conn, name: &str) -> u64 {
    let row: Option<(String, String)> = conn
        .exec_first("SHOW GLOBAL STATUS WHERE Variable_name = ?", (name,))
        .await
        .unwrap();
    row.and_then(|(_, value)| value.parse().ok()).unwrap_or(0)
}

pub async fn count_rows(database_url: &str, cellnumber_prefix: &str) -> u64 {
    let mut conn = monitor(database_url).await;
    let rows: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM users WHERE cellnumber LIKE CONCAT(?, '%')",
            (cellnumber_prefix,),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    rows.unwrap_or(0)
}
