//! Retries: which failed attempts are retried (`--retry-on`), the backoff between attempts, and
//! the receiver's `Retry-After`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngExt;

use super::summary::Outcome;

/// The first retry waits about this long; each further retry doubles it.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_millis(100);
/// The longest backoff between two attempts.
pub(crate) const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// The longest `Retry-After` honoured; a longer one is cut to this.
pub(crate) const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Which failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOn {
    /// Connection errors: the connection could not be opened, or broke before the answer.
    pub connect: bool,
    /// No answer within the timeout.
    pub timeout: bool,
    /// HTTP status codes 100..=599, one bit each.
    codes: [u64; 10],
}

impl RetryOn {
    /// Retry nothing.
    pub const NONE: RetryOn = RetryOn { connect: false, timeout: false, codes: [0; 10] };

    /// Also retry answers with this status code.
    pub fn add_code(&mut self, code: u16) {
        if code < 600 {
            self.codes[code as usize / 64] |= 1 << (code % 64);
        }
    }

    /// Also retry every status code in `from..=to`.
    pub fn add_range(&mut self, from: u16, to: u16) {
        for code in from..=to {
            self.add_code(code);
        }
    }

    /// Whether answers with this status code are retried.
    pub fn code(&self, code: u16) -> bool {
        code < 600 && self.codes[code as usize / 64] & (1 << (code % 64)) != 0
    }

    /// Whether a failed attempt with this outcome is retried.
    pub fn retries(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Status(code) => self.code(code),
            Outcome::Connect | Outcome::Broken => self.connect,
            Outcome::Timeout => self.timeout,
            Outcome::Skipped | Outcome::Cancelled | Outcome::NoEndpoint | Outcome::CutOff => false,
        }
    }
}

impl Default for RetryOn {
    /// Connection errors, timeouts, 429 and 5xx.
    fn default() -> Self {
        let mut on = RetryOn { connect: true, timeout: true, codes: [0; 10] };
        on.add_code(429);
        on.add_range(500, 599);
        on
    }
}

/// Why a retry list (a CLI's `--retry-on`) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message("the retry list"))]
pub struct RetryOnError {
    pub item: String,
    pub hint: String,
}

impl RetryOnError {
    /// The message, calling the list `list` (its [`Display`](std::fmt::Display) says "the
    /// retry list"; a CLI names its flag).
    pub fn message(&self, list: &str) -> String {
        format!(
            "cannot read `{}` in {list}{}; write a comma list of `connect`, `timeout`, `4xx`, \
             `5xx` and status codes, like `connect,timeout,429,5xx`, or `none`",
            self.item, self.hint
        )
    }
}

impl FromStr for RetryOn {
    type Err = RetryOnError;

    /// A comma list such as `connect,timeout,429,5xx`; `none` retries nothing.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut on = RetryOn::NONE;
        for item in text.split(',').map(str::trim) {
            match item.to_ascii_lowercase().as_str() {
                "none" => {}
                "connect" => on.connect = true,
                "timeout" => on.timeout = true,
                "4xx" => on.add_range(400, 499),
                "5xx" => on.add_range(500, 599),
                code => match code.parse::<u16>() {
                    Ok(code) if (100..600).contains(&code) => on.add_code(code),
                    _ => {
                        let words = ["connect", "timeout", "4xx", "5xx", "none"];
                        let hint = match crate::suggest::closest(item, words) {
                            Some(w) => format!(" (did you mean `{w}`?)"),
                            None => String::new(),
                        };
                        return Err(RetryOnError { item: item.to_string(), hint });
                    }
                },
            }
        }
        Ok(on)
    }
}

impl fmt::Display for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = Vec::new();
        if self.connect {
            items.push("connect".into());
        }
        if self.timeout {
            items.push("timeout".into());
        }
        for (lo, hi, name) in [(400, 499, "4xx"), (500, 599, "5xx")] {
            if (lo..=hi).all(|c| self.code(c)) {
                items.push(name.into());
            } else {
                items.extend((lo..=hi).filter(|c| self.code(*c)).map(|c| c.to_string()));
            }
        }
        items.extend((100..400).filter(|c| self.code(*c)).map(|c| c.to_string()));
        if items.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&items.join(","))
    }
}

