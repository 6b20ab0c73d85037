//! The HTML report (`--html FILE` on `load` and `run`, and `pbxsim report show --html`): one
//! self-contained page drawn from the JSON report, so a saved report renders the same page as
//! the live run. Charts are inline SVG built here; the page has no script, loads nothing (its
//! Content-Security-Policy is `default-src 'none'`), and shows only what the report holds,
//! which never includes a secret.
//!
//! Sections: key figures; throughput over time (requests sent, events delivered and failed per
//! second); corrected and raw latency percentiles over time; the latency histogram; answers
//! (status codes and error classes) and failures; calls by outcome; the contact-centre KPIs
//! (a table, service level and visit outcomes per queue and ring group); threshold verdicts;
//! per-type figures; the run's settings; and the text of chaos, refusals and the built-in
//! receiver.

use std::fmt::Write as _;

use serde_json::Value;

use crate::deliver::Wording;

/// Chart size, in SVG units.
const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;

const BLUE: &str = "#4e79a7";
const GREEN: &str = "#59a14f";
const RED: &str = "#e15759";
const ORANGE: &str = "#f28e2b";
const TEAL: &str = "#76b7b2";
const GREY: &str = "#9c9c9c";

/// The page for a JSON report of `load` or `run` (as `--report` writes it), in the library's
/// words ([`html_in`] with [`Wording::default`]).
pub fn html(report: &Value) -> String {
    html_in(report, &Wording::default())
}

/// [`html`], its notes in `wording`'s words ([`Wording::unpaced`], [`Wording::thresholds`]).
pub fn html_in(report: &Value, wording: &Wording) -> String {
    let kind = match report["command"].as_str() {
        Some(command) => command.to_string(),
        None => "load".to_string(),
    };
    let scenario = report["scenario"].as_str().unwrap_or("?");
    let title = format!("pbxsim {kind} report: {scenario}");
    let mut body = String::new();
    let b = &mut body;
    let _ = writeln!(b, "<header><h1>{}</h1>{}</header>", esc(&title), headline(report));
    let _ = writeln!(b, "{}", figures(report, &kind));

    let series = &report["series"];
    section(b, "throughput", "Throughput over time", &throughput_chart(series));
    let corrected = series["corrected"].as_bool() == Some(true);
    let latency_note = match corrected {
        true => "Corrected latency: from each event's intended send time to its answer.",
        false => &format!(
            "Not measured: the run was not paced {}, so there is no intended send time.",
            wording.unpaced
        ),
    };
    section(
        b,
        "latency",
        "Corrected latency over time",
        &format!(
            "<p class=note>{latency_note}</p>{}",
            latency_chart("chart-latency", series, "latency")
        ),
    );
    section(
        b,
        "raw-latency",
        "Raw latency over time",
        &format!(
            "<p class=note>Request start to answer.</p>{}",
            latency_chart("chart-raw-latency", series, "raw")
        ),
    );
    section(b, "histogram", "Latency histogram", &histogram_chart(report));
    section(b, "answers", "Status codes and error classes", &answers_chart(report));
    section(b, "outcomes", "Calls by outcome", &outcomes_chart(report));
    section(b, "kpis", "Contact centre", &kpi_view(&report["kpis"]));
    section(b, "thresholds", "Threshold verdicts", &thresholds_table(report, wording));
    section(b, "by-type", "By event type", &by_type_table(report));
    section(b, "settings", "Settings", &settings_table(report));
    let texts = notes(report);
    if !texts.is_empty() {
        section(b, "notes", "Notes", &texts);
    }

    let mut page = String::with_capacity(body.len() + 4096);
    page.push_str("<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n");
    page.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n",
    );
    page.push_str("<meta name=viewport content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(page, "<title>{}</title>", esc(&title));
    page.push_str("<style>\n");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n");
    page.push_str(&body);
    page.push_str("<footer>Written by pbxsim from its JSON report.</footer>\n</body>\n</html>\n");
    page
}

