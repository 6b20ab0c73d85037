//! `pbxsim trigger`: one realistic event of any type.

use crate::cli::*;
use crate::commands::*;
use crate::error_reporting::*;
use crate::output::*;
use pbxsim::deliver;
use std::process::ExitCode;

pub(crate) fn trigger(args: TriggerArgs) -> ExitCode {
    use rand::SeedableRng;
    let ty = args.event_type;
    if args.print
        && let Err(code) = refuse(
            &[
                ("target", "--target"),
                ("token", "--token"),
                ("timeout", "--timeout"),
                ("insecure", "--insecure"),
                ("headers", "--header"),
            ],
            "--print prints the body and sends nothing",
        )
    {
        return code;
    }
    let headers = match args
        .headers
        .iter()
        .map(|h| deliver::parse_header(h))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(h) => h,
        Err(e) => return header_error(e),
    };
    let mut sets = Vec::new();
    for text in &args.sets {
        match pbxsim::trigger::parse_assignment(text) {
            Ok(pair) => sets.push(pair),
            Err(e) => return edit_error(e),
        }
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let now = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let event = pbxsim::trigger::fake_event(ty, &mut rng, now);
    let mut body = match event.to_value(pbxsim::event::NullStyle::Null) {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("payloads are objects"),
    };
    let original = body.clone();
    if let Err(e) = pbxsim::trigger::apply_edits(ty, &mut body, &sets, &[]) {
        return edit_error(e);
    }
    if !args.raw {
        match pbxsim::trigger::reconcile(ty, &original, &mut body, &sets) {
            Ok(changed) if !changed.is_empty() && !sets.is_empty() => eprintln!(
                "note: {} adjusted to agree with --set (--raw sends the fields as they were)",
                changed.join(", ")
            ),
            Ok(_) => {}
            Err(e) => {
                return usage_error(format!(
                    "{}\nhelp: change the --set values so they fit one call, or add --raw to \
                     send them as given",
                    edit_message(&e)
                ));
            }
        }
    }
    if let Err(e) = pbxsim::trigger::apply_edits(ty, &mut body, &[], &args.unsets) {
        return edit_error(e);
    }
    let body = serde_json::Value::Object(body).to_string();
    if args.print {
        print_stdout(&body);
        return ExitCode::SUCCESS;
    }
    let target = args.target.expect("clap requires --target without --print");
    let shown = pbxsim::secret::redact_url(&target);
    if let Err(e) = url::Url::parse(&target) {
        return usage_error(format!("bad --target `{shown}`: {e}"));
    }
    deliver::init_tls();
    let client = match deliver::one_off_client(args.insecure) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let token = args.token.filter(|t| !t.is_empty());
    runtime().block_on(async move {
        let mut request = client
            .post(&target)
            .timeout(args.timeout)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(token) = &token {
            request = request.header(deliver::TOKEN_HEADER, token);
        }
        for (name, value) in headers.iter().filter(|(_, v)| !v.is_empty()) {
            let Ok(mut value) = reqwest::header::HeaderValue::from_str(value.expose()) else {
                continue;
            };
            // Kept out of debug output, like every secret header.
            value.set_sensitive(pbxsim::secret::is_secret_name(name));
            request = request.header(name.as_str(), value);
        }
        // A one-off: a receiver that follows calls (pbxsim listen) checks it on its own.
        request = request.header(pbxsim::check::TRIGGER_HEADER, "1");
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                println!("{ty} → {shown}: {status} {}", text.trim());
                if status.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) if e.is_connect() => {
                eprintln!("error: could not connect to {shown}. Is the receiver running?");
                ExitCode::from(3)
            }
            Err(e) => {
                eprintln!("error: {ty} → {shown}: {}", e.without_url());
                ExitCode::from(1)
            }
        }
    })
}