/// The wait before retry number `retry` (0 for the first retry): 100 ms × 2^retry,
/// capped at 10 s, with "equal jitter" (a uniform pick between half and all of it).
pub fn backoff(retry: u32, rng: &mut impl rand::Rng) -> Duration {
    let full = BACKOFF_BASE.saturating_mul(1u32 << retry.min(16)).min(BACKOFF_CAP);
    let half = full / 2;
    let jitter = rng.random_range(0..=half.as_micros() as u64);
    half + Duration::from_micros(jitter)
}

/// The wait before the next attempt: the receiver's `Retry-After` when it sent one (capped at
/// 60 s), else [`backoff`].
pub fn retry_delay(
    retry: u32,
    retry_after: Option<Duration>,
    rng: &mut impl rand::Rng,
) -> Duration {
    match retry_after {
        Some(wait) => wait.min(RETRY_AFTER_CAP),
        None => backoff(retry, rng),
    }
}

/// Reads a `Retry-After` value: whole seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), relative to `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some((date.with_timezone(&Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn default_retries_connect_timeout_429_and_5xx() {
        let on = RetryOn::default();
        assert!(on.retries(Outcome::Connect));
        assert!(on.retries(Outcome::Broken));
        assert!(on.retries(Outcome::Timeout));
        assert!(on.retries(Outcome::Status(429)));
        assert!(on.retries(Outcome::Status(500)));
        assert!(on.retries(Outcome::Status(503)));
        assert!(!on.retries(Outcome::Status(400)));
        assert!(!on.retries(Outcome::Status(404)));
        assert!(!on.retries(Outcome::Skipped));
        assert_eq!(on.to_string(), "connect,timeout,429,5xx");
    }

    #[test]
    fn parses_lists() {
        let on: RetryOn = "timeout, 503 ,4xx".parse().unwrap();
        assert!(!on.connect);
        assert!(on.timeout);
        assert!(on.code(503) && !on.code(500));
        assert!(on.code(400) && on.code(499));
        assert_eq!("none".parse::<RetryOn>().unwrap(), RetryOn::NONE);
        assert_eq!("connect,timeout,429,5xx".parse::<RetryOn>().unwrap(), RetryOn::default());
        let err = "conect,5xx".parse::<RetryOn>().unwrap_err();
        assert_eq!(err.item, "conect");
        assert!(err.to_string().contains("did you mean `connect`"), "{err}");
        assert!(err.to_string().contains("in the retry list ("), "names no flag: {err}");
        assert!(err.message("--retry-on").contains("in --retry-on ("), "{err}");
        assert!("700".parse::<RetryOn>().is_err());
        assert!("".parse::<RetryOn>().is_err());
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(7);
        for retry in 0..20 {
            let full = (BACKOFF_BASE * 2u32.pow(retry.min(16))).min(BACKOFF_CAP);
            for _ in 0..50 {
                let d = backoff(retry, &mut rng);
                assert!(d >= full / 2 && d <= full, "retry {retry}: {d:?} vs {full:?}");
            }
        }
        assert!(backoff(0, &mut rng) <= Duration::from_millis(100));
        assert!(backoff(30, &mut rng) <= BACKOFF_CAP);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: DateTime<Utc> = "2015-10-21T07:27:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn retry_after_wins_over_backoff_but_is_capped() {
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(retry_delay(0, Some(Duration::from_secs(1)), &mut rng), Duration::from_secs(1));
        assert_eq!(retry_delay(0, Some(Duration::from_secs(3600)), &mut rng), RETRY_AFTER_CAP);
        assert!(retry_delay(0, None, &mut rng) <= BACKOFF_BASE);
    }
}