const STYLE: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:980px;\
padding:16px 24px;color:#222;background:#fff}\
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}\
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}\
.pass{background:#2e7d32}.fail{background:#c62828}.neutral{background:#616161}\
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}\
.card{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:120px}\
.card b{display:block;font-size:18px}.card span{color:#666;font-size:12px}\
table{border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums}\
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:right}td{white-space:nowrap}\
th:first-child,td:first-child{text-align:left}th{background:#fafafa}\
svg.chart{width:100%;height:auto;max-width:760px;display:block}\
svg text{font:11px system-ui,sans-serif;fill:#444}.grid{stroke:#e5e5e5}.axis{stroke:#888}\
.legend{font-size:12px;margin:2px 0 6px}.legend i{display:inline-block;width:12px;height:3px;\
margin:0 4px 3px 10px;vertical-align:middle}\
.note{color:#666;margin:2px 0}.wide{overflow-x:auto}#kpi-table{font-size:12px}\
#kpi-table th,#kpi-table td{padding:3px 5px}pre{background:#f6f6f6;padding:8px;overflow:auto}\
footer{color:#888;margin:32px 0 8px;font-size:12px}\n";

fn section(out: &mut String, id: &str, title: &str, content: &str) {
    let _ = writeln!(out, "<section id=\"{id}\">\n<h2>{}</h2>\n{content}\n</section>", esc(title));
}

/// HTML-escapes text.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// `1,234,567`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(ms) if ms < 10.0 => format!("{ms:.2} ms"),
        Some(ms) if ms < 1000.0 => format!("{ms:.1} ms"),
        Some(ms) => format!("{ms:.0} ms"),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1} s"))
}

/// The verdict badge under the title.
fn headline(report: &Value) -> String {
    let verdicts = report["thresholds"].as_array().cloned().unwrap_or_default();
    let failed = verdicts.iter().filter(|v| v["pass"].as_bool() != Some(true)).count();
    let mut out = String::from("<p>");
    if verdicts.is_empty() {
        out.push_str("<span class=\"badge neutral\">no thresholds</span>");
    } else if failed == 0 {
        let n = verdicts.len();
        let what = if n == 1 { "threshold passed" } else { "thresholds passed" };
        let _ = write!(out, "<span class=\"badge pass\">{n} {what}</span>");
    } else {
        let _ = write!(
            out,
            "<span class=\"badge fail\">{failed} of {} thresholds failed</span>",
            verdicts.len()
        );
    }
    if let Some(code) = report["exit_code"].as_u64() {
        let _ = write!(out, " exit code {code}");
    }
    if report["interrupted"].as_bool() == Some(true) {
        out.push_str(" <span class=\"badge fail\">interrupted</span>");
    }
    let _ = write!(out, " seed {}", int(&report["seed"]));
    out.push_str("</p>");
    out
}

fn card(out: &mut String, value: &str, label: &str) {
    let _ = write!(out, "<div class=card><b>{}</b><span>{}</span></div>", esc(value), esc(label));
}

/// The key figures.
fn figures(report: &Value, kind: &str) -> String {
    let e = &report["events"];
    let mut out = String::from("<div class=cards>");
    card(&mut out, &count(int(&e["generated"])), "events generated");
    card(&mut out, &count(int(&e["delivered"])), "delivered");
    card(&mut out, &count(int(&e["failed"])), "failed");
    card(&mut out, &count(int(&e["requests"])), "requests");
    let headline =
        if report["latency"].is_object() { &report["latency"] } else { &report["raw_latency"] };
    let label = if report["latency"].is_object() { "corrected" } else { "raw" };
    card(&mut out, &ms(headline["p50_ms"].as_f64()), &format!("p50 ({label})"));
    card(&mut out, &ms(headline["p99_ms"].as_f64()), &format!("p99 ({label})"));
    let wall = num(&report["wall_s"]);
    card(&mut out, &format!("{wall:.1} s"), "wall time");
    let per_s = match kind {
        "load" if wall > 0.0 => num(&e["delivered"]) / wall,
        _ => num(&report["events_per_s"]),
    };
    card(&mut out, &format!("{per_s:.1}/s"), "events delivered per second");
    if kind == "load" {
        let r = &report["rate"];
        card(&mut out, &format!("{:.2}/s", num(&r["achieved_per_s"])), "calls started per second");
        if let Some(ratio) = r["ratio"].as_f64() {
            card(&mut out, &pct(Some(ratio)), "of the target call rate");
        }
        card(&mut out, &count(int(&report["calls"]["started"])), "calls started");
    } else {
        card(&mut out, &count(int(&report["calls"])), "scripted calls");
    }
    out.push_str("</div>");
    out
}

// ---- SVG building blocks ------------------------------------------------------------------

/// A round upper bound for an axis: 1, 2 or 5 × 10^k at or above `v`.
fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let unit = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * unit >= v * (1.0 - 1e-9) {
            return step * unit;
        }
    }
    10.0 * unit
}

