//! Cancellation: a cheap, clonable token that Ctrl-C (or a caller) fires to stop a run early.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

    /// Whether the token has fired.
    pub fn is_cancelled(&self) -> bool {
        self.inner.fired.load(Ordering::Relaxed)
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

/// A token fired by the first Ctrl-C; a second Ctrl-C ends the process at once with exit code
/// 130. Call it inside a tokio runtime, once per process (`run` and `replay` share it).
pub fn ctrl_c_token() -> CancelToken {
    let token = CancelToken::new();
    let fire = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\npbxsim: interrupted; finishing the requests in flight (press Ctrl-C again to quit \
             at once)"
        );
        fire.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("pbxsim: quitting at once");
            std::process::exit(130);
        }
    });
    token
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
        token.cancelled().await;
    }
}
