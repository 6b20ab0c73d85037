//! `pbxsim listen`: the built-in receiver, checking what arrives.

use crate::cli::*;
use crate::commands::*;
use pbxsim::deliver;
use pbxsim::receiver::inspector::InspectorConfig;
use pbxsim::receiver::{self, Output, PrintMode, ReceiverConfig};
use pbxsim::secret::Secret;
use std::net::SocketAddr;
use std::process::ExitCode;

pub(crate) fn listen(args: ListenArgs) -> ExitCode {
    let output = Output::stdout();
    let color = crate::color::enabled(crate::color::Stream::Stdout);
    let mut tokens = args.token.into_iter().filter(|t| !t.is_empty()).map(Secret::from);
    let cfg = ReceiverConfig {
        token: tokens.next(),
        extra_tokens: tokens.collect(),
        save: args.save,
        status: args.status,
        delay: args.delay.unwrap_or(0),
        fail_rate: args.fail_rate,
        max_body: args.max_body,
        checker: args.check.config(),
        print: if args.quiet { PrintMode::Quiet } else { PrintMode::Lines },
        color,
        seed: args.seed,
        stop_after: match args.exit_after {
            Some(ExitAfter::Events(n)) => Some(n),
            _ => None,
        },
        output: output.clone(),
        inspector: args.ui.then(InspectorConfig::default),
        no_token_note: crate::error_reporting::NO_TOKEN_NOTE.to_string(),
        wording: crate::error_reporting::RECEIVER_WORDING,
        ..ReceiverConfig::default()
    };
    let bind = SocketAddr::new(args.bind, args.port);
    runtime().block_on(async move {
        let running = match receiver::start(bind, cfg).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot listen on {bind}: {e}");
                return ExitCode::from(2);
            }
        };
        // Ctrl-C or SIGTERM ends listening (its normal end: the summary, exit 0 or 1); a
        // closed stdout (`| head -1`) ends it too, quietly.
        let stop = deliver::on_signals(|event| {
            if let deliver::SignalEvent::QuitNow(signal) = event {
                std::process::exit(i32::from(signal.exit_code()));
            }
        });
        output.line(&format!("listening on http://{}", running.addr));
        if let Some(url) = running.inspector_url() {
            output.line(&format!("inspector: {url}  (open it in a browser)"));
            if !args.bind.is_loopback() {
                output.line("note: the inspector page answers only connections from this machine");
            }
        }
        output.line("press Ctrl-C to stop and print the summary");
        let time_limit = async {
            match args.exit_after {
                Some(ExitAfter::Time(ms)) => {
                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await
                }
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = output.closed() => {}
            _ = running.stopped() => {}
            _ = time_limit => {}
        }
        let stats = running.shutdown().await;
        output.line(&format!("\nsummary\n{stats}"));
        if stats.violations() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
    })
}