/// An axis label: `1.5k`, `250`, `0.25`.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" { "0".into() } else { s.to_string() }
}

fn svg_open(id: &str, height: f64, label: &str) -> String {
    format!(
        "<svg class=chart id=\"{id}\" viewBox=\"0 0 {W} {height}\" role=img aria-label=\"{}\">",
        esc(label)
    )
}

fn legend(items: &[(&str, &str, bool)]) -> String {
    let mut out = String::from("<div class=legend>");
    for (name, color, dashed) in items {
        let style = match dashed {
            true => format!(
                "background:repeating-linear-gradient(90deg,{color} 0 4px,transparent 4px 7px)"
            ),
            false => format!("background:{color}"),
        };
        let _ = write!(out, "<i style=\"{style}\"></i>{}", esc(name));
    }
    out.push_str("</div>");
    out
}

/// One line series: name, colour, dashed, points.
struct Line<'a> {
    name: &'a str,
    color: &'a str,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// A line chart over wall time with a y axis from 0, gridlines and a legend.
fn line_chart(id: &str, label: &str, y_unit: &str, lines: &[Line]) -> String {
    let x_max = nice_max(lines.iter().flat_map(|l| &l.points).map(|p| p.0).fold(0.0, f64::max));
    let y_max = nice_max(lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max));
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |v: f64| LEFT + v / x_max * pw;
    let y = |v: f64| TOP + ph - v / y_max * ph;
    let mut out = legend(&lines.iter().map(|l| (l.name, l.color, l.dashed)).collect::<Vec<_>>());
    out.push_str(&svg_open(id, H, label));
    for i in 0..=4 {
        let v = y_max * i as f64 / 4.0;
        let _ = write!(
            out,
            "<line class=grid x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{}</text>",
            W - RIGHT,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            esc(&tick(v))
        );
    }
    for i in 0..=5 {
        let v = x_max * i as f64 / 5.0;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>{} s</text>",
            x(v),
            H - BOTTOM + 16.0,
            esc(&tick(v))
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>wall time</text>\
         <text x=\"12\" y=\"{:.1}\" text-anchor=middle transform=\"rotate(-90 12 {:.1})\">{}</text>",
        LEFT + pw / 2.0,
        H - 6.0,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(y_unit)
    );
    let _ = write!(
        out,
        "<line class=axis x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
         <line class=axis x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        TOP + ph,
        W - RIGHT,
        TOP + ph,
        TOP + ph
    );
    let mut drawn = false;
    for l in lines {
        if l.points.is_empty() {
            continue;
        }
        drawn = true;
        let pts: Vec<String> =
            l.points.iter().map(|&(a, b)| format!("{:.1},{:.1}", x(a), y(b))).collect();
        // One point alone is still a mark.
        let pts = match pts.len() {
            1 => vec![format!("{:.1},{:.1}", LEFT, y(l.points[0].1)), pts[0].clone()],
            _ => pts,
        };
        let dash = if l.dashed { " stroke-dasharray=\"5 3\"" } else { "" };
        let _ = write!(
            out,
            "<polyline class=series fill=none stroke=\"{}\" stroke-width=1.8{dash} points=\"{}\">\
             <title>{}</title></polyline>",
            l.color,
            pts.join(" "),
            esc(l.name)
        );
    }
    if !drawn {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>no data</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    out.push_str("</svg>");
    out
}

/// Where one horizontal bar goes and what it says.
struct BarRow<'a> {
    label_w: f64,
    y: f64,
    row_h: f64,
    /// The bar's width.
    w: f64,
    color: &'a str,
    name: &'a str,
    text: &'a str,
}

/// One bar: its label on the left, the bar (with a tooltip), its value on the right.
fn bar_row(out: &mut String, r: BarRow<'_>) {
    let BarRow { label_w, y, row_h, w, color, name, text } = r;
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{}</text>\
         <rect class=bar x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\">\
         <title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
        label_w - 8.0,
        y + 14.0,
        esc(name),
        y + 3.0,
        row_h - 6.0,
        esc(name),
        esc(text),
        label_w + w + 6.0,
        y + 14.0,
        esc(text)
    );
}

