//! Locating spans in a scenario's source: the value at a dotted key path such as
//! `traffic.stages[1].rate` (for errors that name a key rather than carry a span), and a part
//! inside a value (a `${VAR}` reference in a string).

use std::ops::Range;

/// One step of a dotted key path: `name`, `"quoted name"` or `[index]`.
#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `traffic.stages[1].rate` → `traffic`, `stages`, 1, `rate`; `numbers."6129"` → `numbers`,
/// `6129`.
fn path_segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find('"').unwrap_or(r.len());
            out.push(Segment::Key(r[..end].to_string()));
            rest = r.get(end + 1..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            match r[..end].parse() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => break,
            }
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Segment::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    out
}

/// Where in `source` the error `message` about the key `path` belongs: the value at `path`, or
/// its deepest part that exists; the key itself for an unknown key; inside a table, the unknown
/// key or value serde names in `message`. `None` if the source cannot be read.
pub(super) fn locate(source: &str, path: &str, message: &str) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(source).ok()?;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue>]> = None;
    let mut found: Option<(Range<usize>, Range<usize>)> = None;
    for segment in path_segments(path) {
        let next = match segment {
            Segment::Key(key) => table
                .and_then(|t| t.iter().find(|(name, _)| name.get_ref() == &key))
                .map(|(name, value)| (name.span(), value)),
            Segment::Index(i) => array.and_then(|a| a.get(i)).map(|value| (value.span(), value)),
        };
        let Some((key_span, value)) = next else { break };
        found = Some((key_span, value.span()));
        table = match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
        array = match value.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => None,
        };
    }
    let (key_span, value_span) = found?;
    if message.starts_with("unknown key") {
        return Some(key_span);
    }
    // serde's "unknown field `x`" / "unknown variant `x`" inside the table at `path`.
    let named = |prefix: &str| message.strip_prefix(prefix)?.split('`').next();
    if let (Some(name), Some(t)) = (named("unknown field `"), table)
        && let Some((key, _)) = t.iter().find(|(k, _)| k.get_ref() == name)
    {
        return Some(key.span());
    }
    if let (Some(name), Some(t)) = (named("unknown variant `"), table)
        && let Some((_, value)) =
            t.iter().find(|(_, v)| matches!(v.get_ref(), DeValue::String(s) if s == name))
    {
        return Some(value.span());
    }
    Some(value_span)
}

/// The span of `needle` inside the value at `span` of `source`, or the whole span.
pub(super) fn sub_span(source: &str, span: Range<usize>, needle: &str) -> Range<usize> {
    source
        .get(span.clone())
        .and_then(|text| text.find(needle))
        .map_or(span.clone(), |i| span.start + i..span.start + i + needle.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_split_into_segments() {
        use Segment::{Index, Key};
        assert_eq!(
            path_segments("traffic.stages[1].rate"),
            [Key("traffic".into()), Key("stages".into()), Index(1), Key("rate".into())]
        );
        assert_eq!(
            path_segments("traffic.numbers.\"61.3\""),
            [Key("traffic".into()), Key("numbers".into()), Key("61.3".into())]
        );
    }
}
