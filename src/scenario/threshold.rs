//! Thresholds: pass/fail rules such as `p99 < 250ms`, `error_rate < 0.1%` or `rate >= 95%`.
//!
//! A [`Threshold`] is read from text ([`str::parse`]); a bad one is a [`ThresholdError`] with the
//! byte offset of the bad part and a hint. Checking them against a run is the report's job
//! ([`crate::report::verdict`]).
//!
//! Units: latency limits are held in milliseconds (written with `us`, `ms`, `s` or `m`);
//! `error_rate` and `rate` are fractions (written `0.001` or `0.1%`); `throughput` is delivered
//! events per second (written `500` or `500/s`).

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::diagnostic::Diagnostic;
use crate::suggest;

/// A latency statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
}

impl Stat {
    pub const ALL: [Stat; 7] =
        [Stat::P50, Stat::P90, Stat::P95, Stat::P99, Stat::P999, Stat::Max, Stat::Mean];

    /// The name as written: `p50`, `p99.9`, `max`, `mean`.
    pub fn name(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::Max => "max",
            Stat::Mean => "mean",
        }
    }

    /// The quantile a histogram is asked for (`max` is 1.0); `None` for the mean.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Stat::P50 => Some(0.5),
            Stat::P90 => Some(0.9),
            Stat::P95 => Some(0.95),
            Stat::P99 => Some(0.99),
            Stat::P999 => Some(0.999),
            Stat::Max => Some(1.0),
            Stat::Mean => None,
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `p99`, `p99.9`, `max`, `mean`, …: corrected latency (from each event's intended send
    /// time) where the run has it, else request latency. Milliseconds.
    Latency(Stat),
    /// `p99_raw`, …: request start to answer. Milliseconds.
    RawLatency(Stat),
    /// `error_rate`: finally failed / (delivered + failed), a fraction.
    ErrorRate,
    /// `rate`: achieved call-start rate / target rate, a fraction (generated load only).
    Rate,
    /// `throughput`: delivered events per second.
    Throughput,
}

impl Metric {
    /// Every metric name a threshold may use, in the order help texts list them.
    pub fn names() -> impl Iterator<Item = String> {
        let latency = Stat::ALL.into_iter().map(|s| s.name().to_string());
        let raw = Stat::ALL.into_iter().map(|s| format!("{}_raw", s.name()));
        let others = ["error_rate", "rate", "throughput"].into_iter().map(String::from);
        latency.chain(raw).chain(others)
    }

    /// Reads a metric name (`p99`, `p99.9_raw`, `error_rate`, …).
    pub fn from_name(name: &str) -> Option<Metric> {
        match name {
            "error_rate" => return Some(Metric::ErrorRate),
            "rate" => return Some(Metric::Rate),
            "throughput" => return Some(Metric::Throughput),
            _ => {}
        }
        let (stat, raw) = match name.strip_suffix("_raw") {
            Some(stat) => (stat, true),
            None => (name, false),
        };
        let stat = Stat::ALL.into_iter().find(|s| s.name() == stat)?;
        Some(if raw { Metric::RawLatency(stat) } else { Metric::Latency(stat) })
    }

    fn kind(self) -> Kind {
        match self {
            Metric::Latency(_) | Metric::RawLatency(_) => Kind::Latency,
            Metric::ErrorRate | Metric::Rate => Kind::Fraction,
            Metric::Throughput => Kind::PerSecond,
        }
    }

    /// Formats a value of this metric: `31.2ms`, `0.1%`, `512/s`.
    pub fn format_value(self, value: f64) -> String {
        match self.kind() {
            Kind::Latency => format_ms(value),
            Kind::Fraction => format!("{}%", trim_number(value * 100.0, 3)),
            Kind::PerSecond => format!("{}/s", trim_number(value, 1)),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency(s) => f.write_str(s.name()),
            Metric::RawLatency(s) => write!(f, "{}_raw", s.name()),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::Rate => f.write_str("rate"),
            Metric::Throughput => f.write_str("throughput"),
        }
    }
}

/// The unit family of a metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Latency,
    Fraction,
    PerSecond,
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    /// Whether `actual op limit` holds. NaN never does.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A pass/fail rule: `metric op limit`.
///
/// Displays in a normal form (`p99 < 250ms`); serializes as that string.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The text as written (trimmed).
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    /// Milliseconds for latency; a fraction for `error_rate` and `rate`; events per second for
    /// `throughput`.
    pub limit: f64,
}

