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
/// Key-value fields come first, separated from the message by `;`. They are typed and
/// deferred like arguments, and the decoder shows them as `key=value` after the message:
///
/// ```
/// # let (id, qty) = (42u64, 100u32);
/// tapelog::info!(order_id = id, side = "buy", px = 101.25; "filled {}", qty);
/// ```
///
/// Sampling and rate limits, per call site (the rate is a constant; suppressed calls are
/// counted, see [`stats()`](crate::stats)):
///
/// ```
/// # let i = 1u64;
/// tapelog::info!(sample = 0.1; "about one in ten: {}", i);
/// tapelog::info!(every = 100; "calls 0, 100, 200, ...: {}", i);
/// tapelog::warn!(per_sec = 50; "at most 50 per second: {}", i);
/// ```
///
/// A named logger, for routing records to outputs ([`Route::logger`](crate::Route::logger)),
/// comes before everything else:
///
/// ```
/// # let (id, qty) = (42u64, 100u32);
/// tapelog::info!(logger: "trades", order_id = id; "filled {}", qty);
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
    ($lvl:expr, logger: $name:literal, $($rest:tt)+) => {
        $crate::__log_opts!($lvl, ($name), $($rest)+)
    };
    ($lvl:expr, $($rest:tt)+) => {
        $crate::__log_opts!($lvl, (), $($rest)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_opts {
    ($lvl:expr, ($($lg:literal)?), sample = $p:expr; $($rest:tt)+) => {
        $crate::__log_fields!($lvl, ($($lg)?), [$crate::__private::Sampler::probability($p)], $($rest)+)
    };
    ($lvl:expr, ($($lg:literal)?), every = $n:expr; $($rest:tt)+) => {
        $crate::__log_fields!($lvl, ($($lg)?), [$crate::__private::Sampler::every($n)], $($rest)+)
    };
    ($lvl:expr, ($($lg:literal)?), per_sec = $n:expr; $($rest:tt)+) => {
        $crate::__log_fields!($lvl, ($($lg)?), [$crate::__private::Sampler::per_sec($n)], $($rest)+)
    };
    ($lvl:expr, ($($lg:literal)?), $($rest:tt)+) => {
        $crate::__log_fields!($lvl, ($($lg)?), [], $($rest)+)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_fields {
    ($lvl:expr, ($($lg:literal)?), [$($s:expr)?], $($key:ident = $val:expr),+ ; $fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::__log_at!($lvl, ($($lg)?), [$($s)?], [$($key = $val),+], $fmt $(, $arg)*)
    };
    ($lvl:expr, ($($lg:literal)?), [$($s:expr)?], $fmt:literal $(, $arg:expr)* $(,)?) => {
        $crate::__log_at!($lvl, ($($lg)?), [$($s)?], [], $fmt $(, $arg)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __log_at {
    ($lvl:expr, ($($lg:literal)?), [], [$($key:ident = $val:expr),*], $fmt:literal $(, $arg:expr)*) => {{
        const _: () = $crate::__private::check_format($fmt, <[()]>::len(&[$($crate::__unit!($arg)),*]));
        // A constant condition: below the compile-time maximum level the call compiles to
        // nothing (its arguments are type-checked, never evaluated).
        if const { $crate::__private::static_enabled($lvl) } {
            static __TAPELOG_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
                $lvl,
                $fmt,
                ::core::module_path!(),
                ::core::file!(),
                ::core::line!(),
            )
            .with_fields(&[$(::core::stringify!($key)),*])
            .with_logger(&[$($lg)?]);
            // One relaxed load: > 0 as i32 means registered and enabled.
            let __state = __TAPELOG_CALLSITE.state();
            if (__state as i32) > 0 {
                $crate::__private::log_enabled(__state, ($(&$arg,)* $(&$val,)*));
            } else if __state == 0 {
                $crate::__private::log_first(&__TAPELOG_CALLSITE, ($(&$arg,)* $(&$val,)*));
            }
        }
        if false {
            // Never runs: makes rustc check the format string against the arguments'
            // traits exactly as `format!` would.
            let _ = ::core::format_args!($fmt $(, $arg)*);
        }
    }};
    ($lvl:expr, ($($lg:literal)?), [$sampler:expr], [$($key:ident = $val:expr),*], $fmt:literal $(, $arg:expr)*) => {{
        const _: () = $crate::__private::check_format($fmt, <[()]>::len(&[$($crate::__unit!($arg)),*]));
        if const { $crate::__private::static_enabled($lvl) } {
            static __TAPELOG_SAMPLER: $crate::__private::Sampler = $sampler;
            static __TAPELOG_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
                $lvl,
                $fmt,
                ::core::module_path!(),
                ::core::file!(),
                ::core::line!(),
            )
            .with_fields(&[$(::core::stringify!($key)),*])
            .with_logger(&[$($lg)?])
            .sampled(&__TAPELOG_SAMPLER);
            let __state = __TAPELOG_CALLSITE.state();
            if (__state as i32) > 0 {
                if __TAPELOG_SAMPLER.keep() {
                    $crate::__private::log_enabled(__state, ($(&$arg,)* $(&$val,)*));
                }
            } else if __state == 0 {
                $crate::__private::log_first(&__TAPELOG_CALLSITE, ($(&$arg,)* $(&$val,)*));
            }
        }
        if false {
            let _ = ::core::format_args!($fmt $(, $arg)*);
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __unit {
    ($e:expr) => {
        ()
    };
}
