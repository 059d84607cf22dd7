//! What the figures were measured on: the CPU, its cores, the database server's version.

use mysql_async::prelude::Queryable;
use shared::App;

pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub server_version: String,
}

pub async fn describe(app: &App) -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut conn = app.pool.get_conn().await.unwrap();
    let server_version = conn
        .query_first("SELECT VERSION()")
        .await
        .unwrap()
        .unwrap_or_default();
    Machine {
        cpu,
        cores,
        server_version,
    }
}
