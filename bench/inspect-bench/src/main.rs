//! `inspect-bench URL [RUNS [EXCLUDE...]]`: connect once, then time `alembix::dialect::inspect` RUNS times (default 5)
//! after one untimed warm-up call, on the same connection, leaving out the EXCLUDE tables. Prints one JSON object on stdout:
//! `{"connect_s":…, "times_s":[…], "median_s":…, "tables":…, "columns":…, "indexes":…, "foreign_keys":…}`.
//! Wall-clock time of the call as the library runs it (catalog queries + building and normalising the
//! `Schema`); the connection (TLS handshake included) is timed separately.

use std::time::Instant;

use alembix::dialect::{self, Connection};
use alembix::DatabaseUrl;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: inspect-bench URL [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().map_or(5, |r| r.parse().expect("RUNS must be a number"));
    let exclude: Vec<String> = args.collect();
    let url = DatabaseUrl::parse(&url).expect("bad URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let t = Instant::now();
        let mut conn = Connection::connect(&url, None, |_, _| {})
            .await
            .unwrap_or_else(|e| panic!("connect: {}", e.message));
        let connect_s = t.elapsed().as_secs_f64();
        let warm = dialect::inspect(&mut conn, &exclude).await.expect("inspect");
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let schema = dialect::inspect(&mut conn, &exclude).await.expect("inspect");
            times.push(t.elapsed().as_secs_f64());
            assert_eq!(schema.tables.len(), warm.tables.len());
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = if sorted.is_empty() {
            0.0
        } else if sorted.len() % 2 == 1 {
            sorted[sorted.len() / 2]
        } else {
            (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
        };
        let columns: usize = warm.tables.iter().map(|t| t.columns.len()).sum();
        let indexes: usize = warm.tables.iter().map(|t| t.indexes.len()).sum();
        let fks: usize = warm.tables.iter().map(|t| t.foreign_keys.len()).sum();
        let times_s: Vec<String> = times.iter().map(|t| format!("{t:.6}")).collect();
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{{\"connect_s\":{connect_s:.6},\"times_s\":[{}],\"median_s\":{median:.6},\"tables\":{},\"columns\":{columns},\"indexes\":{indexes},\"foreign_keys\":{fks}}}",
                times_s.join(","),
                warm.tables.len()
            );
        }
        conn.close().await;
    });
}