/// Horizontal bars: one row per (label, value, colour); values are counts.
fn bar_chart(id: &str, label: &str, rows: &[(String, f64, &str, String)]) -> String {
    let row_h = 22.0;
    let label_w = 190.0;
    let height = TOP + rows.len().max(1) as f64 * row_h + 10.0;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let pw = W - label_w - RIGHT - 90.0;
    let mut out = svg_open(id, height, label);
    if rows.is_empty() {
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\">none</text>", label_w, TOP + 12.0);
    }
    for (i, (name, value, color, text)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let w = if max > 0.0 {
            (value / max * pw).max(if *value > 0.0 { 1.5 } else { 0.0 })
        } else {
            0.0
        };
        bar_row(&mut out, BarRow { label_w, y, row_h, w, color, name, text });
    }
    out.push_str("</svg>");
    out
}

// ---- the charts ---------------------------------------------------------------------------

fn rows(series: &Value) -> Vec<Value> {
    series["rows"].as_array().cloned().unwrap_or_default()
}

/// Per-second rates of the series' counts: requests sent, events delivered, events failed.
fn throughput_chart(series: &Value) -> String {
    let every = num(&series["every_s"]).max(1e-3);
    let mut lines = [
        Line { name: "requests sent /s", color: BLUE, dashed: false, points: Vec::new() },
        Line { name: "events delivered /s", color: GREEN, dashed: false, points: Vec::new() },
        Line { name: "events failed /s", color: RED, dashed: false, points: Vec::new() },
    ];
    let mut prev = 0.0;
    for r in rows(series) {
        let t = num(&r["t_s"]);
        let dt = if t - prev > 1e-3 { t - prev } else { every };
        prev = t;
        for (line, key) in lines.iter_mut().zip(["sent", "delivered", "failed"]) {
            line.points.push((t, num(&r[key]) / dt));
        }
    }
    line_chart("chart-throughput", "throughput over time", "per second", &lines)
}

fn latency_chart(id: &str, series: &Value, key: &str) -> String {
    let mut lines = [
        Line { name: "p50", color: BLUE, dashed: false, points: Vec::new() },
        Line { name: "p90", color: ORANGE, dashed: false, points: Vec::new() },
        Line { name: "p99", color: RED, dashed: false, points: Vec::new() },
        Line { name: "max", color: TEAL, dashed: true, points: Vec::new() },
    ];
    for r in rows(series) {
        let q = &r[key];
        if !q.is_object() {
            continue;
        }
        let t = num(&r["t_s"]);
        for (line, field) in lines.iter_mut().zip(["p50_ms", "p90_ms", "p99_ms", "max_ms"]) {
            line.points.push((t, num(&q[field])));
        }
    }
    line_chart(id, &format!("{key} latency over time"), "ms", &lines)
}

/// The histogram's `[value µs, count]` buckets.
fn buckets(h: &Value) -> Vec<(f64, f64)> {
    h["buckets"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|pair| Some((pair.get(0)?.as_f64()?, pair.get(1)?.as_f64()?)))
                .filter(|(v, c)| *v > 0.0 && *c > 0.0)
                .collect()
        })
        .unwrap_or_default()
}

