//! JUnit XML for CI systems: one test case per threshold, failures with the measured value.

use super::verdict::Verdict;

/// A JUnit XML document with one `<testsuite name=suite>` holding one `<testcase>` per verdict;
/// a failed threshold has a `<failure>` giving the measured value against the limit.
pub fn junit(suite: &str, verdicts: &[Verdict]) -> String {
    let failures = verdicts.iter().filter(|v| !v.pass).count();
    let tests = verdicts.len();
    let suite = escape(suite);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"pbxsim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">\n"
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"0\">\n"
    ));
    for v in verdicts {
        let name = escape(&v.threshold.to_string());
        let open = format!("    <testcase name=\"{name}\" classname=\"{suite}.thresholds\"");
        if v.pass {
            out.push_str(&format!("{open}/>\n"));
            continue;
        }
        let metric = v.threshold.metric;
        let message = escape(&format!(
            "{metric} was {}, limit {} {}",
            v.actual_text(),
            v.threshold.op,
            metric.format_value(v.threshold.limit)
        ));
        out.push_str(&format!("{open}>\n"));
        out.push_str(&format!(
            "      <failure message=\"{message}\" type=\"threshold\">{message}</failure>\n"
        ));
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot hold.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Measure, Metric, Threshold, check_all};

    struct Fixed;
    impl Measure for Fixed {
        fn measure(&self, metric: Metric) -> Option<f64> {
            match metric {
                Metric::ErrorRate => Some(0.02),
                Metric::Rate => None,
                _ => Some(12.0),
            }
        }
    }

    #[test]
    fn one_testcase_per_threshold_with_failures_explained() {
        let thresholds: Vec<Threshold> = ["p99<250ms", "error_rate<0.1%", "rate>=95%"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        let xml = junit("load <\"a&b\">", &check_all(&thresholds, &Fixed));
        insta::assert_snapshot!(xml, @r#"
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="pbxsim" tests="3" failures="2" errors="0">
          <testsuite name="load &lt;&quot;a&amp;b&quot;&gt;" tests="3" failures="2" errors="0" skipped="0">
            <testcase name="p99 &lt; 250ms" classname="load &lt;&quot;a&amp;b&quot;&gt;.thresholds"/>
            <testcase name="error_rate &lt; 0.1%" classname="load &lt;&quot;a&amp;b&quot;&gt;.thresholds">
              <failure message="error_rate was 2%, limit &lt; 0.1%" type="threshold">error_rate was 2%, limit &lt; 0.1%</failure>
            </testcase>
            <testcase name="rate &gt;= 95%" classname="load &lt;&quot;a&amp;b&quot;&gt;.thresholds">
              <failure message="rate was not measured, limit &gt;= 95%" type="threshold">rate was not measured, limit &gt;= 95%</failure>
            </testcase>
          </testsuite>
        </testsuites>
        "#);
    }

    #[test]
    fn escapes_everything_xml_reserves() {
        assert_eq!(escape("a<b>&\"'\u{1}\n"), "a&lt;b&gt;&amp;&quot;&apos;&#10;");
        let empty = junit("s", &[]);
        assert!(empty.contains("tests=\"0\" failures=\"0\""), "{empty}");
    }
}
