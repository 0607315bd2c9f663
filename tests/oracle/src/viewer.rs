//! `go tool trace`'s web viewer, opened on a trace and walked page by page.
//!
//! `-d=parsed` shows that Go's parser accepts a trace; a user opens it with `go tool trace FILE`,
//! which does more: it splits the trace for the timeline, summarises every goroutine, computes
//! the MMU curves and the profiles, each page served by its own handler. A handler that panics
//! on a trace Go's parser accepts shows the user an empty page. So the tests open the viewer as a
//! user does (with `BROWSER=true` for a browser that opens nothing), follow every link it serves,
//! and fetch the data the timeline and MMU pages load from script.
//!
//! HTTP/1.0 over a `TcpStream` is all that takes: one request per connection, the body read to
//! its end, which is also how a handler's panic shows (Go's server closes the connection without
//! a response). A handler that fails without panicking logs why and serves an empty page, so the
//! tool's log after it began serving must stay empty.

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::OracleError;

/// More pages than any test trace gives (the firmware's: about 50): a bound on a walk that
/// would otherwise follow links it makes up itself.
const MAX_PAGES: usize = 2000;

/// How long the viewer may take to start, and one page to come: for the tests' traces, both
/// take milliseconds.
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `go tool trace` viewer for one trace; stopped when dropped.
pub struct Viewer {
    child: Child,
    file: PathBuf,
    /// `host:port` it listens on.
    addr: String,
    /// Where its stderr goes: a file, so that whatever a handler logged is there to read by the
    /// time its response has come (a pipe's reader would race with it).
    log: PathBuf,
    /// The log's length when the viewer began serving: what follows is from the handlers.
    served_from: usize,
}

