//! Unit tests of generated traffic: rates, distributions, arrivals, mix and checks.

use super::*;
use crate::scenario::builtin_pbx as builtin;
use crate::scenario::traffic::*;
use serde::Deserialize;

fn spec(text: &str) -> TrafficSpec {
    let table: toml::Table = toml::from_str(text).expect("valid TOML");
    TrafficSpec::from_toml(table).expect("valid [traffic]")
}

fn model(text: &str) -> TrafficModel {
    spec(text).resolve(&builtin::midsize().pbx).expect("resolves")
}

fn error(text: &str) -> TrafficError {
    let table: toml::Table = toml::from_str(text).expect("valid TOML");
    match TrafficSpec::from_toml(table) {
        Ok(spec) => spec.resolve(&builtin::midsize().pbx).expect_err("should not resolve"),
        Err(e) => e,
    }
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

#[test]
fn rates_parse() {
    let per_s = |text: &str| text.parse::<Rate>().map(Rate::as_per_second);
    assert_eq!(per_s("30/s"), Ok(30.0));
    assert_eq!(per_s("120/h"), Ok(120.0 / 3600.0));
    assert_eq!(per_s("2.5/m"), Ok(2.5 / 60.0));
    assert_eq!(per_s(" 6 / min "), Ok(0.1));
    assert_eq!(per_s("0/s"), Ok(0.0));
    assert_eq!(per_s("1/sec"), Ok(1.0));
    assert_eq!(per_s("36/hour"), Ok(0.01));
    assert!(matches!(per_s("-5/s"), Err(RateError::Negative(_))));
    for bad in ["5", "5/x", "/s", "abc/s", "1e3/s", "inf/s", "NaN/s", "5/", "1.2.3/s", ""] {
        assert!(matches!(per_s(bad), Err(RateError::Invalid(_))), "{bad:?} should not parse");
    }
}

#[test]
fn rates_format_back() {
    for text in ["30/s", "90/h", "5/m", "1/h"] {
        let rate: Rate = text.parse().unwrap();
        assert_eq!(rate.to_string(), text);
    }
    let odd: Rate = "2.5/m".parse().unwrap();
    assert_eq!(odd.to_string(), "150/h");
    assert_eq!(odd.to_string().parse::<Rate>(), Ok(odd));
}

/// The mean and standard deviation of `n` samples.
fn moments(dist: Distribution, n: usize) -> (f64, f64) {
    let mut rng = rng();
    let samples: Vec<f64> = (0..n).map(|_| dist.sample(&mut rng) as f64).collect();
    let mean = samples.iter().sum::<f64>() / n as f64;
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

#[test]
fn distributions_have_their_means() {
    let n = 100_000;
    // The sample mean is within 4 standard errors of the true mean.
    let check = |dist: Distribution, true_sd: f64| {
        let (mean, sd) = moments(dist, n);
        let se = true_sd / (n as f64).sqrt();
        assert!((mean - dist.mean()).abs() < 4.0 * se + 0.5, "{dist:?}: mean {mean}");
        assert!((sd - true_sd).abs() < 0.05 * true_sd + 0.5, "{dist:?}: sd {sd} vs {true_sd}");
    };
    check(Distribution::Fixed(20_000), 0.0);
    check(Distribution::Uniform { min: 2_000, max: 12_000 }, 10_000.0 / 12f64.sqrt());
    check(Distribution::Exponential { mean: 180_000.0 }, 180_000.0);
    let (mu, sigma) = (120_000f64.ln(), 0.5f64);
    let lognormal_sd = ((sigma * sigma).exp() - 1.0).sqrt() * (mu + sigma * sigma / 2.0).exp();
    check(Distribution::LogNormal { mu, sigma }, lognormal_sd);
}

#[test]
fn distribution_samples_stay_in_range() {
    let mut rng = rng();
    let uniform = Distribution::Uniform { min: 2_000, max: 3_000 };
    assert!((0..10_000).map(|_| uniform.sample(&mut rng)).all(|x| (2_000..=3_000).contains(&x)));
    let wild = Distribution::LogNormal { mu: 60_000f64.ln(), sigma: 10.0 };
    assert!((0..10_000).map(|_| wild.sample(&mut rng)).all(|x| x <= MAX_SAMPLE));
    assert_eq!(Distribution::Exponential { mean: 0.0 }.sample(&mut rng), 0);
}

#[test]
fn lognormal_by_median_or_mean() {
    let by_median =
        model("rate = \"1/s\"\ntalk = { dist = \"lognormal\", median = \"2m\", sigma = 0.8 }");
    let Distribution::LogNormal { mu, sigma } = by_median.talk else { panic!() };
    assert!((mu.exp() - 120_000.0).abs() < 1e-6 && sigma == 0.8);
    let by_mean =
        model("rate = \"1/s\"\ntalk = { dist = \"lognormal\", mean = \"3m\", sigma = 0.8 }");
    assert!((by_mean.talk.mean() - 180_000.0).abs() < 1e-6);
    let (mean, _) = moments(by_mean.talk, 100_000);
    assert!((mean / 180_000.0 - 1.0).abs() < 0.02, "mean {mean}");
}

#[test]
fn a_full_table_resolves() {
    let m = model(
        r#"
        arrivals = "uniform"
        rate = "120/h"
        outbound = 0.3
        unnamed = 0.5
        numbers = { "61290000001" = 3, "61290000002" = 1 }
        talk = { dist = "exponential", mean = "3m" }
        answer_after = { dist = "uniform", min = "2s", max = "12s" }
        patience = { dist = "exponential", mean = "90s" }
        voicemail = { dist = "fixed", value = "20s" }
        no_answer = 0.05
        "#,
    );
    assert_eq!(m.arrivals, Arrivals::Uniform);
    assert_eq!(m.schedule, Schedule::Constant(120.0 / 3600.0));
    assert_eq!(m.outbound, 0.3);
    assert_eq!(m.unnamed, 0.5);
    assert_eq!(m.number_weights, vec![0.0, 3.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(m.talk, Distribution::Exponential { mean: 180_000.0 });
    assert_eq!(m.answer_after, Distribution::Uniform { min: 2_000, max: 12_000 });
    assert_eq!(m.patience, Some(Distribution::Exponential { mean: 90_000.0 }));
    assert_eq!(m.voicemail, Distribution::Fixed(20_000));
    assert_eq!(m.no_answer, 0.05);
    assert_eq!(m.duration(), None);
}

#[test]
fn defaults_are_realistic() {
    let m = model("rate = \"1/m\"");
    assert_eq!(m.arrivals, Arrivals::Poisson);
    assert_eq!(m.outbound, 0.2);
    assert_eq!(m.number_weights, vec![1.0; 6]);
    assert_eq!(m.patience, None);
    assert_eq!(m.no_answer, 0.0);
    assert_eq!(m.talk.mean(), 180_000.0);
}

#[test]
fn bad_tables_name_the_key() {
    let cases = [
        ("rate = \"-5/s\"", "traffic.rate", "negative rate"),
        ("rate = \"5 per second\"", "traffic.rate", "cannot read rate"),
        ("outbound = 0.2", "traffic.rate", "missing"),
        ("rate = \"1/s\"\noutbound = 1.5", "traffic.outbound", "not a share"),
        ("rate = \"1/s\"\nno_answer = nan", "traffic.no_answer", "not a share"),
        ("rate = \"1/s\"\nunnamed = -0.1", "traffic.unnamed", "not a share"),
        (
            "rate = \"1/s\"\nnumbers = { \"61290000009\" = 1 }",
            "traffic.numbers.\"61290000009\"",
            "did you mean `6129000000",
        ),
        ("rate = \"1/s\"\nnumbers = { \"61290000001\" = -1 }", "", "zero or more"),
        ("rate = \"1/s\"\nnumbers = { \"61290000001\" = 0 }", "traffic.numbers", "weight 0"),
        (
            "rate = \"1/s\"\nanswer_after = { dist = \"uniform\", min = \"12s\", max = \"2s\" }",
            "traffic.answer_after.min",
            "swap them",
        ),
        (
            "rate = \"1/s\"\ntalk = { dist = \"exponential\", mean = \"3\" }",
            "traffic.talk.mean",
            "",
        ),
        (
            "rate = \"1/s\"\ntalk = { dist = \"lognormal\", mean = \"3m\", median = \"2m\", sigma = 1 }",
            "traffic.talk",
            "either `median` or `mean`",
        ),
        (
            "rate = \"1/s\"\ntalk = { dist = \"lognormal\", mean = \"3m\", sigma = -1 }",
            "traffic.talk.sigma",
            "from 0 to 10",
        ),
        ("stages = []", "traffic.stages", "no stages"),
        (
            "stages = [{ rate = \"1/s\", for = \"1m\" }, { rate = \"x\", for = \"1m\" }]",
            "traffic.stages[1].rate",
            "cannot read rate",
        ),
        ("stages = [{ rate = \"1/s\", for = \"-1m\" }]", "traffic.stages[0].for", "negative"),
        ("rat = \"1/s\"", "traffic.rat", "did you mean `rate`?"),
        ("rate = \"1/s\"\nzzz = 1", "traffic.zzz", "the keys are arrivals, rate,"),
        ("rate = 5", "traffic.rate", "invalid type: integer"),
        ("rate = \"1/s\"\noutbound = \"20%\"", "traffic.outbound", "invalid type: string"),
        ("rate = \"1/s\"\ntalk = { dist = \"gamma\", mean = \"1m\" }", "traffic.talk", "gamma"),
        ("rate = \"1/s\"\ntalk = { dist = \"fixed\", mean = \"1m\" }", "traffic.talk", "mean"),
        ("rate = \"1/s\"\ntalk = \"3m\"", "traffic.talk", "value = \"3m\" }`"),
        ("rate = \"1/s\"\ntalk = 3", "traffic.talk", "write a distribution"),
        ("rate = \"1/s\"\narrivals = \"bursty\"", "traffic.arrivals", "bursty"),
        ("stages = [{ rate = \"1/s\", duration = \"1m\" }]", "traffic.stages[0]", "duration"),
        ("stages = { rate = \"1/s\", for = \"1m\" }", "traffic.stages", "invalid type: map"),
        ("rate = \"1/s\"\nnumbers = { \"61290000001\" = \"x\" }", "traffic.numbers", "string"),
    ];
    for (text, key, fragment) in cases {
        let e = error(text);
        assert!(e.key.starts_with(key), "{text}: key {} (wanted {key})", e.key);
        assert!(e.message.contains(fragment), "{text}: {e} (wanted {fragment:?})");
    }
}

#[test]
fn outbound_needs_users_and_inbound_needs_numbers() {
    let spec = spec("rate = \"1/s\"");
    let mut pbx = builtin::midsize().pbx;
    pbx.numbers.clear();
    assert_eq!(spec.resolve(&pbx).unwrap_err().key, "traffic.outbound");
    let all_out = TrafficSpec { outbound: Some(1.0), ..spec.clone() };
    assert!(all_out.resolve(&pbx).is_ok());
    let mut pbx = builtin::midsize().pbx;
    pbx.users.clear();
    assert_eq!(spec.resolve(&pbx).unwrap_err().key, "traffic.outbound");
    let none_out = TrafficSpec { outbound: Some(0.0), ..spec };
    assert!(none_out.resolve(&pbx).is_ok());
}

fn calls(text: &str, seed: u64) -> Generator {
    generate(model(text), &builtin::midsize().pbx, seed)
}

#[test]
fn a_seed_reproduces_the_calls() {
    let text = "rate = \"10/m\"\npatience = { dist = \"exponential\", mean = \"1m\" }";
    let a: Vec<ScriptedCall> = calls(text, 42).take(2_000).collect();
    let b: Vec<ScriptedCall> = calls(text, 42).take(2_000).collect();
    let c: Vec<ScriptedCall> = calls(text, 43).take(2_000).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn changing_a_distribution_keeps_the_arrival_times() {
    let times = |text: &str| calls(text, 5).take(500).map(|c| c.at).collect::<Vec<_>>();
    assert_eq!(
        times("rate = \"10/m\""),
        times("rate = \"10/m\"\ntalk = { dist = \"fixed\", value = \"1m\" }")
    );
}

/// Calls starting in [from, to) milliseconds.
fn count(calls: &[ScriptedCall], from: Millis, to: Millis) -> usize {
    calls.iter().filter(|c| (from..to).contains(&c.at)).count()
}

#[test]
fn poisson_arrivals_at_a_constant_rate() {
    let all: Vec<ScriptedCall> =
        calls("rate = \"10/s\"", 3).take_while(|c| c.at < 2_000_000).collect();
    // 20,000 expected; a Poisson count has standard deviation √20,000 ≈ 141.
    assert!((all.len() as f64 - 20_000.0).abs() < 4.0 * 141.5, "{}", all.len());
    // Counts per second are Poisson: their variance is about their mean (10).
    let per_second: Vec<f64> =
        (0..2_000).map(|s| count(&all, s * 1_000, (s + 1) * 1_000) as f64).collect();
    let mean = per_second.iter().sum::<f64>() / 2_000.0;
    let var = per_second.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 1_999.0;
    assert!((var / mean - 1.0).abs() < 0.15, "dispersion {}", var / mean);
    // Gaps are exponential: about e^-1 of them exceed the mean gap.
    let long = all.windows(2).filter(|w| w[1].at - w[0].at > 100).count() as f64;
    assert!((long / all.len() as f64 - (-1f64).exp()).abs() < 0.02);
}

#[test]
fn uniform_arrivals_are_evenly_spaced() {
    let all: Vec<ScriptedCall> = calls("arrivals = \"uniform\"\nrate = \"120/h\"", 3)
        .take_while(|c| c.at < 3_600_000)
        .collect();
    assert_eq!(all.len(), 120);
    let times: Vec<Millis> = all.iter().map(|c| c.at).collect();
    assert_eq!(times[..3], [15_000, 45_000, 75_000]);
    assert!(times.windows(2).all(|w| w[1] - w[0] == 30_000));
}

const RAMP: &str = r#"
stages = [
    { rate = "10/s", for = "1m" },    # 0 → 10/s: 300 calls expected
    { rate = "10/s", for = "2m" },    # hold: 1,200
    { rate = "2/s", for = "30s" },    # 10 → 2/s: 180
]
"#;

#[test]
fn stages_ramp_the_rate() {
    let m = model(RAMP);
    assert_eq!(m.duration(), Some(210_000));
    assert_eq!(m.rate_at(0), 0.0);
    assert_eq!(m.rate_at(30_000), 5.0);
    assert_eq!(m.rate_at(60_000), 10.0);
    assert_eq!(m.rate_at(195_000), 6.0);
    assert_eq!(m.rate_at(210_000), 0.0);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(m.expected_calls(30_000), 75.0));
    assert!(close(m.expected_calls(60_000), 300.0));
    assert!(close(m.expected_calls(180_000), 1_500.0));
    assert!(close(m.expected_calls(210_000), 1_680.0));
    assert!(close(m.expected_calls(10_000_000), 1_680.0));
    let start_from = model(&format!("rate = \"4/s\"\n{RAMP}"));
    assert!(close(start_from.expected_calls(60_000), 420.0));
}

#[test]
fn ramped_arrivals_follow_the_stages() {
    // Poisson: counts per window within 4 standard deviations of their expectation, over many
    // seeds pooled; the stream ends with the last stage.
    let m = model(RAMP);
    let windows = [(0, 30_000), (30_000, 60_000), (60_000, 180_000), (180_000, 210_000)];
    let runs = 20;
    let mut totals = [0usize; 4];
    for seed in 0..runs {
        let all: Vec<ScriptedCall> = calls(RAMP, seed).collect();
        assert!(all.last().is_some_and(|c| c.at <= 210_000));
        for (total, (from, to)) in totals.iter_mut().zip(windows) {
            *total += count(&all, from, to);
        }
    }
    for (total, (from, to)) in totals.into_iter().zip(windows) {
        let expected = runs as f64 * (m.expected_calls(to) - m.expected_calls(from));
        let sd = expected.sqrt();
        assert!(
            (total as f64 - expected).abs() < 4.0 * sd,
            "[{from}, {to}): {total} vs {expected}"
        );
    }
    // Uniform: within one call of the expectation in every window.
    let uniform = format!("arrivals = \"uniform\"\n{RAMP}");
    let all: Vec<ScriptedCall> = calls(&uniform, 1).collect();
    for (from, to) in windows {
        let expected = m.expected_calls(to) - m.expected_calls(from);
        let got = count(&all, from, to) as f64;
        assert!((got - expected).abs() <= 1.0, "[{from}, {to}): {got} vs {expected}");
    }
}

#[test]
fn a_zero_rate_makes_no_calls() {
    assert_eq!(calls("rate = \"0/s\"", 1).next(), None);
    assert_eq!(calls("stages = [{ rate = \"0/s\", for = \"1h\" }]", 1).next(), None);
}

#[test]
fn the_mix_follows_the_model() {
    let pbx = builtin::midsize().pbx;
    let m = model(
        r#"
        rate = "1/s"
        outbound = 0.25
        unnamed = 0.2
        no_answer = 0.1
        numbers = { "61290000001" = 3, "61290000002" = 1 }
        patience = { dist = "fixed", value = "90s" }
        "#,
    );
    let all: Vec<ScriptedCall> = generate(m, &pbx, 9).take(40_000).collect();
    let share = |f: &dyn Fn(&ScriptedCall) -> bool, of: &[&ScriptedCall]| {
        of.iter().filter(|c| f(c)).count() as f64 / of.len() as f64
    };
    let everything: Vec<&ScriptedCall> = all.iter().collect();
    let (outbound, inbound): (Vec<&ScriptedCall>, Vec<&ScriptedCall>) =
        everything.iter().partition(|c| matches!(c.kind, CallKind::Outbound { .. }));
    // Shares within 4 standard errors (binomial; at most 0.005 here).
    assert!((outbound.len() as f64 / 40_000.0 - 0.25).abs() < 0.01);
    let on = |n: usize| move |c: &ScriptedCall| c.kind == CallKind::Inbound { number: n };
    assert!((share(&on(1), &inbound) - 0.75).abs() < 0.012);
    assert!((share(&on(2), &inbound) - 0.25).abs() < 0.012);
    assert_eq!(share(&on(1), &inbound) + share(&on(2), &inbound), 1.0);
    assert!((share(&|c| c.caller_name.is_none(), &inbound) - 0.2).abs() < 0.012);
    assert!((share(&|c| c.behaviour.answer == Answer::Nobody, &outbound) - 0.1).abs() < 0.012);
    for c in &inbound {
        assert_eq!(c.behaviour.abandon_after, Some(90_000));
        assert_eq!(c.behaviour.no_answer_probability, 0.1);
        assert!(c.caller_id.len() == 11 && c.caller_id.bytes().all(|b| b.is_ascii_digit()));
        assert!(c.caller_id.starts_with("61"));
        assert!(c.caller_name.as_ref().is_none_or(|n| n.contains(' ')));
    }
    for c in &outbound {
        let CallKind::Outbound { user, dest } = &c.kind else { unreachable!() };
        assert!(*user < pbx.users.len());
        assert!(dest.len() == 11 && dest.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(&*c.caller_id, builtin::MAIN_NUMBER);
        assert_eq!(c.caller_name, None);
        assert_eq!(c.behaviour.abandon_after, None);
    }
    // Every user makes outbound calls.
    let mut users: Vec<usize> = outbound
        .iter()
        .map(|c| match c.kind {
            CallKind::Outbound { user, .. } => user,
            _ => unreachable!(),
        })
        .collect();
    users.sort_unstable();
    users.dedup();
    assert_eq!(users.len(), pbx.users.len());
}

#[test]
fn outbound_caller_id_prefers_the_users_cli_then_the_first_number_then_the_extension() {
    let mut pbx = builtin::midsize().pbx;
    pbx.users[0].outbound_cli = Some(Str::from("61299998888"));
    let m = spec("rate = \"1/s\"\noutbound = 1").resolve(&pbx).unwrap();
    let cli = |pbx: &Pbx, m: &TrafficModel| -> Vec<(usize, Str)> {
        generate(m.clone(), pbx, 1)
            .take(500)
            .map(|c| match c.kind {
                CallKind::Outbound { user, .. } => (user, c.caller_id),
                _ => unreachable!(),
            })
            .collect()
    };
    for (user, id) in cli(&pbx, &m) {
        let wanted = if user == 0 { "61299998888" } else { builtin::MAIN_NUMBER };
        assert_eq!(&*id, wanted);
    }
    pbx.numbers.clear();
    let m = spec("rate = \"1/s\"\noutbound = 1").resolve(&pbx).unwrap();
    for (user, id) in cli(&pbx, &m) {
        if user != 0 {
            assert_eq!(id, pbx.users[user].extension);
        }
    }
}

#[test]
fn the_schema_describes_the_table() {
    let schema = serde_json::to_string(&schemars::schema_for!(TrafficSpec)).unwrap();
    for key in TrafficSpec::KEYS {
        assert!(schema.contains(&format!("\"{key}\"")), "{key} missing from the schema");
    }
    for word in ["\"dist\"", "\"lognormal\"", "\"for\"", "\"poisson\"", "additionalProperties"] {
        assert!(schema.contains(word), "{word} missing from the schema");
    }
}

#[test]
fn serde_reads_the_same_table_directly() {
    let text = "rate = \"1/s\"\nstages = [{ rate = \"2/s\", for = \"1m\" }]\nno_answer = 0.1";
    let value: toml::Value = toml::from_str(text).unwrap();
    assert_eq!(TrafficSpec::deserialize(value).unwrap(), spec(text));
}

/// The far-end number of a call: the caller of an inbound call, the dialled number of an outbound.
fn far_end(call: &ScriptedCall) -> Str {
    match &call.kind {
        CallKind::Outbound { dest, .. } => dest.clone(),
        CallKind::Inbound { .. } => call.caller_id.clone(),
    }
}

#[test]
fn tenants_numbers_never_meet() {
    let text = "rate = \"10/s\"\noutbound = 0.5";
    let single: Vec<Str> = calls(text, 4).take(300).map(|c| far_end(&c)).collect();
    let one_of_one: Vec<Str> =
        calls(text, 4).for_tenant(0, 1).take(300).map(|c| far_end(&c)).collect();
    assert_eq!(single, one_of_one, "one tenant of one is the single PBX");
    for count in [2u32, 3, 7, 12, 1000] {
        let mut seen = std::collections::HashMap::new();
        for index in [0, 1, count / 2, count - 1] {
            for call in calls(text, 4 + u64::from(index)).for_tenant(index, count).take(300) {
                let number = far_end(&call);
                assert_eq!(number.len(), 11, "{number}");
                assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number}");
                let value: u64 = number[3..].parse().unwrap();
                assert_eq!(value % u64::from(count), u64::from(index), "{number} of {count}");
                if let Some(other) = seen.insert(number.clone(), index) {
                    assert_eq!(other, index, "{number} is tenant {other}'s and {index}'s");
                }
            }
        }
    }
}

#[test]
fn a_tenant_number_stays_in_range() {
    for (number, tenant, want) in [
        ("61400000000", (3, 7), "61400000003"),
        ("61400000002", (3, 7), "61400000003"),
        ("61400000010", (3, 7), "61400000010"),
        ("61400000012", (3, 7), "61400000010"),
        ("61499999999", (6, 7), "61499999997"),
        ("61499999999", (0, 1), "61499999999"),
    ] {
        let mut digits: [u8; NUMBER_LEN] = number.as_bytes().try_into().unwrap();
        tenant_number(&mut digits, tenant);
        assert_eq!(std::str::from_utf8(&digits).unwrap(), want, "{number} {tenant:?}");
    }
}

#[test]
fn fake_names_are_fakes_name() {
    use fake::faker::name::en::Name;
    let text = "rate = \"10/s\"\nunnamed = 0";
    let mut generator = calls(text, 11);
    // The generator's own stream, before any draw.
    let mut twin = ChaCha8Rng::seed_from_u64(11);
    twin.set_stream(2);
    for _ in 0..200 {
        let want: String = Name().fake_with_rng(&mut twin);
        assert_eq!(&*generator.fake_name(), want);
    }
}

#[test]
fn fake_numbers_are_fakes_number_with_format() {
    use fake::faker::number::en::NumberWithFormat;
    let mut generator = calls("rate = \"10/s\"", 12);
    // The generator's own stream, before any draw.
    let mut twin = ChaCha8Rng::seed_from_u64(12);
    twin.set_stream(2);
    for _ in 0..500 {
        let format = NUMBER_FORMATS[twin.random_range(0..NUMBER_FORMATS.len())];
        let want: String = NumberWithFormat(format).fake_with_rng(&mut twin);
        assert_eq!(&*generator.fake_number(), want);
    }
}
