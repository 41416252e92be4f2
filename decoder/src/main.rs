//! `tapelog`: decode tapelog segments. All logic lives in the `tapelog_decoder` library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tapelog_decoder::{cat, parse_time, summary, CatOptions, READS_VERSIONS};

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

#[derive(Parser)]
#[command(name = "tapelog", about = "Decode tapelog binary log segments", version = long_version())]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print records of segment files or directories, merged in timestamp order.
    Cat {
        /// Segment files or directories holding them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print NDJSON (one object per record) instead of text.
        #[arg(long)]
        json: bool,
        /// Only records at this level or above (trace, debug, info, warn, error).
        #[arg(long)]
        level: Option<tapelog::Level>,
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
    },
    /// Count records per level, call site and thread; drops, time span, bytes per record.
    Stats {
        /// Segment files or directories holding them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How many call sites to list.
        #[arg(long, default_value_t = 20)]
        top: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stderr = std::io::stderr().lock();
    let code = match cli.cmd {
        Cmd::Cat { paths, json, level, since, until, thread, grep } => {
            let opts = CatOptions { json, level, since, until, thread, grep };
            let mut stdout = std::io::stdout().lock();
            match cat(&paths, &opts, &mut stdout, &mut stderr) {
                Ok(o) => o.exit_code(),
                Err(e) => {
                    eprintln!("tapelog: error: {e}");
                    2
                }
            }
        }
        Cmd::Stats { paths, top } => match summary::summarize(&paths, &mut stderr) {
            Ok((s, o)) => {
                print!("{}", summary::render(&s, top));
                o.exit_code()
            }
            Err(e) => {
                eprintln!("tapelog: error: {e}");
                2
            }
        },
    };
    ExitCode::from(code as u8)
}