/// One page as served.
#[derive(Debug)]
pub struct Page {
    /// The HTTP status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// What the tool logs once it serves.
const LISTENING: &str = "Trace viewer is listening on http://";

impl Viewer {
    /// Starts the viewer on `file` and waits until it listens. A trace the tool cannot read, or
    /// reads only in part ("Encountered error, but able to proceed"), is an error.
    pub(crate) fn open(trace_tool: &Path, file: &Path) -> Result<Viewer, OracleError> {
        static OPENED: AtomicUsize = AtomicUsize::new(0);
        let log = crate::scratch_dir().join(format!(
            "viewer-{}.log",
            OPENED.fetch_add(1, Ordering::Relaxed)
        ));
        let spawn_error = |source| OracleError::Spawn {
            what: format!("go tool trace {}", file.display()),
            source,
        };
        let stderr = File::create(&log).map_err(spawn_error)?;
        let child = Command::new(trace_tool)
            .arg("-http=127.0.0.1:0")
            .arg(file)
            .env("BROWSER", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(spawn_error)?;
        let mut viewer = Viewer {
            child,
            file: file.to_owned(),
            addr: String::new(),
            log,
            served_from: 0,
        };
        let started = Instant::now();
        loop {
            let log = viewer.log();
            if log.contains("Encountered error") {
                return Err(viewer.failure("it read the trace only in part"));
            }
            if let Some(at) = log.find(LISTENING) {
                let line = log[at + LISTENING.len()..]
                    .lines()
                    .next()
                    .unwrap_or_default();
                viewer.addr = line.trim().to_owned();
                viewer.served_from = log.len();
                return Ok(viewer);
            }
            if !matches!(viewer.child.try_wait(), Ok(None)) {
                return Err(viewer.failure("it ended before serving"));
            }
            if started.elapsed() > PAGE_TIMEOUT {
                return Err(viewer.failure("it did not serve in time"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the tool logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn failure(&self, what: &str) -> OracleError {
        OracleError::Viewer {
            file: self.file.clone(),
            what: what.to_owned(),
            log: self.log(),
        }
    }

    /// Fetches `path` (`/goroutines`, `/jsontrace?view=proc`).
    pub fn get(&self, path: &str) -> Result<Page, OracleError> {
        let fail = |why: String| self.failure(&format!("GET {path}: {why}"));
        let mut stream = TcpStream::connect(&self.addr).map_err(|e| fail(e.to_string()))?;
        stream
            .set_read_timeout(Some(PAGE_TIMEOUT))
            .map_err(|e| fail(e.to_string()))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr)
            .map_err(|e| fail(e.to_string()))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| fail(e.to_string()))?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| fail("no response (the handler crashed?)".to_owned()))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| fail(format!("no status in {:?}", head.lines().next())))?;
        Ok(Page {
            status,
            body: body.to_owned(),
        })
    }

    /// Fetches every page the viewer links to from its main page, and the data its timeline
    /// and MMU pages load from script; any page not served whole with status 200, or anything
    /// in the log, is an error. Returns the paths fetched.
    pub fn walk(&self) -> Result<BTreeSet<String>, OracleError> {
        let mut queue: VecDeque<String> = ["/", "/mmuPlot?flags=perProc"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut fetched = BTreeSet::new();
        while let Some(path) = queue.pop_front() {
            if !fetched.insert(path.clone()) {
                continue;
            }
            if fetched.len() > MAX_PAGES {
                return Err(self.failure(&format!("more than {MAX_PAGES} pages")));
            }
            let page = self.get(&path)?;
            if page.status != 200 && !is_profile_of_no_goroutines(&path, &page) {
                return Err(self.failure(&format!(
                    "GET {path}: status {}: {}",
                    page.status,
                    page.body.trim()
                )));
            }
            queue.extend(links(&page.body));
        }
        // A handler that cannot make its page logs why and serves an empty one.
        let log = self.log();
        let logged = log.get(self.served_from..).unwrap_or_default().trim();
        if !logged.is_empty() {
            return Err(self.failure(&format!("its pages logged errors: {logged}")));
        }
        Ok(fetched)
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The viewer's own links in `html`, as the pages behind them fetch their data: the timeline
/// page (`/trace?...`) is a script that loads `/jsontrace?...`, and a profile as an SVG needs
/// Graphviz, so profiles are fetched raw (what the SVG is drawn from).
fn links(html: &str) -> Vec<String> {
    const PROFILES: [&str; 8] = [
        "/io",
        "/block",
        "/syscall",
        "/sched",
        "/regionio",
        "/regionblock",
        "/regionsyscall",
        "/regionsched",
    ];
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|link| link.starts_with('/') && !link.starts_with("/static/"))
        .map(|link| {
            // A fragment (`#0:0.032`, where the timeline opens) stays in the browser.
            let link = link
                .split('#')
                .next()
                .unwrap_or_default()
                .replace("&amp;", "&");
            if let Some(query) = link.strip_prefix("/trace?") {
                return format!("/jsontrace?{query}");
            }
            let endpoint = link.split('?').next().unwrap_or_default();
            if PROFILES.contains(&endpoint) && !link.contains("raw=1") {
                let joint = if link.contains('?') { '&' } else { '?' };
                return format!("{link}{joint}raw=1");
            }
            link
        })
        .filter(|link| !is_background_task_timeline(link))
        .collect()
}

/// A goroutine profile (`/io`, `/block`, `/syscall`, `/sched`) of every goroutine, refused as
/// Go's viewer refuses it for a trace without goroutines (a session of a device's in which no
/// task ran): with no name asked for, its "no matching goroutines" means there are none.
fn is_profile_of_no_goroutines(path: &str, page: &Page) -> bool {
    let (endpoint, query) = path.split_once('?').unwrap_or((path, ""));
    ["/io", "/block", "/syscall", "/sched"].contains(&endpoint)
        && !query
            .split('&')
            .any(|p| p.starts_with("name=") && p != "name=")
        && page.status == 500
        && page.body.trim() == "failed to get records: failed to find matching goroutines for name:"
}

/// The timeline of task 0, the background task that logs and regions outside any task belong
/// to: the viewer lists it with the tasks and links its timeline, which it cannot draw (it has
/// no start or end; "failed to find task with id 0", for a Go program's own trace too).
fn is_background_task_timeline(link: &str) -> bool {
    link.strip_prefix("/jsontrace?").is_some_and(|query| {
        query
            .split('&')
            .any(|p| p == "taskid=0" || p == "focustask=0")
    })
}

#[cfg(test)]
mod tests {
    use super::{is_profile_of_no_goroutines, links, Page};

    #[test]
    fn only_a_profile_of_all_goroutines_may_find_none() {
        let none = |status| Page {
            status,
            body: "failed to get records: failed to find matching goroutines for name: \n"
                .to_owned(),
        };
        assert!(is_profile_of_no_goroutines("/io?raw=1", &none(500)));
        assert!(is_profile_of_no_goroutines(
            "/sched?name=&raw=1",
            &none(500)
        ));
        assert!(!is_profile_of_no_goroutines(
            "/io?name=main.f&raw=1",
            &none(500)
        ));
        assert!(!is_profile_of_no_goroutines("/regionio?raw=1", &none(500)));
        assert!(!is_profile_of_no_goroutines("/io?raw=1", &none(404)));
    }

    #[test]
    fn links_are_taken_as_the_pages_behind_them_fetch_their_data() {
        let html = r#"<a href="/trace?view=proc&amp;start=0">t</a> <a href="/io">io</a>
            <a href="/trace?taskid=1&amp;focustask=1#0.006:0.008">task</a>
            <a href="/trace?focustask=0#0:0.03">Task 0</a> <a href="/trace?taskid=0#0:0.03">0</a>
            <a href="/block?raw=1">b</a> <a href="/static/x.js">s</a> <a href="https://go.dev">g</a>
            <a href="/regionsched?type=a&amp;name=b">r</a> <a href="/goroutine?id=3">g</a>"#;
        assert_eq!(
            links(html),
            [
                "/jsontrace?view=proc&start=0",
                "/io?raw=1",
                "/jsontrace?taskid=1&focustask=1",
                "/block?raw=1",
                "/regionsched?type=a&name=b&raw=1",
                "/goroutine?id=3",
            ]
        );
    }
}
