//! `tapelog`: decode tapelog segments. All logic lives in the `tapelog_decoder` library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tapelog_decoder::template::{LineTemplate, DEFAULT_FORMAT, FIELDS};
use tapelog_decoder::timefmt::{TimeFormatter, TsStyle};
use tapelog_decoder::{cat, check, parse_time, serve, summary, CatOptions, TextStyle, READS_VERSIONS};

fn long_version() -> &'static str {
    Box::leak(
        format!(
            "{} (reads segment format versions {}..={})",
            env!("CARGO_PKG_VERSION"),
            READS_VERSIONS.0,
            READS_VERSIONS.1
        )
        .into_boxed_str(),
    )
}

const EXIT_CODES: &str = "Exit codes: 0 success (warnings such as torn tails allowed), 1 damaged data, \
2 bad usage or unreadable input.";

#[derive(Parser)]
#[command(name = "tapelog", about = "Decode tapelog binary log segments", version = long_version())]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum)]
enum SortBy {
    Records,
    Bytes,
}

#[derive(Args)]
struct TimeArgs {
    /// Timestamps in UTC (the default).
    #[arg(long, conflicts_with_all = ["local", "tz"])]
    utc: bool,
    /// Timestamps in the local time zone (TZ, or the system's).
    #[arg(long, conflicts_with = "tz")]
    local: bool,
    /// Timestamps in this IANA time zone (Europe/Paris) or POSIX TZ string.
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Timestamp format: rfc3339 (default), unix, unix-ns, or a strftime pattern such as
    /// '%Y-%m-%d %H:%M:%S%.6f'.
    #[arg(long, value_name = "FMT", default_value = "rfc3339", value_parser = |s: &str| s.parse::<TsStyle>())]
    ts_format: TsStyle,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Print records of segment files or directories, merged in timestamp order.
    #[command(after_help = EXIT_CODES)]
    Cat {
        /// Segment files or directories holding them; `-` reads a segment stream from stdin
        /// (`zstdcat seg.tlog.zst | tapelog cat -`).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Keep printing records as live segments grow, follow rotation into new segments and
        /// writer restarts into new runs (like `tail -F`). Stop with Ctrl-C.
        #[arg(short, long)]
        follow: bool,
        /// Print NDJSON (one object per record) instead of text.
        #[arg(long)]
        json: bool,
        /// Only records at this level or above (trace, debug, info, warn, error).
        #[arg(long)]
        level: Option<tapelog_format::Level>,
        /// Only records at or after this time (RFC 3339 or Unix ns).
        #[arg(long, value_parser = parse_time)]
        since: Option<i128>,
        /// Only records before this time (RFC 3339 or Unix ns).
        #[arg(long, value_parser = parse_time)]
        until: Option<i128>,
        /// Only records of this thread (name or tapelog thread id).
        #[arg(long)]
        thread: Option<String>,
        /// Only records whose message matches this regular expression.
        #[arg(long)]
        grep: Option<regex::Regex>,
        /// Line template. Placeholders: {ts}, {level}, {thread}, {thread_id}, {target},
        /// {file}, {line}, {msg}, and {fields} (the key-value fields as ` key=value` pairs,
        /// each with a leading space; nothing for records without fields); {name:<N} /
        /// {name:>N} pad to N characters; {{ }} are braces, \t a tab. Drop reports keep their
        /// own layout.
        #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_FORMAT)]
        format: String,
        #[command(flatten)]
        time: TimeArgs,
        /// Color the level and timestamp: auto (when stdout is a terminal and NO_COLOR is
        /// unset), always, never.
        #[arg(long, value_enum, default_value = "auto")]
        color: Color,
        /// Same as --color never.
        #[arg(long)]
        no_color: bool,
        /// How long stdin and --follow hold records back to merge threads in timestamp
        /// order, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 50)]
        window: u64,
        /// No progress bar (otherwise shown on stderr for inputs over 100 MB when stdout is
        /// not a terminal).
        #[arg(short, long)]
        quiet: bool,
    },
    /// Count records per level, call site and thread; drops, time span, bytes per record.
    #[command(after_help = EXIT_CODES)]
    Stats {
        /// Segment files or directories holding them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How many call sites to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Rank call sites by records or by bytes.
        #[arg(long, value_enum, default_value = "records")]
        by: SortBy,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Collect the binary network streams of loggers built with `Builder::network`: each
    /// source (host, pid, run) gets a directory under DIR whose segments `tapelog cat` reads.
    /// Stop with SIGINT or SIGTERM; files are finalized.
    #[command(
        after_help = "Connection events (accepted, closed and why) go to stderr, one line each. A connection that sends anything but the tapelog stream protocol, an unknown protocol version, a missing or wrong token (with --token-file), a damaged entry, a frame over --max-frame or past --max-memory, or that stalls mid-frame is closed; the others go on. Limits and what they stop: docs/SECURITY.md.\nExit codes: 0 stopped by a signal, 2 could not listen or create DIR, a bad --token-file, or root without --allow-root."
    )]
    Serve {
        /// Address to listen on (`host:port`; port 0 picks a free port, printed at start).
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// Directory for the sources' segment directories.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Also print every record as text on stdout, each line prefixed with its source.
        #[arg(long)]
        print: bool,
        /// Bytes per segment file the collector writes.
        #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
        segment_size: usize,
        /// Largest frame accepted, in bytes: a connection's buffer never grows past it.
        #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
        max_frame: usize,
        /// Seconds a sender may stay silent inside a frame (or before its HELLO).
        #[arg(long, value_name = "SECS", default_value_t = 10.0)]
        stall_timeout: f64,
        /// Color the printed level and timestamp: auto, always, never.
        #[arg(long, value_enum, default_value = "auto")]
        color: Color,
        /// Let in only senders whose HELLO carries this file's content (trimmed) as token
        /// (`Network::token`). The file must be readable by its owner only (chmod 600).
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// Connections at once; more are closed at accept, with a log line.
        #[arg(long, value_name = "N", default_value_t = 256)]
        max_connections: usize,
        /// Source directories under DIR (those already there count); a new source past it
        /// is refused.
        #[arg(long, value_name = "N", default_value_t = 1024)]
        max_sources: usize,
        /// Bytes of read buffers of all connections together; a connection whose next frame
        /// would pass it is closed.
        #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
        max_memory: usize,
        /// Bytes of segment files per source directory; the oldest are removed as new ones
        /// open (the one being written stays, so up to one segment more). Unlimited if unset.
        #[arg(long, value_name = "BYTES")]
        max_bytes_per_source: Option<u64>,
        /// Bytes of segment files of all sources together; the oldest (by modification time)
        /// are removed, never a source's newest. Unlimited if unset.
        #[arg(long, value_name = "BYTES")]
        max_bytes: Option<u64>,
        /// Run even as root (refused otherwise: the collector writes what the network sends).
        #[arg(long)]
        allow_root: bool,
    },
    /// Verify headers, dictionaries, committed lengths, checksums and record framing.
    #[command(after_help = "Prints one line per file: OK, TORN at a byte offset, CORRUPT at a byte offset, or \
