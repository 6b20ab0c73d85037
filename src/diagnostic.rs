//! User-facing error reports: a message, a hint, and (for files) the source with the spot marked.
//!
//! [`Diagnostic`] is a [`miette::Diagnostic`]: it names the file, and [`Diagnostic::render`] draws
//! the offending line with a caret under the span, like a compiler error. Commands that have no
//! file to point into build one with [`Diagnostic::plain`].

use std::fmt;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

/// The width reports are wrapped at. Fixed, so output does not depend on the terminal.
pub const RENDER_WIDTH: usize = 100;

/// At most this many related diagnostics are rendered after the main one.
const MAX_RELATED: usize = 9;

/// A marked span of the source, with an optional short label.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Label {
    span: Range<usize>,
    text: Option<String>,
}

/// One error report: what went wrong, where, and what to do about it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    message: String,
    help: Option<String>,
    /// The file's name and text, when the error points into a file.
    source: Option<NamedSource<String>>,
    /// The primary label comes first.
    labels: Vec<Label>,
    /// Further errors found at the same time, in file order.
    related: Vec<Diagnostic>,
}

impl Diagnostic {
    /// A diagnostic that points at no file, e.g. for a bad command-line flag.
    pub fn plain(message: impl Into<String>, help: Option<String>) -> Self {
        Self {
            message: message.into(),
            help,
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        }
    }

    /// A diagnostic pointing at `span` (byte offsets) of `source`, the text of `file_name`.
    pub fn at(
        file_name: &str,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let span = clamp(span, source);
        Self {
            message: message.into(),
            help: None,
            source: Some(NamedSource::new(file_name, source.to_string())),
            labels: vec![Label { span, text: None }],
            related: Vec::new(),
        }
    }

    /// Sets the hint shown under the report. An empty hint is dropped.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        let help = help.into();
        self.help = if help.is_empty() { None } else { Some(help) };
        self
    }

    /// Sets the text shown beside the primary span.
    pub fn with_label(mut self, text: impl Into<String>) -> Self {
        if let Some(label) = self.labels.first_mut() {
            label.text = Some(text.into());
        }
        self
    }

    /// Marks a second span of the same source, e.g. "first defined here".
    pub fn with_secondary(mut self, span: Range<usize>, text: impl Into<String>) -> Self {
        if let Some(source) = &self.source {
            let span = clamp(span, source.inner());
            self.labels.push(Label { span, text: Some(text.into()) });
        }
        self
    }

    /// Attaches further diagnostics, reported after this one.
    pub fn with_related(mut self, related: Vec<Diagnostic>) -> Self {
        self.related = related;
        self
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The name of the file the diagnostic points into, if any.
    pub fn file_name(&self) -> Option<&str> {
        self.source.as_ref().map(|s| s.name())
    }

    /// The primary span, in bytes of the file's text.
    pub fn span(&self) -> Option<Range<usize>> {
        self.labels.first().map(|l| l.span.clone())
    }

    /// The 1-based line and column (in characters) of the primary span's start.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let source = self.source.as_ref()?.inner();
        let start = self.span()?.start;
        let before = &source[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Some((line, before[line_start..].chars().count() + 1))
    }

    /// `file:line:column`, or just the file name, or nothing.
    pub fn location(&self) -> Option<String> {
        let file = self.file_name()?;
        Some(match self.line_column() {
            Some((line, column)) => format!("{file}:{line}:{column}"),
            None => file.to_string(),
        })
    }

    /// Further errors found at the same time.
    pub fn related_diagnostics(&self) -> &[Diagnostic] {
        &self.related
    }

    /// The report as JSON (`--output json`): `message`, `file`, `line` and `column` (1-based,
    /// null when it points at no file), `help`, and `related`: further errors, the same shape.
    pub fn to_json(&self) -> serde_json::Value {
        let (line, column) = self.line_column().unzip();
        serde_json::json!({
            "message": self.message,
            "file": self.file_name(),
            "line": line,
            "column": column,
            "help": self.help,
            "related": self.related.iter().map(Diagnostic::to_json).collect::<Vec<_>>(),
        })
    }

    /// The report as a terminal would show it: unicode box drawing, wrapped at
    /// [`RENDER_WIDTH`] columns, with ANSI colors only when `color` is true.
    pub fn render(&self, color: bool) -> String {
        let theme =
            if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let mut handler = GraphicalReportHandler::new_themed(theme)
            .with_width(RENDER_WIDTH)
            .with_links(false)
            .with_urls(false)
            .with_break_words(false);
        if !color {
            handler = handler.without_syntax_highlighting();
        }
        let mut out = String::new();
        for (i, d) in std::iter::once(self).chain(self.related.iter().take(MAX_RELATED)).enumerate()
        {
            if i > 0 {
                out.push('\n');
            }
            if handler.render_report(&mut out, &Single(d)).is_err() {
                // Rendering into a String cannot fail in practice; fall back to the message.
                out.push_str(&format!("error: {d}\n"));
            }
        }
        let hidden = self.related.len().saturating_sub(MAX_RELATED);
        if hidden > 0 {
            let s = if hidden == 1 { "" } else { "s" };
            out.push_str(&format!("\n  … and {hidden} more error{s}\n"));
        }
        out
    }
}

