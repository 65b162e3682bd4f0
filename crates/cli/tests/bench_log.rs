//! `hallmark bench log` as the performance notes quote it: the growth table (a row per size with
//! its rate, latency, proof times, index merge cost, disk bytes and leaf-filter bytes per entry),
//! the reopened log checked against the acknowledged root, and the raw redb commit rate beside
//! the log's, as a ratio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{bin, run};

#[test]
fn bench_log_reports_growth_and_its_storage_ceiling() {
    // 70,000 entries pass the index merger's threshold (65,536 unmerged entries): the second
    // segment has a merge to report.
    let out = run(Command::new(bin()).args([
        "bench",
        "log",
        "--milestones",
        "70000,140000",
        "--clients",
        "64",
        "--entry-bytes",
        "100",
    ]));
    assert!(
        out.contains("reopened           size 140000 root "),
        "{out}"
    );
    assert!(out.contains("(matches)"), "{out}");
    // After the reopening, the leaf filter is rebuilt from the index file and answers again.
    assert!(out.contains("leaf filter        ready "), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 12 && (w[0] == "70000" || w[0] == "140000"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    for r in &rows {
        let rate: f64 = r[1].parse().unwrap();
        assert!(rate > 0.0, "{out}");
        let disk: f64 = r[10].parse().unwrap();
        // 100-byte entries, their tree hashes and redb's pages: more than the data, far from
        // a page per entry.
        assert!((100.0..4096.0).contains(&disk), "{out}");
        // The leaf filter's first part (about 1.4 MB for a million leaves) is allocated whole.
        let filter: f64 = r[11].parse().unwrap();
        assert!((0.5..64.0).contains(&filter), "{out}");
    }
    assert!(
        rows.iter().any(|r| r[8].parse::<f64>().is_ok()),
        "no merge cost reported: {out}"
    );
    let number_after = |prefix: &str| -> f64 {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix:?} line: {out}"))
    };
    assert!(number_after("raw redb commit") > 0.0);
    let ratio = number_after("ratio");
    assert!(ratio > 0.0 && ratio.is_finite(), "{out}");
}
