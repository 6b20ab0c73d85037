//! `pbxsim replay`: resend captured events.

use crate::cli::*;
use crate::commands::*;
use crate::error_reporting::*;
use pbxsim::deliver::{self, Pacing};
use std::process::ExitCode;

pub(crate) fn replay(args: ReplayArgs) -> ExitCode {
    let headers = match args.delivery.parsed_headers() {
        Ok(h) => h,
        Err(code) => return code,
    };
    if let Some(failed) = &args.delivery.failed {
        let same = match (failed.canonicalize(), args.file.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => failed == &args.file,
        };
        if same {
            return usage_error(format!(
                "--failed {} is the file being replayed; write the new journal elsewhere",
                failed.display()
            ));
        }
    }
    let mut plan = match deliver::replay::plan_with_headers(
        &args.file,
        args.target.as_deref(),
        args.token.as_deref(),
        &headers,
    ) {
        Ok(plan) => plan,
        Err(e) => return replay_error(&e),
    };
    plan.set_token_source(token_source());
    if plan.redacted_headers && args.token.is_none() {
        eprintln!(
            "warning: {} holds redacted secrets (***) that are not sent again; pass --token or \
             set PBXSIM_TOKEN to send a token",
            args.file.display()
        );
    }
    let opts = args.delivery.options(Pacing::Asap);
    let endpoints = plan.endpoints().len();
    if let Err(e) = pbxsim::fd_limit::check_fd_limit(opts.concurrency, endpoints, false) {
        return limit_error(&e);
    }
    let rt = runtime();
    let (result, cancel) = rt.block_on(async {
        let cancel = stop_token();
        (deliver::replay::replay(&plan, &opts, cancel.clone()).await, cancel)
    });
    let summary = match result {
        Ok(summary) => summary,
        Err(e) => return usage_error(deliver_error(&e)),
    };
    print!("{}", summary.render());
    let sigterm = cancel.signal() == Some(deliver::StopSignal::Terminate);
    let exit = summary.exit(args.delivery.allow_failures).terminated_if(sigterm);
    print_unreachable(summary.unreachable_message(), exit);
    exit.into()
}