/// Corrected and raw latency in bins of an eighth of a decade, log-scaled on x.
fn histogram_chart(report: &Value) -> String {
    const PER_DECADE: f64 = 8.0;
    let sets = [
        ("corrected", BLUE, buckets(&report["latency"])),
        ("raw", ORANGE, buckets(&report["raw_latency"])),
    ];
    let all: Vec<f64> = sets.iter().flat_map(|s| s.2.iter().map(|b| b.0)).collect();
    let mut out = legend(
        &sets.iter().filter(|s| !s.2.is_empty()).map(|s| (s.0, s.1, false)).collect::<Vec<_>>(),
    );
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    out.push_str(&svg_open("chart-histogram", H, "latency histogram"));
    if all.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>no data</text></svg>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
        return out;
    }
    let bin = |v: f64| (v.log10() * PER_DECADE).floor() as i64;
    let lo = all.iter().map(|&v| bin(v)).min().unwrap_or(0);
    let hi = all.iter().map(|&v| bin(v)).max().unwrap_or(0);
    // Whole decades on the axis.
    let lo = (lo as f64 / PER_DECADE).floor() as i64 * PER_DECADE as i64;
    let hi = ((hi + 1) as f64 / PER_DECADE).ceil() as i64 * PER_DECADE as i64;
    let n = (hi - lo).max(1) as usize;
    let mut counts = vec![[0.0f64; 2]; n];
    for (k, set) in sets.iter().enumerate() {
        for &(v, c) in &set.2 {
            let i = (bin(v) - lo).clamp(0, n as i64 - 1) as usize;
            counts[i][k] += c;
        }
    }
    let max = counts.iter().flat_map(|c| c.iter()).fold(0.0f64, |a, &b| a.max(b));
    let y_max = nice_max(max);
    let slot = pw / n as f64;
    for i in 0..=4 {
        let v = y_max * i as f64 / 4.0;
        let y = TOP + ph - v / y_max * ph;
        let _ = write!(
            out,
            "<line class=grid x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&tick(v))
        );
    }
    for (i, c) in counts.iter().enumerate() {
        for (k, set) in sets.iter().enumerate() {
            if c[k] <= 0.0 {
                continue;
            }
            let h = (c[k] / y_max * ph).max(1.0);
            let x = LEFT + i as f64 * slot + k as f64 * slot / 2.0;
            let from = 10f64.powf((lo + i as i64) as f64 / PER_DECADE) / 1000.0;
            let to = 10f64.powf((lo + i as i64 + 1) as f64 / PER_DECADE) / 1000.0;
            let _ = write!(
                out,
                "<rect class=bar x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\">\
                 <title>{}: {} events from {} to {}</title></rect>",
                TOP + ph - h,
                (slot / 2.0 - 0.5).max(0.5),
                set.1,
                set.0,
                c[k],
                ms(Some(from)),
                ms(Some(to))
            );
        }
    }
    let mut d = lo;
    while d <= hi {
        let x = LEFT + (d - lo) as f64 * slot;
        let v = 10f64.powf(d as f64 / PER_DECADE) / 1000.0;
        let anchor = match d {
            _ if d == lo => "start",
            _ if d + PER_DECADE as i64 > hi => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<line class=axis x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor={anchor}>{}</text>",
            TOP + ph,
            TOP + ph + 4.0,
            H - BOTTOM + 16.0,
            esc(&ms(Some(v)))
        );
        d += PER_DECADE as i64;
    }
    let _ = write!(
        out,
        "<line class=axis x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=middle>latency (log scale)</text>\
         <text x=\"12\" y=\"{:.1}\" text-anchor=middle transform=\"rotate(-90 12 {:.1})\">events</text>",
        W - RIGHT,
        TOP + ph,
        TOP + ph,
        LEFT + pw / 2.0,
        H - 6.0,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
    );
    out.push_str("</svg>");
    out
}

fn answers_chart(report: &Value) -> String {
    let mut rows: Vec<(String, f64, &str, String)> = Vec::new();
    let mut add = |map: &Value, prefix: &str, failure: bool| {
        for (k, v) in map.as_object().into_iter().flatten() {
            let n = int(v);
            let ok = k.starts_with('2') && k.len() == 3;
            let color = match (failure, ok) {
                (true, _) => RED,
                (false, true) => GREEN,
                (false, false) => ORANGE,
            };
            rows.push((format!("{prefix}{k}"), n as f64, color, count(n)));
        }
    };
    add(&report["answers"], "", false);
    add(&report["failures"], "failed: ", true);
    let note = "<p class=note>Every request's answer (status codes, and error classes such as \
                timeout), then the events that finally failed, by their last result.</p>";
    format!("{note}{}", bar_chart("chart-answers", "status codes and error classes", &rows))
}

fn outcomes_chart(report: &Value) -> String {
    let calls = if report["outcomes"].is_object() { &report["outcomes"] } else { &report["calls"] };
    let items = [
        ("answered", GREEN),
        ("abandoned", RED),
        ("voicemail", BLUE),
        ("unanswered", ORANGE),
        ("busy", GREY),
        ("queue_timeouts", TEAL),
        ("cut_off", GREY),
        ("not_started", GREY),
    ];
    let rows: Vec<(String, f64, &str, String)> = items
        .iter()
        .filter(|(k, _)| calls[*k].is_u64())
        .map(|(k, color)| {
            let n = int(&calls[*k]);
            (k.replace('_', " "), n as f64, *color, count(n))
        })
        .collect();
    let note = "<p class=note>How the PBX ended each call (queue timeouts are visits, counted \
                besides the call's outcome).</p>";
    format!("{note}{}", bar_chart("chart-outcomes", "calls by outcome", &rows))
}

fn groups(kpis: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (kind, key) in [("queue", "queues"), ("ring group", "ring_groups")] {
        for g in kpis[key].as_array().into_iter().flatten() {
            out.push((format!("{kind} {}", g["name"].as_str().unwrap_or("?")), g));
        }
    }
    out
}

