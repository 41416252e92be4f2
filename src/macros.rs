//! The logging macros.

/// Logs at [`Level::Trace`](crate::Level::Trace). See [`info!`](crate::info!).
#[macro_export]
macro_rules! trace {
    ($($t:tt)+) => { $crate::__log!($crate::Level::Trace, $($t)+) };
}

/// Logs at [`Level::Debug`](crate::Level::Debug). See [`info!`](crate::info!).
#[macro_export]
macro_rules! debug {
    ($($t:tt)+) => { $crate::__log!($crate::Level::Debug, $($t)+) };
}

/// Logs a record at [`Level::Info`](crate::Level::Info).
///
/// The format string follows `format!`'s rules and is checked at compile time; arguments
/// are copied as raw bytes (see [`Arg`](crate::Arg)) and formatted later by the decoder.
/// Positional arguments (`{}`, `{0}`) with any supported spec (`{:>8.3}`, `{:#x}`, `{:?}`,
/// `{:#?}`, `{:e}`, ...) are supported; inline captures (`{name}`) and runtime widths
/// (`{:1$}`) are compile errors.
///
/// ```
/// let (qty, px) = (100u32, 101.25f64);
/// tapelog::info!("fill {} @ {:.2}", qty, px);
/// ```
///
/// ```compile_fail
/// tapelog::info!("missing {} argument");
/// ```
#[macro_export]
macro_rules! info {
    ($($t:tt)+) => { $crate::__log!($crate::Level::Info, $($t)+) };
}

/// Logs at [`Level::Warn`](crate::Level::Warn). See [`info!`](crate::info!).
#[macro_export]
macro_rules! warn {
    ($($t:tt)+) => { $crate::__log!($crate::Level::Warn, $($t)+) };
}

/// Logs at [`Level::Error`](crate::Level::Error). See [`info!`](crate::info!).
#[macro_export]
macro_rules! error {
    ($($t:tt)+) => { $crate::__log!($crate::Level::Error, $($t)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log {
    ($lvl:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        const _: () = $crate::__private::check_format($fmt, <[()]>::len(&[$($crate::__unit!($arg)),*]));
        static __TAPELOG_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $lvl,
            $fmt,
            ::core::module_path!(),
            ::core::file!(),
            ::core::line!(),
        );
        if false {
            // Never runs: makes rustc check the format string against the arguments'
            // traits exactly as `format!` would.
            let _ = ::core::format_args!($fmt $(, $arg)*);
        }
        $crate::__private::log(&__TAPELOG_CALLSITE, ($(&$arg,)*));
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __unit {
    ($e:expr) => {
        ()
    };
}
