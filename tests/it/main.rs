//! All of pbxsim's integration tests in one test binary (one link instead of one per file):
//! each module below was once its own `tests/*.rs`; `support` holds the shared fixtures.

mod support;

mod bad_input;
mod chaos;
mod check;
mod ci_outputs;
mod conformance;
mod deliver;
mod docs_links;
mod ecosystem;
mod endpoints;
mod erlang;
mod event_catalogue;
mod expect;
mod false_greens;
mod flags;
mod flows;
mod golden;
mod http_framing;
mod inspector;
mod kpi;
mod kubernetes;
mod limits;
mod listen;
mod listener_hardening;
mod load;
mod load_dry_run;
mod merge_reports;
mod oneshot;
mod readme_local_dev;
mod receiver_example;
mod replay;
mod report;
mod report_merge;
mod run;
mod schema_file;
mod secrets;
mod semantics;
mod session;
mod shards;
mod soak;
mod timing;
mod unix;
mod user_test_helper;
mod validate;
