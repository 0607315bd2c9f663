//! The simulator's traces opened in `go tool trace`'s web viewer, as a user opens a trace: every
//! page the viewer links to is served (the timeline's data, the goroutine summaries, the
//! profiles, the user tasks and regions, the MMU curve). Go's parser accepting a trace (the
//! randomized test) does not cover this: the viewer's analyses run their own code over it.
//!
//! The stress seeds give steals from blocking operations, interrupt callbacks, user tasks,
//! regions and logs, tracing stopped and restarted (a trace per session), and the clock's wrap.
//!
//! `GOTRACE_VIEWER_SEEDS` (default 24) and `GOTRACE_VIEWER_FIRST_SEED` (default 0) choose the
//! seeds.

mod common;

use common::{env_u64, seed_file, trace_dir};
use gotrace_go_oracle::require_go;
use gotrace_scheduler::sim::driver::{self, Options};

/// Enough seeds for each of the features above in some trace, at about a second for six.
const SEEDS: u64 = 24;

#[test]
fn every_page_of_the_viewer_opens_on_the_simulators_traces() {
    let Some(go) = require_go("viewer") else {
        return;
    };
    let dir = trace_dir("viewer");
    let first = env_u64("GOTRACE_VIEWER_FIRST_SEED", 0);
    let count = env_u64("GOTRACE_VIEWER_SEEDS", SEEDS);
    let (mut traces, mut with_goroutines, mut fetched) = (0, 0, 0);
    for seed in first..first + count {
        for (i, trace) in driver::run(seed, &Options::STRESS)
            .traces
            .iter()
            .enumerate()
        {
            let path = seed_file(&dir, seed, i);
            std::fs::write(&path, trace).unwrap();
            let viewer = go
                .open_viewer(&path)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let pages = viewer.walk().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            for needed in ["/jsontrace?view=proc", "/goroutines", "/usertasks", "/mmu"] {
                assert!(
                    pages.iter().any(|p| p.starts_with(needed)),
                    "seed {seed}: the viewer served no {needed} page: {pages:?}"
                );
            }
            // A session in which no task ran has no goroutine to give a page.
            with_goroutines += u64::from(pages.iter().any(|p| p.starts_with("/goroutine?")));
            traces += 1;
            fetched += pages.len();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!(
        "viewer: {count} seeds, {traces} traces ({with_goroutines} with goroutines), \
         {fetched} pages, all served"
    );
    assert!(traces >= count, "only {traces} traces");
    assert!(
        with_goroutines * 10 >= traces * 9,
        "only {with_goroutines} of {traces} traces have a goroutine's page"
    );
}

/// The walk's own check: a page the viewer cannot make (it logs why and serves an empty one) is
/// an error, though every page came with status 200.
#[test]
fn a_page_the_viewer_logs_an_error_for_fails_the_walk() {
    let Some(go) = require_go("viewer-error") else {
        return;
    };
    let dir = trace_dir("viewer-error");
    let path = seed_file(&dir, 0, 0);
    std::fs::write(&path, &driver::run(0, &Options::STRESS).traces[0]).unwrap();
    let viewer = go.open_viewer(&path).unwrap();
    assert_eq!(viewer.get("/jsontrace?goid=abc").unwrap().status, 200);
    let error = viewer
        .walk()
        .expect_err("the walk passed over a logged error");
    assert!(
        error.to_string().contains("failed to parse goid parameter"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
