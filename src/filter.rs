//! Run-time level filters: directives such as `info,my_crate::noisy=warn,my_crate::hot=off`.
//!
//! Directives are evaluated once per call site (when it registers, and again for every call
//! site when [`set_filter`](crate::set_filter) changes them); the result is cached in the call
//! site, so the hot-path check stays a single relaxed load.

use std::fmt;
use std::str::FromStr;

use crate::Level;

/// The least severe level a directive lets through, or nothing (`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LevelFilter {
    /// Everything (`trace`).
    Trace,
    /// `debug` and above.
    Debug,
    /// `info` and above.
    Info,
    /// `warn` and above.
    Warn,
    /// `error` only.
    Error,
    /// Nothing.
    Off,
}

impl LevelFilter {
    /// Whether a record at `level` passes.
    pub const fn allows(self, level: Level) -> bool {
        (level as u8) >= (self as u8)
    }
}

impl FromStr for LevelFilter {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "trace" => LevelFilter::Trace,
            "debug" => LevelFilter::Debug,
            "info" => LevelFilter::Info,
            "warn" | "warning" => LevelFilter::Warn,
            "error" => LevelFilter::Error,
            "off" | "none" => LevelFilter::Off,
            _ => return Err(()),
        })
    }
}

/// A parsed filter: a default level and per-module overrides (the longest matching module
/// prefix wins, matching at `::` boundaries).
///
/// ```
/// let f: tapelog::Filter = "info,app::noisy=warn,app::hot=off".parse().unwrap();
/// assert!(f.enabled("app::orders", tapelog::Level::Info));
/// assert!(!f.enabled("app::noisy::feed", tapelog::Level::Info));
/// assert!(f.enabled("app::noisy", tapelog::Level::Error));
/// assert!(!f.enabled("app::hot", tapelog::Level::Error));
/// assert!(f.enabled("app::hotter", tapelog::Level::Info)); // not under app::hot
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    default: LevelFilter,
    /// Sorted longest prefix first.
    rules: Vec<(String, LevelFilter)>,
}

impl Default for Filter {
    /// Everything enabled.
    fn default() -> Self {
        Filter::EVERYTHING
    }
}

impl Filter {
    /// Lets everything through (the filter in force until one is set).
    pub const EVERYTHING: Filter = Filter { default: LevelFilter::Trace, rules: Vec::new() };

    /// Whether a call site of `module` at `level` is enabled.
    pub fn enabled(&self, module: &str, level: Level) -> bool {
        for (prefix, f) in &self.rules {
            let under =
                module.len() == prefix.len() || module.as_bytes().get(prefix.len()..prefix.len() + 2) == Some(b"::");
            if module.starts_with(prefix.as_str()) && under {
                return f.allows(level);
            }
        }
        self.default.allows(level)
    }
}

/// A directive that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The directive, as written.
    pub directive: String,
    /// Its position in the comma-separated list (from 1).
    pub position: usize,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad filter directive #{} {:?}: expected LEVEL, MODULE or MODULE=LEVEL with LEVEL one of trace, debug, info, warn, error, off",
            self.position, self.directive
        )
    }
}

impl std::error::Error for FilterError {}

impl FromStr for Filter {
    type Err = FilterError;

    /// Parses `LEVEL`, `MODULE` (= `MODULE=trace`) and `MODULE=LEVEL` directives separated by
    /// commas; later directives for the same module win.
    fn from_str(s: &str) -> Result<Self, FilterError> {
        let mut f = Filter { default: LevelFilter::Trace, rules: Vec::new() };
        for (i, d) in s.split(',').enumerate() {
            let d = d.trim();
            if d.is_empty() {
                continue;
            }
            let err = || FilterError { directive: d.to_string(), position: i + 1 };
            match d.split_once('=') {
                Some((module, level)) => {
                    let module = module.trim();
                    if module.is_empty() || module.contains(char::is_whitespace) {
                        return Err(err());
                    }
                    let level = level.parse().map_err(|_| err())?;
                    f.rules.retain(|(m, _)| m != module);
                    f.rules.push((module.to_string(), level));
                }
                None => match d.parse::<LevelFilter>() {
                    Ok(level) => f.default = level,
                    Err(()) if d.chars().all(|c| c.is_alphanumeric() || c == '_' || c == ':') => {
                        f.rules.retain(|(m, _)| m != d);
                        f.rules.push((d.to_string(), LevelFilter::Trace));
                    }
                    Err(()) => return Err(err()),
                },
            }
        }
        f.rules.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_at_path_boundaries() {
        let f: Filter = "warn,a=info,a::b=off,a::b::c=trace".parse().unwrap();
        assert!(!f.enabled("x", Level::Info));
        assert!(f.enabled("x", Level::Warn));
        assert!(f.enabled("a", Level::Info));
        assert!(f.enabled("a::z", Level::Info));
        assert!(!f.enabled("a::b", Level::Error));
        assert!(!f.enabled("a::b::d", Level::Error));
        assert!(f.enabled("a::b::c::e", Level::Trace));
        assert!(f.enabled("a::bb", Level::Info), "a::bb is not under a::b");
    }

    #[test]
    fn bad_directives_name_themselves() {
        let e = "info,a=loud".parse::<Filter>().unwrap_err();
        assert_eq!(e.position, 2);
        assert!(e.to_string().contains("\"a=loud\""), "{e}");
        assert!("=info".parse::<Filter>().is_err());
        assert!("".parse::<Filter>().is_ok());
        assert!("my_crate".parse::<Filter>().unwrap().enabled("my_crate::x", Level::Trace));
    }
}