/// The contact-centre view: a KPI table, then service level and visit outcomes per group.
fn kpi_view(kpis: &Value) -> String {
    let groups = groups(kpis);
    if groups.is_empty() {
        return "<p class=note>This PBX has no queue or ring group.</p>".into();
    }
    let sl = num(&kpis["service_level_s"]);
    let mut out = format!(
        "<p class=note>Service level: visits answered within {} s of the call's arrival \
         (connected_at − call_start_at), of all visits offered. ASA: average speed of answer. \
         AHT: average talk time of answered visits. Occupancy: the members' talk time on any \
         call over members × {:.0} s of PBX time. See docs/report.md.</p>",
        trim(sl),
        num(&kpis["span_s"])
    );
    out.push_str(
        "<div class=wide><table id=kpi-table><tr><th>group</th><th>agents</th><th>offered</th><th>answered</th>\
         <th>abandoned</th><th>timed out</th><th>then voicemail</th><th>service level</th>\
         <th>ASA</th><th>longest wait</th><th>AHT</th><th>avg abandon</th><th>occupancy</th></tr>",
    );
    for (name, g) in &groups {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            int(&g["agents"]),
            int(&g["offered"]),
            int(&g["answered"]),
            int(&g["abandoned"]),
            int(&g["timedout"]),
            int(&g["timedout_to_voicemail"]),
            pct(g["service_level"].as_f64()),
            secs(g["asa_s"].as_f64()),
            secs((int(&g["answered"]) > 0).then(|| num(&g["max_answer_delay_ms"]) / 1000.0)),
            secs(g["aht_s"].as_f64()),
            secs(g["avg_abandon_s"].as_f64()),
            pct(g["occupancy"].as_f64()),
        );
    }
    out.push_str("</table></div>");
    let sl_rows: Vec<(String, f64, &str, String)> = groups
        .iter()
        .map(|(name, g)| {
            let v = g["service_level"].as_f64();
            (name.clone(), v.unwrap_or(0.0) * 100.0, GREEN, pct(v))
        })
        .collect();
    out.push_str(&format!("<p class=note>Service level (answered within {} s)</p>", trim(sl)));
    out.push_str(&percent_bars("chart-kpi-service-level", &sl_rows));
    out.push_str("<p class=note>Visits by outcome, as a share of visits offered</p>");
    out.push_str(&legend(&[
        ("answered", GREEN, false),
        ("abandoned", RED, false),
        ("timed out", ORANGE, false),
    ]));
    out.push_str(&stacked_bars(&groups));
    out
}

/// Horizontal bars on a fixed 0–100 % scale.
fn percent_bars(id: &str, rows: &[(String, f64, &str, String)]) -> String {
    let row_h = 22.0;
    let label_w = 190.0;
    let height = TOP + rows.len() as f64 * row_h + 24.0;
    let pw = W - label_w - RIGHT - 60.0;
    let mut out = svg_open(id, height, "service level per queue and ring group");
    for i in 0..=4 {
        let x = label_w + pw * i as f64 / 4.0;
        let _ = write!(
            out,
            "<line class=grid x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=middle>{}%</text>",
            height - 20.0,
            height - 6.0,
            i * 25
        );
    }
    for (i, (name, value, color, text)) in rows.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let w = value.clamp(0.0, 100.0) / 100.0 * pw;
        bar_row(&mut out, BarRow { label_w, y, row_h, w, color, name, text });
    }
    out.push_str("</svg>");
    out
}

/// One bar per group: answered, abandoned and timed-out visits as shares of offered.
fn stacked_bars(groups: &[(String, &Value)]) -> String {
    let row_h = 22.0;
    let label_w = 190.0;
    let height = TOP + groups.len() as f64 * row_h + 10.0;
    let pw = W - label_w - RIGHT - 60.0;
    let mut out =
        svg_open("chart-kpi-outcomes", height, "visits by outcome per queue and ring group");
    for (i, (name, g)) in groups.iter().enumerate() {
        let y = TOP + i as f64 * row_h;
        let offered = int(&g["offered"]);
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=end>{}</text>",
            label_w - 8.0,
            y + 14.0,
            esc(name)
        );
        if offered == 0 {
            let _ = write!(out, "<text x=\"{label_w}\" y=\"{:.1}\">no calls</text>", y + 14.0);
            continue;
        }
        let mut x = label_w;
        for (key, color, what) in [
            ("answered", GREEN, "answered"),
            ("abandoned", RED, "abandoned"),
            ("timedout", ORANGE, "timed out"),
        ] {
            let n = int(&g[key]);
            let w = n as f64 / offered as f64 * pw;
            if w > 0.0 {
                let _ = write!(
                    out,
                    "<rect class=bar x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\">\
                     <title>{}: {n} of {offered} {what}</title></rect>",
                    y + 3.0,
                    row_h - 6.0,
                    esc(name)
                );
            }
            x += w;
        }
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\">{offered}</text>", x + 6.0, y + 14.0);
    }
    out.push_str("</svg>");
    out
}

