//! Cancellation: a cheap, clonable token that a signal (or a caller) fires to stop a run early,
//! and the watcher of SIGINT and SIGTERM that fires it.
//!
//! The first SIGINT or SIGTERM asks a run to stop starting new work ([`StopSignal`]); a second
//! one means "quit now", but only when it comes at least [`QUIT_GAP`] after the first: a signal
//! sent to a process group (`timeout -s INT`, a terminal's Ctrl-C reaching every process of a
//! pipeline) can arrive twice at once, and that is one interrupt. What to print and whether to
//! exit is the caller's choice ([`on_signals`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Fired once to ask a run to stop starting new work. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    fired: AtomicBool,
    notify: Notify,
    /// The signal that fired the token, if a signal did.
    signal: OnceLock<StopSignal>,
}

impl CancelToken {
    /// A token that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fire the token; every waiter wakes. Firing twice is harmless.
    pub fn cancel(&self) {
        self.inner.fired.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Fire the token because of `signal` (kept: the first one wins).
    pub fn cancel_by(&self, signal: StopSignal) {
        let _ = self.inner.signal.set(signal);
        self.cancel();
    }

    /// Whether the token has fired.
    pub fn is_cancelled(&self) -> bool {
        self.inner.fired.load(Ordering::Relaxed)
    }

    /// The signal that fired the token; `None` when none did (yet).
    pub fn signal(&self) -> Option<StopSignal> {
        self.inner.signal.get().copied()
    }

    /// Completes once the token has fired.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.fired.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// A signal asking the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: CI cancellation, `docker stop`, Kubernetes, `kill`.
    Terminate,
}

impl StopSignal {
    /// The conventional exit code of a process that stopped because of it: 128 + its number
    /// (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }
}

/// What a stop signal means, as [`on_signals`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalEvent {
    /// The first signal: the token has just fired.
    Stop(StopSignal),
    /// A later signal, at least [`QUIT_GAP`] after the first: the user wants out at once.
    QuitNow(StopSignal),
}

/// How long after the first stop signal a second one still counts as the same interrupt.
pub const QUIT_GAP: Duration = Duration::from_millis(500);

/// Turns a stream of signals into [`SignalEvent`]s: the first is `Stop`; the others are
/// ignored until [`QUIT_GAP`] has passed, then each is `QuitNow`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignalGate {
    first: Option<Instant>,
}

impl SignalGate {
    /// What `signal`, arriving at `now`, means (`None`: part of the first interrupt).
    pub fn on(&mut self, signal: StopSignal, now: Instant) -> Option<SignalEvent> {
        match self.first {
            None => {
                self.first = Some(now);
                Some(SignalEvent::Stop(signal))
            }
            Some(first) if now.saturating_duration_since(first) >= QUIT_GAP => {
                Some(SignalEvent::QuitNow(signal))
            }
            Some(_) => None,
        }
    }
}

/// A token fired by the first SIGINT or SIGTERM. `on_event` is called for every
/// [`SignalEvent`] (after the token fired, for `Stop`): the caller prints what it wants and
/// decides whether `QuitNow` ends the process. Call it inside a tokio runtime; the signal
/// handlers are installed before it returns, so a signal sent right after is not lost.
pub fn on_signals(mut on_event: impl FnMut(SignalEvent) + Send + 'static) -> CancelToken {
    let token = CancelToken::new();
    let fire = token.clone();
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(_) => return token,
    };
    tokio::spawn(async move {
        let mut gate = SignalGate::default();
        while let Some(signal) = signals.next().await {
            match gate.on(signal, Instant::now()) {
                Some(SignalEvent::Stop(s)) => {
                    fire.cancel_by(s);
                    on_event(SignalEvent::Stop(s));
                }
                Some(event) => on_event(event),
                None => {}
            }
        }
    });
    token
}

/// The installed handlers of SIGINT and SIGTERM.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn install() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// The next signal; `None` when no more can come.
    #[cfg(unix)]
    async fn next(&mut self) -> Option<StopSignal> {
        tokio::select! {
            s = self.interrupt.recv() => s.map(|_| StopSignal::Interrupt),
            s = self.terminate.recv() => s.map(|_| StopSignal::Terminate),
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Option<StopSignal> {
        tokio::signal::ctrl_c().await.ok().map(|_| StopSignal::Interrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_and_late_waiters_return_at_once() {
        let token = CancelToken::new();
        assert!(!token.is_cancelled());
        let waiter = {
            let token = token.clone();
            tokio::spawn(async move { token.cancelled().await })
        };
        tokio::task::yield_now().await;
        token.cancel();
        waiter.await.unwrap();
        assert!(token.is_cancelled());
        assert_eq!(token.signal(), None);
        token.cancelled().await;
    }

    #[test]
    fn the_first_signal_that_fired_the_token_is_kept() {
        let token = CancelToken::new();
        token.cancel_by(StopSignal::Terminate);
        token.cancel_by(StopSignal::Interrupt);
        assert!(token.is_cancelled());
        assert_eq!(token.signal(), Some(StopSignal::Terminate));
        assert_eq!(token.signal().map(StopSignal::exit_code), Some(143));
    }

    #[test]
    fn signals_together_are_one_interrupt_and_a_later_one_quits() {
        let t0 = Instant::now();
        let mut gate = SignalGate::default();
        let int = StopSignal::Interrupt;
        assert_eq!(gate.on(int, t0), Some(SignalEvent::Stop(int)));
        // The process group's copy, a moment later: the same interrupt.
        assert_eq!(gate.on(int, t0 + Duration::from_millis(1)), None);
        assert_eq!(gate.on(StopSignal::Terminate, t0 + QUIT_GAP / 2), None);
        assert_eq!(gate.on(int, t0 + QUIT_GAP), Some(SignalEvent::QuitNow(int)));
        let term = StopSignal::Terminate;
        assert_eq!(gate.on(term, t0 + 3 * QUIT_GAP), Some(SignalEvent::QuitNow(term)));
    }
}
