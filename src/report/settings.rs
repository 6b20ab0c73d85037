//! A run's settings as reports carry them: name and value pairs for people, in the order the
//! command gave them. Whoever builds them keeps secrets out (tokens are never a setting; URLs go
//! through [`crate::secret::redact_url`]); [`Setting::url`] does that for a URL.

use serde::{Deserialize, Serialize};

/// One setting of a run, e.g. `concurrency` = `64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    pub value: String,
}

impl Setting {
    pub fn new(name: impl Into<String>, value: impl ToString) -> Self {
        Setting { name: name.into(), value: value.to_string() }
    }

    /// A URL setting, with its credentials and secret-looking query values masked.
    pub fn url(name: impl Into<String>, url: &str) -> Self {
        Setting { name: name.into(), value: crate::secret::redact_url(url) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_settings_never_hold_credentials_or_secret_query_values() {
        let s = Setting::url("target", "http://user:pw@127.0.0.1:9/hook?token=abc&tenant=acme");
        assert_eq!(s.value, "http://***@127.0.0.1:9/hook?token=***&tenant=acme");
        assert_eq!(Setting::new("concurrency", 64).value, "64");
    }
}