fn thresholds_table(report: &Value, wording: &Wording) -> String {
    let verdicts = report["thresholds"].as_array().cloned().unwrap_or_default();
    if verdicts.is_empty() {
        return format!("<p class=note>No thresholds were set ({}).</p>", esc(wording.thresholds));
    }
    let mut out = String::from(
        "<table id=threshold-table><tr><th>threshold</th><th>measured</th><th>verdict</th></tr>",
    );
    for v in &verdicts {
        let pass = v["pass"].as_bool() == Some(true);
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td><span class=\"badge {}\">{}</span></td></tr>",
            esc(v["threshold"].as_str().unwrap_or("?")),
            esc(v["actual_text"].as_str().unwrap_or("-")),
            if pass { "pass" } else { "fail" },
            if pass { "pass" } else { "fail" }
        );
    }
    out.push_str("</table>");
    out
}

fn by_type_table(report: &Value) -> String {
    let Some(types) = report["by_type"].as_object().filter(|t| !t.is_empty()) else {
        return "<p class=note>No events.</p>".into();
    };
    let mut out = String::from(
        "<table><tr><th>type</th><th>generated</th><th>delivered</th><th>failed</th>\
         <th>filtered</th><th>p50</th><th>p99</th><th>max</th></tr>",
    );
    for (name, t) in types {
        let h = if t["latency"].is_object() { &t["latency"] } else { &t["raw_latency"] };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            int(&t["generated"]),
            int(&t["delivered"]),
            int(&t["failed"]),
            int(&t["filtered"]),
            ms(h["p50_ms"].as_f64()),
            ms(h["p99_ms"].as_f64()),
            ms(h["max_ms"].as_f64()),
        );
    }
    out.push_str("</table>");
    out
}

/// The run's settings: those the report holds in its own fields, then `settings`.
fn settings_table(report: &Value) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| rows.push((k.to_string(), v));
    put("scenario", report["scenario"].as_str().unwrap_or("?").to_string());
    put("seed", int(&report["seed"]).to_string());
    if let Some(model) = report["model"].as_str() {
        put("model", model.to_string());
        let c = &report["compression"];
        let pacing = match c["asap"].as_bool() {
            Some(true) => {
                format!("as fast as possible (calls built at {}x)", trim(num(&c["speed"])))
            }
            _ => format!("calls compressed {}x", trim(num(&c["speed"]))),
        };
        put("pacing", pacing);
        put("target call rate", format!("{:.2}/s", num(&report["rate"]["target_per_s"])));
        if let Some(w) = report["window_s"].as_f64() {
            put("calls started for", format!("{w:.1} s"));
        }
        put("drain", format!("{:.0} s", num(&report["drain_s"])));
        if let Some(m) = report["max_calls_in_flight"].as_u64() {
            put("max calls in flight", m.to_string());
        }
    }
    if let Some(p) = report["pacing"].as_object() {
        let pacing = match (
            p.get("asap").and_then(Value::as_bool),
            p.get("speed").and_then(Value::as_f64),
        ) {
            (Some(true), _) => "as fast as possible".to_string(),
            (_, Some(s)) => format!("{}x", trim(s)),
            _ => "real time".to_string(),
        };
        put("pacing", pacing);
        if let Some(start) = report["clock"]["start"].as_str() {
            put(
                "PBX clock start",
                format!("{start} ({})", report["clock"]["anchor"].as_str().unwrap_or("")),
            );
        }
    }
    for s in report["settings"].as_array().into_iter().flatten() {
        put(s["name"].as_str().unwrap_or("?"), s["value"].as_str().unwrap_or("").to_string());
    }
    let mut out = String::from("<table id=settings-table>");
    for (k, v) in rows {
        let _ = write!(
            out,
            "<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
            esc(&k),
            esc(&v)
        );
    }
    out.push_str("</table>");
    out
}