impl Threshold {
    /// Whether `actual` passes.
    pub fn passes(&self, actual: f64) -> bool {
        self.op.holds(actual, self.limit)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op, self.metric.format_value(self.limit))
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a threshold could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ThresholdError {
    pub message: String,
    /// What to do about it, with a "did you mean" where one fits.
    pub help: Option<String>,
    /// Byte offset of the bad part within the text given to `parse`.
    pub offset: usize,
    /// Byte length of the bad part (at least 1 unless the text is empty at that point).
    pub len: usize,
}

impl ThresholdError {
    fn new(message: impl Into<String>, help: impl Into<String>, span: (usize, usize)) -> Self {
        let help = help.into();
        Self {
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
            offset: span.0,
            len: span.1 - span.0,
        }
    }

    /// A diagnostic pointing into `text` (the string that was parsed), which came from `origin`
    /// (e.g. `--threshold`).
    pub fn to_diagnostic(&self, origin: &str, text: &str) -> Diagnostic {
        let span = self.offset..self.offset + self.len.max(1);
        let d = Diagnostic::at(origin, text, span, format!("bad threshold: {}", self.message));
        d.with_help(self.help.clone().unwrap_or_default())
    }
}

const EXAMPLES: &str = "like `p99 < 250ms`, `error_rate < 0.1%` or `rate >= 95%`";

impl FromStr for Threshold {
    type Err = ThresholdError;

    /// Reads `metric op limit`, spaces allowed: `p99<250ms`, `p99.9 <= 1s`, `max<2s`,
    /// `mean<100ms`, `p99_raw<300ms`, `error_rate<0.1%`, `error_rate<0.001`, `rate>=95%`,
    /// `throughput>=500` or `throughput >= 500/s`.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut p = Parser { text: input, pos: 0 };
        p.skip_spaces();
        if p.at_end() {
            let help = format!("write a threshold {EXAMPLES}");
            return Err(ThresholdError::new("empty threshold", help, (p.pos, p.pos)));
        }
        let metric = p.metric()?;
        p.skip_spaces();
        let op = p.op(metric)?;
        p.skip_spaces();
        let limit = p.limit(metric, op)?;
        p.skip_spaces();
        if !p.at_end() {
            let rest = (p.pos, input.len());
            let message = format!("unexpected `{}` after the limit", p.slice(rest));
            let help = "a threshold is one comparison; give several thresholds for several rules";
            return Err(ThresholdError::new(message, help, rest));
        }
        Ok(Threshold { text: input.trim().to_string(), metric, op, limit })
    }
}