UNREADABLE.\nExit codes: 0 every file OK (live, unfinalized segments included), 1 some file corrupt, 2 a path \
could not be read, 3 no corruption but a torn tail.")]
    Check {
        /// Segment files or directories holding them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print one JSON object per file.
        #[arg(long)]
        json: bool,
        /// Print only files that are not OK.
        #[arg(short, long)]
        quiet: bool,
    },
}

fn time_formatter(t: &TimeArgs) -> Result<TimeFormatter, String> {
    let tz = if let Some(name) = &t.tz {
        jiff::tz::TimeZone::get(name)
            .or_else(|_| jiff::tz::TimeZone::posix(name))
            .map_err(|e| format!("unknown time zone {name:?}: {e}"))?
    } else if t.local {
        jiff::tz::TimeZone::system()
    } else {
        jiff::tz::TimeZone::UTC
    };
    Ok(TimeFormatter::new(tz, t.ts_format.clone()))
}

fn serve_main(opts: serve::ServeOptions) -> i32 {
    let stderr = &mut std::io::stderr();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            let _ = writeln!(stderr, "tapelog serve: error: cannot handle signal {sig}: {e}");
            return 2;
        }
    }
    let c = match serve::Collector::bind(opts.clone(), stop, Box::new(std::io::stderr())) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(stderr, "tapelog serve: error: {e}");
            return 2;
        }
    };
    match c.local_addr() {
        Ok(a) => {
            let auth = if opts.token.is_some() { "senders need the token" } else { "no token required" };
            let _ = writeln!(stderr, "tapelog serve: listening on {a}, writing to {}, {auth}", opts.dir.display());
        }
        Err(e) => {
            let _ = writeln!(stderr, "tapelog serve: error: {e}");
            return 2;
        }
    }
    match c.run() {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(stderr, "tapelog serve: error: {e}");
            2
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Serve {
        listen,
        dir,
        print,
        segment_size,
        max_frame,
        stall_timeout,
        color,
        token_file,
        max_connections,
        max_sources,
        max_memory,
        max_bytes_per_source,
        max_bytes,
        allow_root,
    } = cli.cmd
    {
        if !allow_root && serve::running_as_root() {
            eprintln!(
                "tapelog serve: error: refusing to run as root: the collector writes whatever the network sends it; \
                 run it as an unprivileged user, or pass --allow-root"
            );
            return ExitCode::from(2);
        }
        if max_memory < serve::MIN_MEMORY {
            eprintln!(
                "tapelog serve: error: --max-memory {max_memory} is below {}, one connection's starting buffer",
                serve::MIN_MEMORY
            );
            return ExitCode::from(2);
        }
        let token = match token_file.as_deref().map(serve::Token::from_file).transpose() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("tapelog serve: error: {e}");
                return ExitCode::from(2);
            }
        };
        let color = match color {
            Color::Never => false,
            Color::Always => true,
            Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        let print = print.then(|| CatOptions {
            style: TextStyle::new(
                LineTemplate::default(),
                TimeFormatter::new(jiff::tz::TimeZone::UTC, TsStyle::Rfc3339),
                color,
            ),
            ..CatOptions::default()
        });
        let opts = serve::ServeOptions {
            listen,
            dir,
            segment_size,
            max_frame,
            stall_timeout: Duration::from_secs_f64(stall_timeout.max(0.1)),
            print,
            token,
            max_connections: max_connections.max(1),
            max_sources,
            max_memory,
            max_bytes_per_source,
            max_bytes,
        };
        // Not under a stderr lock: connection threads log to stderr.
        return ExitCode::from(serve_main(opts) as u8);
    }
    let mut stderr = std::io::stderr().lock();
    let code = match cli.cmd {
        Cmd::Cat {
            paths,
            follow,
            json,
            level,
            since,
            until,
            thread,
            grep,
            format,
            time,
            color,
            no_color,
            window,
            quiet,
        } => {
            let stdout_tty = std::io::stdout().is_terminal();
            let color = match (no_color, color) {
                (true, _) | (_, Color::Never) => false,
                (_, Color::Always) => true,
                (_, Color::Auto) => stdout_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            };
            let style = format
                .parse::<LineTemplate>()
                .and_then(|template| Ok(TextStyle::new(template, time_formatter(&time)?, color && !json)));
            match style {
                Err(e) => {
                    let _ = writeln!(stderr, "tapelog: error: {e} (placeholders: {FIELDS})");
                    2
                }
                Ok(style) => {
                    let opts = CatOptions {
                        json,
                        level,
                        since,
                        until,
                        thread,
                        grep,
                        style,
                        follow,
                        window: Duration::from_millis(window),
                        progress: !quiet && !stdout_tty,
                    };
                    let mut stdout = std::io::stdout().lock();
                    match cat(&paths, &opts, &mut stdout, &mut stderr) {
                        Ok(o) => o.exit_code(),
                        Err(e) => {
                            let _ = writeln!(stderr, "tapelog: error: {e}");
                            2
                        }
                    }
                }
            }
        }
        Cmd::Stats { paths, top, by, json } => match summary::summarize(&paths, &mut stderr) {
            Ok((s, o)) => {
                let by_bytes = matches!(by, SortBy::Bytes);
                if json {
                    println!("{}", summary::to_json(&s, top, by_bytes));
                } else {
                    print!("{}", summary::render(&s, top, by_bytes));
                }
                o.exit_code()
            }
            Err(e) => {
                let _ = writeln!(stderr, "tapelog: error: {e}");
                2
            }
        },
        Cmd::Serve { .. } => unreachable!("handled before stderr is locked"),
        Cmd::Check { paths, json, quiet } => {
            let mut reports = Vec::new();
            let mut stdout = std::io::stdout().lock();
            for f in check::expand(&paths) {
                let r = check::check_file(&f);
                let ok = r.status == check::Status::Ok;
                let _ = if json {
                    writeln!(stdout, "{}", r.json())
                } else if !(quiet && ok) {
                    writeln!(stdout, "{}", r.line())
                } else {
                    Ok(())
                };
                reports.push(r);
            }
            check::exit_code(&reports)
        }
    };
    ExitCode::from(code as u8)
}
