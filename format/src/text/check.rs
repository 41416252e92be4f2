//! Compile-time validation of log format strings.

use super::spec::{Scanner, Token};

/// Checks, in `const` context, that `fmt` with `nargs` arguments can be rendered later
/// by [`Template`](super::Template), and says why not otherwise.
///
/// The log macros run it at compile time next to a dead `format_args!`, which already
/// checks arity and that each argument implements the requested trait. This check adds
/// what `format_args!` accepts but the deferred renderer cannot reproduce: named and
/// captured arguments (`{name}`), widths and precisions taken from arguments
/// (`{:1$}`, `{:.*}`), and `{:p}`.
///
/// It accepts `fmt` exactly when [`Template::parse`](super::Template::parse) succeeds
/// and the template's [`arg_count`](super::Template::arg_count) equals `nargs`.
/// Arguments that are passed but never referenced below the highest index used
/// (`"{1}"` with two arguments) are left for `format_args!` to report.
///
/// The returned messages are `'static` because a `const` panic cannot format them.
///
/// ```
/// use tapelog_format::text::check_format;
///
/// // How a macro turns the result into a compile error:
/// const _: () = if let Err(e) = check_format("px {:>8.2} qty {0}", 1) {
///     panic!("{}", e)
/// };
///
/// assert!(check_format("{} {}", 2).is_ok());
/// assert!(check_format("{price}", 0).unwrap_err().contains("positionally"));
/// assert!(check_format("{}", 2).is_err());
/// ```
///
/// A rejected string fails the build:
///
/// ```compile_fail,E0080
/// const _: () = if let Err(e) = tapelog_format::text::check_format("{:.*}", 2) {
///     panic!("{}", e)
/// };
/// ```
pub const fn check_format(fmt: &str, nargs: usize) -> Result<(), &'static str> {
    let mut scanner = Scanner::new(fmt);
    let mut arg_count = 0;
    loop {
        match scanner.next() {
            Ok(None) => break,
            Ok(Some((token, next))) => {
                scanner = next;
                if let Token::Arg { index, .. } = token {
                    if index + 1 > arg_count {
                        arg_count = index + 1;
                    }
                }
            }
            Err(e) => return Err(e.message()),
        }
    }
    if arg_count < nargs {
        Err("tapelog: more arguments than the format string uses")
    } else if arg_count > nargs {
        Err("tapelog: the format string refers to more arguments than were passed")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Template;
    use super::*;

    /// Each accepted string, with its argument count.
    const ACCEPTED: &[(&str, usize)] = &[
        ("", 0),
        ("plain text", 0),
        ("{{}} {{{{", 0),
        ("{}", 1),
        ("{0} {0}", 1),
        ("{} {0} {}", 2),
        ("{1} {0}", 2),
        ("{:>8.2} {:#x} {:?} {:#?} {:x?} {:X?}", 6),
        ("{:*^+#012.3e}", 1),
        ("{:}>5} {:<<} {:.} {:.x} {0 } { :x }", 5),
        ("{:-}", 1),
        ("{:65535.65535}", 1),
    ];

    const REJECTED: &[(&str, usize)] = &[
        ("{", 0),
        ("}", 0),
        ("{name}", 0),
        ("{0:1$}", 2),
        ("{:.*}", 2),
        ("{:w$}", 1),
        ("{:p}", 1),
        ("{:y}", 1),
        ("{}", 0),
        ("{}", 2),
        ("{1}", 1),
        ("{:65536}", 1),
    ];

    #[test]
    fn accepts_what_the_renderer_reproduces() {
        for &(fmt, n) in ACCEPTED {
            assert_eq!(check_format(fmt, n), Ok(()), "{fmt:?}");
        }
    }

    #[test]
    fn rejects_what_the_renderer_cannot_reproduce() {
        for &(fmt, n) in REJECTED {
            assert!(check_format(fmt, n).is_err(), "{fmt:?}");
        }
    }

    #[test]
    fn agrees_with_template_parse() {
        for &(fmt, n) in ACCEPTED.iter().chain(REJECTED) {
            let parsed = Template::parse(fmt).map(|t| t.arg_count());
            assert_eq!(check_format(fmt, n).is_ok(), parsed == Ok(n), "{fmt:?}");
        }
    }

    #[test]
    fn named_argument_message_suggests_positional() {
        let msg = check_format("qty {qty}", 0).unwrap_err();
        assert!(msg.contains("`{name}`") && msg.contains("positionally"), "{msg}");
    }

    #[test]
    fn runs_at_compile_time() {
        const OK: Result<(), &str> = check_format("{} {:>5}", 2);
        const ERR: Result<(), &str> = check_format("{:.*}", 2);
        assert!(OK.is_ok());
        assert!(ERR.is_err());
    }
}
