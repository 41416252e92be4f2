//! Named outputs and the routes that pick their records.
//!
//! Every record goes to the main segments and the unnamed text outputs. A named
//! [`Output`] gets the records its [`Route`] picks: by target (module path) prefix, by level,
//! or by the logger named in the macro (`info!(logger: "trades", ...)`). Each output has its
//! own directory, segment size, retention and durability (segments), or its own destination
//! and format, `tapelog cat`'s text layout or NDJSON ([`Output::json`]) (text).
//!
//! Routes are decided once per call site, on the consumer thread, the first time it sees
//! the site; the call itself does nothing more than without routes.
//!
//! ```
//! use tapelog::{Level, Output, Route, TextOutput};
//! let dir = std::env::temp_dir().join(format!("tapelog-doc-route-{}", std::process::id()));
//! let guard = tapelog::Builder::new()
//!     .dir(dir.join("main"))                                     // everything
//!     .output(Output::segments("trades", dir.join("trades"))      // also: order flow
//!         .route(Route::target("my_app::orders").or(Route::logger("trades")))
//!         .max_files(100))
//!     .output(Output::text("console", TextOutput::Stderr)         // also: errors
//!         .route(Route::level(Level::Error)))
//!     .start()?;
//! tapelog::info!(logger: "trades", "filled {}", 100u32);
//! tapelog::flush();
//! drop(guard);
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), tapelog::StartError>(())
//! ```

use std::path::PathBuf;

use crate::frontend::callsite::Callsite;
use crate::sink::syslog::{Syslog, Transport};
use crate::{Durability, Level};

/// Which records an [`Output`] gets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Route {
    /// Every record.
    All,
    /// Records whose target (module path) is this or below it (`a::b` takes `a::b` and
    /// `a::b::c`, not `a::bc`).
    Target(String),
    /// Records at this level or more severe.
    Level(Level),
    /// Records of call sites that name this logger (`info!(logger: "trades", ...)`).
    Logger(String),
    /// Records either route takes.
    Or(Box<Route>, Box<Route>),
    /// Records both routes take.
    And(Box<Route>, Box<Route>),
}

impl Route {
    /// Every record.
    pub fn all() -> Route {
        Route::All
    }

    /// Records whose target is `prefix` or below it.
    pub fn target(prefix: impl Into<String>) -> Route {
        Route::Target(prefix.into())
    }

    /// Records at `min` or more severe.
    pub fn level(min: Level) -> Route {
        Route::Level(min)
    }

    /// Records of call sites that name logger `name`.
    pub fn logger(name: impl Into<String>) -> Route {
        Route::Logger(name.into())
    }

    /// Records this route or `other` takes.
    pub fn or(self, other: Route) -> Route {
        Route::Or(Box::new(self), Box::new(other))
    }

    /// Records this route and `other` both take.
    pub fn and(self, other: Route) -> Route {
        Route::And(Box::new(self), Box::new(other))
    }

    /// Whether records of call site `cs` go this way.
    pub fn matches(&self, cs: &Callsite) -> bool {
        match self {
            Route::All => true,
            Route::Target(p) => {
                cs.module == p || (cs.module.starts_with(p.as_str()) && cs.module[p.len()..].starts_with("::"))
            }
            Route::Level(min) => cs.level >= *min,
            Route::Logger(name) => cs.logger == Some(name.as_str()),
            Route::Or(a, b) => a.matches(cs) || b.matches(cs),
            Route::And(a, b) => a.matches(cs) && b.matches(cs),
        }
    }
}

/// A named output with a route. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Output {
    pub(crate) name: String,
    pub(crate) route: Route,
    pub(crate) kind: OutputKind,
    pub(crate) json: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum OutputKind {
    Segments {
        dir: PathBuf,
        segment_size: Option<usize>,
        max_files: Option<usize>,
        max_bytes: Option<u64>,
        durability: Durability,
    },
    Text(TextOutput),
}

impl Output {
    /// Segment files in a directory of their own, which `tapelog cat` reads on its own.
    /// Segment size defaults to the main segments'; no retention limit; no syncing.
    pub fn segments(name: impl Into<String>, dir: impl Into<PathBuf>) -> Output {
        Output {
            name: name.into(),
            route: Route::All,
            json: false,
            kind: OutputKind::Segments {
                dir: dir.into(),
                segment_size: None,
                max_files: None,
                max_bytes: None,
                durability: Durability::None,
            },
        }
    }

    /// A text output (console, file, syslog), formatted as the unnamed ones are.
    pub fn text(name: impl Into<String>, out: TextOutput) -> Output {
        Output { name: name.into(), route: Route::All, kind: OutputKind::Text(out), json: false }
    }

