//! The logger's lifecycle: [`Builder::start`] opens the outputs, starts the consumer and
//! makes the new logger the running one; dropping the [`Guard`] stops new records, lets the
//! consumer drain every ring and finalize its outputs, and joins it.
//!
//! Owns the order of those steps and the process-wide places they fill and empty: the
//! running logger (`shared::CURRENT`, `shared::GENERATION`) and the logger the fatal-signal
//! handler flushes. What the settings are and which make sense is `config`'s; the consumer
//! thread itself, and the first segment it opens, are [`super::spawn`]'s.

use std::fmt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::config::{Builder, Config, StartError};
use crate::filter::Filter;
use crate::frontend::{callsite, reentry};
use crate::route::OutputKind;
use crate::shared::{Shared, CURRENT, GENERATION};
use crate::signals;
use crate::sink::text::TextSinks;

impl Builder {
    /// Validates the configuration, opens the first segment, and starts the consumer.
    pub fn start(self) -> Result<Guard, StartError> {
        let (cfg, filter) = self.validate()?;
        start(cfg, filter)
    }
}

/// Starts a logger with settings that passed `Builder::validate`.
fn start(cfg: Config, filter: Option<Filter>) -> Result<Guard, StartError> {
    if reentry::on_logger_thread() {
        return Err(StartError::InsideLogger);
    }
    let mut cur = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if GENERATION.load(Ordering::Acquire) != 0 {
        return Err(StartError::AlreadyRunning);
    }
    let generation = cur.as_ref().map_or(0, |s| s.generation) + 1;
    let mut sinks = Vec::new();
    for (name, slot) in &cfg.sinks {
        match slot.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(s) => sinks.push((name.clone(), s)),
            None => return Err(StartError::Config(format!("sink {name:?} was already taken by an earlier start()"))),
        }
    }
    let mut text_outs: Vec<_> = cfg.text.iter().map(|t| (None, t.clone(), false)).collect();
    for o in &cfg.outputs {
        if let OutputKind::Text(t) = &o.kind {
            text_outs.push((Some((o.name.clone(), o.route.clone())), t.clone(), o.json));
        }
    }
    let text = TextSinks::open(&text_outs, cfg.text_queue_bytes, sinks, cfg.sink_queue_bytes)
        .map_err(|(path, source)| StartError::Io { path, source })?;
    let sink_counters = text.as_ref().map(|t| t.sink_counters()).unwrap_or_default();
    let text_counters = text.as_ref().map(|t| t.counters()).unwrap_or_default();
    let mut shared = Shared::new(generation, cfg, text_counters);
    shared.sinks = sink_counters;
    let shared = Arc::new(shared);
    let handle = super::spawn(shared.clone(), text)?;
    if let Some(f) = filter {
        callsite::apply_filter(f);
    }
    *cur = Some(shared.clone());
    // Release: a producer that sees the new generation (then takes CURRENT's lock to
    // attach) finds the new logger in place.
    GENERATION.store(generation, Ordering::Release);
    signals::register_logger(&shared);
    Ok(Guard { shared, handle: Some(handle) })
}

/// Owns the running logger. Dropping it stops new records, drains every ring, finalizes the
/// segment and joins the consumer.
///
/// Bind it to a named variable for as long as you log: `let _ = builder.start()?;` drops it
/// at once and stops the logger.
///
/// Dropped on one of the logger's own threads (inside a [`Sink`](crate::Sink)), it stops the
/// logger without waiting: the consumer finishes, flushing everything, once that sink call
/// returns.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("tapelog-doc-guard-{}", std::process::id()));
/// let guard = tapelog::Builder::new().dir(&dir).start()?;
/// assert_eq!(guard.dir(), dir.as_path());
/// tapelog::info!("written before the guard drops");
/// drop(guard); // drains every ring, finalizes the segment, joins the consumer
/// assert!(!tapelog::stats().running);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), tapelog::StartError>(())
/// ```
#[must_use = "dropping the guard stops the logger: bind it with `let _guard = ...`"]
pub struct Guard {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard").field("generation", &self.shared.generation).finish()
    }
}

impl Guard {
    /// The directory segments are written to.
    pub fn dir(&self) -> &Path {
        &self.shared.config.dir
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        signals::unregister_logger();
        {
            let _cur = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
            // No thread attaches after this point: the handover refuses rings, and threads
            // that look at GENERATION find no logger.
            self.shared.handover.close();
            GENERATION.store(0, Ordering::SeqCst);
        }
        // Release: the consumer's Acquire load, then its final take, sees every ring handed
        // over before the close (Handover::close).
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.wake_consumer();
        if reentry::on_logger_thread() {
            // Dropped inside a sink (or another of the logger's threads): the consumer may be
            // waiting for this very call to return, so do not wait for it. It sees the
            // shutdown at its next pass and finishes on its own, flushing everything.
            self.handle = None;
            return;
        }
        // Ended means its final writes are visible (see FlushBarrier::wait_consumer_end).
        let ended = self.shared.flush.wait_consumer_end(self.shared.config.shutdown_timeout);
        if !ended {
            // Stuck: leave the consumer to finish if it ever can, and say what is not written.
            let st = crate::stats();
            let pending: u64 = st.threads.iter().map(|t| t.pending()).sum();
            let msg = format!(
                "shutdown timed out after {:?}: the consumer is stuck; {pending} records not written",
                self.shared.config.shutdown_timeout
            );
            eprintln!("tapelog: {msg}");
            self.shared.totals.unwritten_at_shutdown.store(pending, Ordering::Relaxed);
            self.shared.set_error(msg);
            self.handle = None;
        } else if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
