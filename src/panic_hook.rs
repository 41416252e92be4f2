//! An optional panic hook that records the panic as an error record and flushes before the
//! panic goes on (to the previous hook, then unwinding or abort as configured).

/// Installs the hook (keeping the current one, which runs afterwards).
///
/// The record reads `thread '<name>' panicked at <file>:<line>:<col>: <message>`. Formatting
/// happens on the panicking thread (a panic is no hot path). With a
/// [`FlightRecorder`](crate::FlightRecorder), the flush writes out every record it keeps
/// (reason `panic`). The flush is skipped when the consumer thread itself panics (it could
/// never complete).
///
/// ```
/// tapelog::install_panic_hook();
/// ```
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let (file, line, col) = info.location().map_or(("<unknown>", 0, 0), |l| (l.file(), l.line(), l.column()));
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        crate::error!("thread '{}' panicked at {}:{}:{}: {}", name, file, line, col, msg);
        let on_consumer = crate::shared::current()
            .and_then(|s| s.consumer_thread.get().map(|t| t.id() == thread.id()))
            .unwrap_or(false);
        // A flight recorder writes out what it keeps: the lead-up to the panic.
        if let Some(s) = crate::shared::current().filter(|s| s.config.flight_recorder.is_some()) {
            s.request_dump("panic".into());
        }
        if !on_consumer {
            crate::flush();
        }
        previous(info);
    }));
}