/// One diagnostic without its related ones, so that [`Diagnostic::render`] can draw each in the
/// same style.
struct Single<'a>(&'a Diagnostic);

impl fmt::Debug for Single<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Single<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)
    }
}

impl std::error::Error for Single<'_> {}

impl miette::Diagnostic for Single<'_> {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.0)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.labels()
    }
}

fn clamp(span: Range<usize>, source: &str) -> Range<usize> {
    let end = span.end.min(source.len());
    let start = span.start.min(end);
    start..end
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.source.is_none() || self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().enumerate().map(|(i, l)| {
            let span = (l.span.start, l.span.len());
            if i == 0 {
                LabeledSpan::new_primary_with_span(l.text.clone(), span)
            } else {
                LabeledSpan::new_with_span(l.text.clone(), span)
            }
        })))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().take(MAX_RELATED).map(|d| d as &dyn miette::Diagnostic)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_carries_the_position_the_hint_and_related_errors() {
        let source = "a = 1\nbb = 2\n";
        let d = Diagnostic::at("x.toml", source, 6..8, "unknown key `bb`")
            .with_help("did you mean `b`?")
            .with_related(vec![Diagnostic::plain("another", None)]);
        let j = d.to_json();
        assert_eq!(j["file"], "x.toml");
        assert_eq!((j["line"].as_u64(), j["column"].as_u64()), (Some(2), Some(1)));
        assert_eq!(j["help"], "did you mean `b`?");
        assert_eq!(j["related"][0]["message"], "another");
        assert!(j["related"][0]["line"].is_null());
    }

    #[test]
    fn renders_file_line_column_message_and_help() {
        let source = "a = 1\nbb = 2\n";
        let d = Diagnostic::at("x.toml", source, 6..8, "unknown key `bb`")
            .with_label("here")
            .with_help("did you mean `b`?");
        assert_eq!(d.line_column(), Some((2, 1)));
        assert_eq!(d.location().as_deref(), Some("x.toml:2:1"));
        let text = d.render(false);
        assert!(text.contains("unknown key `bb`"), "{text}");
        assert!(text.contains("[x.toml:2:1]"), "{text}");
        assert!(text.contains("did you mean `b`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "no color codes: {text:?}");
    }

    #[test]
    fn plain_diagnostics_have_no_location() {
        let d = Diagnostic::plain("cannot read `x.toml`", Some("check the path".into()));
        assert_eq!(d.location(), None);
        let text = d.render(false);
        assert!(text.contains("cannot read `x.toml`") && text.contains("check the path"));
    }

    #[test]
    fn spans_are_clamped_to_the_source() {
        let d = Diagnostic::at("x.toml", "abc", 2..10, "m");
        assert_eq!(d.span(), Some(2..3));
    }
}