/// A cursor over the threshold text. Positions are byte offsets on character boundaries.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn slice(&self, span: (usize, usize)) -> &'a str {
        &self.text[span.0..span.1]
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Advances over the characters matching `accept`; returns the span taken.
    fn take_while(&mut self, accept: impl Fn(char) -> bool) -> (usize, usize) {
        let start = self.pos;
        let len: usize = self.rest().chars().take_while(|c| accept(*c)).map(char::len_utf8).sum();
        self.pos += len;
        (start, self.pos)
    }

    fn metric(&mut self) -> Result<Metric, ThresholdError> {
        let start = self.pos;
        if self.rest().starts_with(|c: char| c.is_ascii_digit()) {
            let span = (start, start + self.rest().find(['<', '>', '=']).unwrap_or(1));
            let help = format!("write the metric first, {EXAMPLES}");
            return Err(ThresholdError::new("a threshold starts with a metric", help, span));
        }
        let span = self.take_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let name = self.slice(span);
        if name.is_empty() {
            let span = (start, start + self.rest().chars().next().map_or(0, char::len_utf8));
            let help = format!("write a threshold {EXAMPLES}");
            return Err(ThresholdError::new("expected a metric name", help, span));
        }
        Metric::from_name(name).ok_or_else(|| unknown_metric(name, span))
    }

    fn op(&mut self, metric: Metric) -> Result<Op, ThresholdError> {
        let start = self.pos;
        let (op, len) = match self.rest().as_bytes() {
            [b'<', b'=', ..] => (Some(Op::Le), 2),
            [b'>', b'=', ..] => (Some(Op::Ge), 2),
            [b'<', ..] => (Some(Op::Lt), 1),
            [b'>', ..] => (Some(Op::Gt), 1),
            _ => (None, 0),
        };
        if let Some(op) = op {
            self.pos += len;
            return Ok(op);
        }
        let span = self.take_while(|c| matches!(c, '=' | '!' | '<' | '>'));
        let help = match self.slice(span) {
            "=<" => "write `<=`".to_string(),
            "=>" => "write `>=`".to_string(),
            "" if self.at_end() => format!("add a comparison and a limit, like `{metric} < …`"),
            _ => format!("compare with <, <=, > or >=, like `{metric} < …`"),
        };
        let span = if span.0 == span.1 {
            (start, start + self.rest().chars().next().map_or(0, char::len_utf8))
        } else {
            span
        };
        let message = format!("expected <, <=, > or >= after `{metric}`");
        Err(ThresholdError::new(message, help, span))
    }

    fn limit(&mut self, metric: Metric, op: Op) -> Result<f64, ThresholdError> {
        let kind = metric.kind();
        let example = example(metric, op);
        if self.at_end() {
            let message = format!("missing limit after `{op}`");
            return Err(ThresholdError::new(
                message,
                format!("like `{example}`"),
                (self.pos, self.pos),
            ));
        }
        if self.rest().starts_with('-') {
            let span = self.take_while(|c| !c.is_whitespace());
            let help = format!("like `{example}`");
            return Err(ThresholdError::new("the limit must be zero or more", help, span));
        }
        let number_span = self.take_while(|c| c.is_ascii_digit() || c == '.');
        let number_text = self.slice(number_span);
        let number: f64 = match number_text.parse() {
            Ok(n) if number_text.starts_with(|c: char| c.is_ascii_digit() || c == '.') => n,
            _ => {
                let span = if number_span.0 == number_span.1 {
                    self.take_while(|c| !c.is_whitespace())
                } else {
                    number_span
                };
                let message = format!("expected a number, found `{}`", self.slice(span));
                return Err(ThresholdError::new(message, format!("like `{example}`"), span));
            }
        };
        self.skip_spaces();
        let unit_span = self.take_while(|c| c.is_alphabetic() || matches!(c, '%' | '/' | 'µ'));
        let unit = self.slice(unit_span);
        let bad_unit = |help: String| {
            let message = format!("unknown unit `{unit}` for `{metric}`");
            Err(ThresholdError::new(message, help, unit_span))
        };
        match kind {
            Kind::Latency => {
                let factor = match unit {
                    "us" | "µs" => 0.001,
                    "ms" => 1.0,
                    "s" => 1_000.0,
                    "m" => 60_000.0,
                    "" => {
                        let message = format!("missing unit after `{number_text}`");
                        let help = format!("add a unit, like {number_text}ms (us, ms, s or m)");
                        return Err(ThresholdError::new(message, help, number_span));
                    }
                    _ => {
                        let hint = suggest::did_you_mean(unit, ["us", "ms", "s", "m"]);
                        return bad_unit(join(&hint, "latency units are us, ms, s and m"));
                    }
                };
                Ok(number * factor)
            }
            Kind::Fraction => match unit {
                "%" => Ok(number / 100.0),
                "" if number <= 1.0 => Ok(number),
                "" => {
                    let message = format!("`{metric}` is a fraction from 0 to 1");
                    let help = format!("write a percentage with %, like {number_text}%");
                    Err(ThresholdError::new(message, help, number_span))
                }
                _ => bad_unit(format!("`{metric}` is a fraction: write it like 0.1% or 0.001")),
            },
            Kind::PerSecond => match unit {
                "" | "/s" => Ok(number),
                _ => bad_unit(format!(
                    "`{metric}` counts delivered events per second: write it like 500 or 500/s"
                )),
            },
        }
    }
}

fn unknown_metric(name: &str, span: (usize, usize)) -> ThresholdError {
    let names: Vec<String> = Metric::names().collect();
    let allowed = format!("metrics: {}", names.join(", "));
    let mut hint = suggest::did_you_mean(name, names.iter().map(String::as_str));
    // Percentiles other than the ones kept are common; point at the nearest listed one.
    if hint.is_empty()
        && let Some(p) = name.strip_prefix('p').and_then(|n| n.parse::<f64>().ok())
    {
        let nearest = [50.0, 90.0, 95.0, 99.0, 99.9]
            .into_iter()
            .min_by(|a: &f64, b: &f64| (a - p).abs().total_cmp(&(b - p).abs()))
            .unwrap_or(99.0);
        hint = format!("did you mean `p{nearest}`?");
    }
    ThresholdError::new(format!("unknown metric `{name}`"), join(&hint, &allowed), span)
}

/// `"hint (rest)"`, or `rest` without a hint.
fn join(hint: &str, rest: &str) -> String {
    if hint.is_empty() { rest.to_string() } else { format!("{hint} ({rest})") }
}

/// A well-formed threshold of this metric, for help texts.
fn example(metric: Metric, op: Op) -> String {
    let limit = match metric.kind() {
        Kind::Latency => "250ms",
        Kind::Fraction if metric == Metric::Rate => "95%",
        Kind::Fraction => "0.1%",
        Kind::PerSecond => "500/s",
    };
    format!("{metric} {op} {limit}")
}