/// Chaos, refusals, unreachable targets and the built-in receiver, as text.
fn notes(report: &Value) -> String {
    let mut out = String::new();
    for (key, title) in [
        ("chaos", "Chaos"),
        ("refused", "Refused (401/403)"),
        ("unreachable", "Unreachable"),
        ("receiver_text", "Built-in receiver"),
    ] {
        if let Some(text) = report[key].as_str().filter(|t| !t.is_empty()) {
            let _ = write!(out, "<h3>{title}</h3><pre>{}</pre>", esc(text));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Value {
        serde_json::json!({
            "version": 1, "scenario": "midsize <&>", "seed": 3, "model": "open",
            "compression": {"speed": 60.0, "asap": false},
            "rate": {"target_per_s": 10.0, "achieved_per_s": 9.9, "ratio": 0.99, "span_s": 10.0},
            "wall_s": 12.0, "window_s": 10.0, "drain_s": 30.0,
            "calls": {"started": 99, "answered": 80, "abandoned": 5, "voicemail": 10, "unanswered": 4, "busy": 0, "queue_timeouts": 3, "cut_off": 0},
            "events": {"generated": 500, "delivered": 498, "failed": 2, "filtered": 0, "requests": 503, "retries": 3},
            "by_type": {"queue_call": {"generated": 10, "delivered": 10, "failed": 0, "filtered": 0, "latency": {"p50_ms": 1.0, "p99_ms": 2.0, "max_ms": 3.0}}},
            "answers": {"200": 498, "503": 5},
            "failures": {"503": 2},
            "latency": {"p50_ms": 1.2, "p99_ms": 4.0, "buckets": [[1000, 10], [2000, 30], [15000, 2]]},
            "raw_latency": {"p50_ms": 0.9, "buckets": [[900, 40], [1900, 2]]},
            "thresholds": [{"threshold": "p99 < 250ms", "actual": 4.0, "actual_text": "4ms", "pass": true}],
            "kpis": {"service_level_s": 20.0, "span_s": 600.0, "queues": [{"name": "Support", "agents": 5, "offered": 10, "answered": 8, "abandoned": 1, "timedout": 1, "service_level": 0.7, "occupancy": 0.5}], "ring_groups": []},
            "series": {"every_s": 1.0, "corrected": true, "rows": [
                {"t_s": 1.0, "sent": 50, "delivered": 49, "failed": 1, "latency": {"p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}, "raw": {"p50_ms": 0.5, "p90_ms": 1.0, "p99_ms": 1.5, "max_ms": 2.0}},
                {"t_s": 2.0, "sent": 60, "delivered": 60, "failed": 0, "latency": {"p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0, "max_ms": 4.0}, "raw": {"p50_ms": 0.5, "p90_ms": 1.0, "p99_ms": 1.5, "max_ms": 2.0}}
            ]},
            "settings": [{"name": "target", "value": "http://127.0.0.1:9/hook?token=***"}]
        })
    }

    #[test]
    fn every_chart_is_drawn_and_text_is_escaped() {
        let page = html(&report());
        for id in [
            "chart-throughput",
            "chart-latency",
            "chart-raw-latency",
            "chart-histogram",
            "chart-answers",
            "chart-outcomes",
            "chart-kpi-service-level",
            "chart-kpi-outcomes",
        ] {
            let start = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{id}"));
            let svg = &page[start..start + page[start..].find("</svg>").unwrap()];
            assert!(svg.contains("<polyline") || svg.contains("<rect"), "{id} draws: {svg}");
            assert!(!svg.contains("no data"), "{id}");
        }
        assert!(page.contains("midsize &lt;&amp;&gt;"), "escaped");
        assert!(!page.contains("<&>"));
        assert!(page.contains("default-src 'none'"));
        assert!(!page.contains("<script"), "no script");
        assert!(page.contains("?token=***"));
    }

    #[test]
    fn an_empty_report_still_renders_every_section() {
        let page = html(&serde_json::json!({"scenario": "x", "command": "run"}));
        assert!(page.contains("pbxsim run report: x"));
        assert!(page.matches("no data").count() >= 3, "{page}");
        assert!(page.contains("no queue or ring group"));
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(500.0), 500.0);
        assert_eq!(tick(1500.0), "1500");
        assert_eq!(tick(25000.0), "25k");
        assert_eq!(count(1234567), "1,234,567");
    }
}