    /// Text outputs: one JSON object per line (`ts`, `level`, `thread`, `thread_id`,
    /// `target`, `file`, `line`, `msg`, `fields`, as [`Record::to_json`](crate::Record::to_json)
    /// makes it) instead of `tapelog cat`'s text layout. Syslog outputs keep RFC 5424.
    pub fn json(mut self) -> Output {
        self.json = true;
        self
    }

    /// The records it gets (default: all).
    pub fn route(mut self, r: Route) -> Output {
        self.route = r;
        self
    }

    /// Bytes per segment file (segment outputs).
    pub fn segment_size(mut self, bytes: usize) -> Output {
        if let OutputKind::Segments { segment_size, .. } = &mut self.kind {
            *segment_size = Some(bytes);
        }
        self
    }

    /// Keep at most `n` segment files, deleting the oldest (segment outputs).
    pub fn max_files(mut self, n: usize) -> Output {
        if let OutputKind::Segments { max_files, .. } = &mut self.kind {
            *max_files = Some(n);
        }
        self
    }

    /// Keep at most `n` bytes of segments, deleting the oldest (segment outputs).
    pub fn max_bytes(mut self, n: u64) -> Output {
        if let OutputKind::Segments { max_bytes, .. } = &mut self.kind {
            *max_bytes = Some(n);
        }
        self
    }

    /// Whether `flush()` syncs this output's segments too (segment outputs).
    pub fn durability(mut self, d: Durability) -> Output {
        if let OutputKind::Segments { durability, .. } = &mut self.kind {
            *durability = d;
        }
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A text output: where formatted lines go.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("tapelog-doc-text-{}", std::process::id()));
/// let guard = tapelog::Builder::new()
///     .dir(&dir)                                                 // binary segments, and
///     .text_output(tapelog::TextOutput::File(dir.join("app.log"))) // the same as text
///     .start()?;
/// tapelog::info!("filled {} @ {}", 100u32, 101.25f64);
/// tapelog::flush(); // also waits until the line is in app.log
/// let text = std::fs::read_to_string(dir.join("app.log"))?;
/// assert!(text.ends_with("filled 100 @ 101.25\n"));
/// drop(guard);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextOutput {
    /// Standard error; colored when it is a terminal and `NO_COLOR` is unset.
    Stderr,
    /// Standard output; colored when it is a terminal and `NO_COLOR` is unset.
    Stdout,
    /// A plain text file, appended to (created, with its directory, if missing); never
    /// colored.
    File(PathBuf),
    /// RFC 5424 messages to a syslog collector, over UDP or TCP (see [`Syslog`]). A
    /// collector that is down never fails `start()`: its messages are counted as dropped
    /// until it is back.
    Syslog(Syslog),
}

impl TextOutput {
    /// The name `stats()` reports it under: `stderr`, `stdout` or the file's path.
    pub fn name(&self) -> String {
        match self {
            TextOutput::Stderr => "stderr".into(),
            TextOutput::Stdout => "stdout".into(),
            TextOutput::File(p) => p.display().to_string(),
            TextOutput::Syslog(s) => {
                format!("syslog+{}://{}", if s.transport() == Transport::Tcp { "tcp" } else { "udp" }, s.addr())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ORDERS: Callsite = Callsite::new(Level::Info, "x", "my_app::orders", "f.rs", 1);
    static ORDERS_SUB: Callsite = Callsite::new(Level::Warn, "x", "my_app::orders::fix", "f.rs", 1);
    static ORDERSX: Callsite = Callsite::new(Level::Error, "x", "my_app::ordersx", "f.rs", 1);
    static TRADES: Callsite = Callsite::new(Level::Debug, "x", "other", "f.rs", 1).with_logger(&["trades"]);

    #[test]
    fn routes_pick_by_target_level_and_logger() {
        let t = Route::target("my_app::orders");
        assert!(t.matches(&ORDERS) && t.matches(&ORDERS_SUB) && !t.matches(&ORDERSX) && !t.matches(&TRADES));
        let l = Route::level(Level::Warn);
        assert!(!l.matches(&ORDERS) && l.matches(&ORDERS_SUB) && l.matches(&ORDERSX) && !l.matches(&TRADES));
        let g = Route::logger("trades");
        assert!(g.matches(&TRADES) && !g.matches(&ORDERS));
        assert!(t.clone().or(g.clone()).matches(&TRADES));
        assert!(!t.and(l).matches(&ORDERS));
        assert!(Route::all().matches(&ORDERSX));
    }
}