/// `x` with at most `decimals` decimals, trailing zeros dropped: `31.2`, `250`, `0.001`.
fn trim_number(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Milliseconds in the unit that reads best: `850us`, `31.2ms`, `1.25s`.
fn format_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{}us", trim_number(ms * 1_000.0, 1))
    } else if ms < 1_000.0 {
        let decimals = if ms < 10.0 { 2 } else { 1 };
        format!("{}ms", trim_number(ms, decimals))
    } else {
        format!("{}s", trim_number(ms / 1_000.0, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Threshold {
        text.parse().unwrap_or_else(|e: ThresholdError| panic!("{text}: {e:?}"))
    }

    fn e(text: &str) -> ThresholdError {
        match text.parse::<Threshold>() {
            Ok(t) => panic!("{text} parsed as {t:?}"),
            Err(e) => e,
        }
    }

    /// The text of the error's span.
    fn marked<'a>(text: &'a str, e: &ThresholdError) -> &'a str {
        &text[e.offset..e.offset + e.len]
    }

    #[test]
    fn parses_the_documented_forms() {
        let cases = [
            ("p99<250ms", Metric::Latency(Stat::P99), Op::Lt, 250.0),
            ("p99.9 <= 1s", Metric::Latency(Stat::P999), Op::Le, 1_000.0),
            ("max<2s", Metric::Latency(Stat::Max), Op::Lt, 2_000.0),
            ("mean<100ms", Metric::Latency(Stat::Mean), Op::Lt, 100.0),
            ("p50 < 500us", Metric::Latency(Stat::P50), Op::Lt, 0.5),
            ("p95 < 1m", Metric::Latency(Stat::P95), Op::Lt, 60_000.0),
            ("p90<250 ms", Metric::Latency(Stat::P90), Op::Lt, 250.0),
            ("p99_raw<300ms", Metric::RawLatency(Stat::P99), Op::Lt, 300.0),
            ("p99.9_raw < 1.5s", Metric::RawLatency(Stat::P999), Op::Lt, 1_500.0),
            ("error_rate<0.1%", Metric::ErrorRate, Op::Lt, 0.001),
            ("error_rate<0.001", Metric::ErrorRate, Op::Lt, 0.001),
            ("error_rate <= 0", Metric::ErrorRate, Op::Le, 0.0),
            ("rate>=95%", Metric::Rate, Op::Ge, 0.95),
            ("rate > 0.9", Metric::Rate, Op::Gt, 0.9),
            ("throughput>=500", Metric::Throughput, Op::Ge, 500.0),
            ("  throughput >= 500/s ", Metric::Throughput, Op::Ge, 500.0),
        ];
        for (text, metric, op, limit) in cases {
            let th = t(text);
            assert_eq!((th.metric, th.op), (metric, op), "{text}");
            assert!((th.limit - limit).abs() < 1e-9, "{text}: {}", th.limit);
            assert_eq!(th.text, text.trim());
        }
    }

    #[test]
    fn displays_in_normal_form_and_reads_back() {
        let cases = [
            ("p99<250ms", "p99 < 250ms"),
            ("p99.9<=1s", "p99.9 <= 1s"),
            ("p50<500us", "p50 < 500us"),
            ("max < 1500ms", "max < 1.5s"),
            ("error_rate<0.001", "error_rate < 0.1%"),
            ("rate>=95%", "rate >= 95%"),
            ("throughput>=500", "throughput >= 500/s"),
            ("p99_raw>1us", "p99_raw > 1us"),
        ];
        for (text, shown) in cases {
            let th = t(text);
            assert_eq!(th.to_string(), shown);
            assert_eq!(t(shown).limit, th.limit, "{shown}");
        }
    }

    #[test]
    fn unknown_metrics_get_suggestions() {
        let err = e("p98 < 250ms");
        assert_eq!(err.message, "unknown metric `p98`");
        assert_eq!((err.offset, err.len), (0, 3));
        let help = err.help.unwrap_or_default();
        assert!(help.contains("did you mean `p99`?"), "{help}");
        assert!(help.contains("mean_raw, error_rate, rate, throughput"), "{help}");

        let err = e("  erorr_rate < 1%");
        assert_eq!(marked("  erorr_rate < 1%", &err), "erorr_rate");
        assert!(err.help.unwrap_or_default().starts_with("did you mean `error_rate`?"));

        let err = e("p75 < 1s");
        assert!(err.help.unwrap_or_default().starts_with("did you mean `p90`?"));
    }

    #[test]
    fn a_missing_unit_points_at_the_number() {
        let text = "p99 < 250";
        let err = e(text);
        assert_eq!(err.message, "missing unit after `250`");
        assert_eq!(marked(text, &err), "250");
        assert_eq!(err.help.as_deref(), Some("add a unit, like 250ms (us, ms, s or m)"));
    }

    #[test]
    fn bad_parts_are_marked_with_a_hint() {
        // (text, the marked part, a piece of the message, a piece of the help)
        let cases = [
            ("", "", "empty threshold", "like `p99 < 250ms`"),
            ("p99", "", "expected <, <=, > or >= after `p99`", "add a comparison"),
            ("p99 = 250ms", "=", "expected <", "compare with <, <=, > or >="),
            ("p99 =< 250ms", "=<", "expected <", "write `<=`"),
            ("p99 250ms", "2", "expected <", "compare with"),
            ("p99 <", "", "missing limit after `<`", "p99 < 250ms"),
            ("p99 < fast", "fast", "expected a number, found `fast`", "p99 < 250ms"),
            ("p99 < 1.2.3ms", "1.2.3", "expected a number", ""),
            ("p99 < -5ms", "-5ms", "zero or more", ""),
            ("p99 < 250mss", "mss", "unknown unit `mss` for `p99`", "did you mean `ms`?"),
            ("p99 < 250h", "h", "unknown unit `h`", "latency units are us, ms, s and m"),
            ("p99 < 2%", "%", "unknown unit `%`", "latency units"),
            ("error_rate < 5", "5", "fraction from 0 to 1", "like 5%"),
            ("error_rate < 1ms", "ms", "unknown unit", "like 0.1% or 0.001"),
            ("throughput > 5/m", "/m", "unknown unit `/m`", "500 or 500/s"),
            ("p99 < 250ms and more", "and more", "unexpected `and more`", "several"),
            ("250ms > p99", "250ms ", "starts with a metric", "metric first"),
            ("<250ms", "<", "expected a metric name", ""),
            ("é<1s", "é", "unknown metric `é`", ""),
        ];
        for (text, part, message, help) in cases {
            let err = e(text);
            assert_eq!(marked(text, &err), part, "{text}: {err:?}");
            assert!(err.message.contains(message), "{text}: {}", err.message);
            let h = err.help.clone().unwrap_or_default();
            assert!(h.contains(help), "{text}: {h}");
        }
    }

    #[test]
    fn errors_become_diagnostics_pointing_into_the_text() {
        let text = "p99 < 250";
        let d = e(text).to_diagnostic("--threshold", text);
        assert_eq!(d.location().as_deref(), Some("--threshold:1:7"));
        let shown = d.render(false);
        assert!(shown.contains("bad threshold: missing unit"), "{shown}");
        assert!(shown.contains("add a unit, like 250ms"), "{shown}");
    }

    #[test]
    fn values_format_in_readable_units() {
        assert_eq!(format_ms(0.0123), "12.3us");
        assert_eq!(format_ms(3.14659), "3.15ms");
        assert_eq!(format_ms(31.24), "31.2ms");
        assert_eq!(format_ms(250.0), "250ms");
        assert_eq!(format_ms(1_250.0), "1.25s");
        assert_eq!(Metric::Throughput.format_value(812.34), "812.3/s");
        assert_eq!(Metric::ErrorRate.format_value(0.0), "0%");
        assert_eq!(serde_json::to_string(&t("p99<250ms")).ok().as_deref(), Some("\"p99 < 250ms\""));
    }

    #[test]
    fn every_listed_name_parses() {
        for name in Metric::names() {
            let metric = Metric::from_name(&name);
            assert_eq!(metric.map(|m| m.to_string()), Some(name));
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC*") {
            if let Err(e) = text.parse::<Threshold>() {
                proptest::prop_assert!(e.offset + e.len <= text.len());
                proptest::prop_assert!(text.is_char_boundary(e.offset));
                proptest::prop_assert!(text.is_char_boundary(e.offset + e.len));
            }
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            text in "[ ]*(p|p9|p99|p99\\.9|max|mean|_raw|error_rate|rate|throughput|x|é){1,2}[ ]*(<|<=|>|>=|=|=<|!){0,2}[ ]*(-|[0-9]|\\.|%|/s|ms|s|us|µs|m|h| ){0,6}"
        ) {
            if let Err(e) = text.parse::<Threshold>() {
                proptest::prop_assert!(e.offset + e.len <= text.len());
                let _ = e.to_diagnostic("t", &text).render(false);
            }
        }
    }
}
