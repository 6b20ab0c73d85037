//! The tool in its surroundings, through the real binary: shell completions and the man page
//! generate (and parse where the shell or `man` is installed), `--version` names the build,
//! `--color` / `NO_COLOR` / `CLICOLOR_FORCE` decide colour, and `pbxsim new` writes starter
//! files that validate and play.

use std::process::{Command, Output};

use crate::support::{self, tempdir};

/// `pbxsim ARGS` with no colour variables set (see [`pbxsim_env`]).
fn pbxsim(args: &[&str]) -> Output {
    pbxsim_env(args, &[])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn completions_generate_for_every_shell_and_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = pbxsim(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.len() > 1000, "{shell}: a real script, not {} bytes", script.len());
        for word in ["pbxsim", "listen", "validate", "target", "asap"] {
            assert!(script.contains(word), "{shell}: the script mentions {word}");
        }
        // The scripts parse in the shells that are installed here (bash always is).
        let check: Option<&[&str]> = match shell {
            "bash" => Some(&["bash", "-n"]),
            "zsh" => Some(&["zsh", "-n"]),
            "fish" => Some(&["fish", "--no-execute"]),
            _ => None,
        };
        if let Some([program, flag]) = check
            && has(program)
        {
            let dir = tempdir(&format!("completions-{shell}"));
            let file = dir.join("script");
            std::fs::write(&file, &script).unwrap();
            let parsed = Command::new(program).arg(flag).arg(&file).output().unwrap();
            assert!(parsed.status.success(), "{shell} -n: {}", stderr(&parsed));
        }
    }
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let out = pbxsim(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bash_completion_completes_a_subcommand() {
    if !has("bash") {
        return;
    }
    let out = pbxsim(&["completions", "bash"]);
    let dir = tempdir("bash-complete");
    let file = dir.join("pbxsim.bash");
    std::fs::write(&file, stdout(&out)).unwrap();
    // Source the script, then ask its completion function about `pbxsim val<TAB>`.
    let probe = format!(
        "source {}; COMP_WORDS=(pbxsim val); COMP_CWORD=1; COMP_LINE='pbxsim val'; \
         COMP_POINT=${{#COMP_LINE}}; _pbxsim pbxsim val pbxsim; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let done = Command::new("bash").args(["--norc", "-c", &probe]).output().unwrap();
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(stdout(&done).trim(), "validate");
}

#[test]
fn man_page_is_roff_and_renders() {
    let out = pbxsim(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.lines().any(|l| l.starts_with(".TH pbxsim 1")), "a .TH title line:\n{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS") && page.contains("pbxsim\\-listen"), "{page}");
    if !has("man") {
        return;
    }
    let dir = tempdir("man");
    let file = dir.join("pbxsim.1");
    std::fs::write(&file, &page).unwrap();
    let shown = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", stderr(&shown));
    assert!(stderr(&shown).trim().is_empty(), "roff warnings: {}", stderr(&shown));
    let text = stdout(&shown);
    assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
    assert!(text.contains("listen"), "{text}");
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let dir = tempdir("man-dir").join("man1");
    let out = pbxsim(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for page in ["pbxsim.1", "pbxsim-run.1", "pbxsim-listen.1", "pbxsim-load.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    let run = std::fs::read_to_string(dir.join("pbxsim-run.1")).unwrap();
    assert!(run.contains("\\-\\-asap"), "the run page documents --asap");
}

#[test]
fn version_names_the_package_version_and_the_commit_of_a_checkout() {
    let out = pbxsim(&["--version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let version = env!("CARGO_PKG_VERSION");
    assert!(line.starts_with(&format!("pbxsim {version}")), "{line}");
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let head = Command::new("git").args(["rev-parse", "HEAD"]).current_dir(repo).output();
    let head = match head {
        Ok(o) if o.status.success() && repo.join(".git").exists() => {
            String::from_utf8(o.stdout).unwrap().trim().to_string()
        }
        // Built from a tarball, or no git here: the bare version, and nothing else.
        _ => {
            assert_eq!(line.trim(), format!("pbxsim {version}"));
            return;
        }
    };
    // `pbxsim 0.1.0 (abc1234 2026-05-01)`: the short hash is a prefix of HEAD.
    let inner = line
        .trim()
        .strip_prefix(&format!("pbxsim {version} ("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("a commit in parentheses: {line}"));
    let commit = inner.split(' ').next().unwrap();
    assert!(commit.len() >= 7 && head.starts_with(commit), "{commit} is HEAD {head}");
}

/// `pbxsim ARGS` with `vars` set (and NO_COLOR / CLICOLOR_FORCE cleared first).
fn pbxsim_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pbxsim"));
    command.args(args).env_remove("PBXSIM_TOKEN").env_remove("NO_COLOR");
    command.env_remove("CLICOLOR_FORCE").env_remove("CLICOLOR");
    for (k, v) in vars {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn ansi(bytes: &[u8]) -> bool {
    bytes.contains(&0x1b)
}

fn repo_file(path: &str) -> String {
    support::repo().join(path).display().to_string()
}

#[test]
fn color_of_diagnostics_follows_the_flag_then_no_color_then_clicolor_force() {
    let broken = repo_file("tests/broken/bad-duration.toml");
    // (flag, environment, coloured?) — stderr is a pipe here, never a terminal.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], bool);
    let cases: &[Case] = &[
        (&[], &[], false),
        (&["--color", "always"], &[], true),
        (&["--color=always"], &[("NO_COLOR", "1")], true),
        (&["--color", "never"], &[("CLICOLOR_FORCE", "1")], false),
        (&["--color", "auto"], &[("CLICOLOR_FORCE", "1")], true),
        (&[], &[("CLICOLOR_FORCE", "1")], true),
        (&[], &[("CLICOLOR_FORCE", "0")], false),
        (&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], false),
    ];
    for (flags, vars, coloured) in cases {
        let mut args = vec!["validate", broken.as_str()];
        args.extend_from_slice(flags);
        let out = pbxsim_env(&args, vars);
        assert_eq!(out.status.code(), Some(2), "{flags:?} {vars:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("bad-duration.toml:18:8"), "{}", stderr(&out));
        assert_eq!(ansi(&out.stderr), *coloured, "{flags:?} {vars:?}: {}", stderr(&out));
    }
}

#[test]
fn color_of_clap_usage_errors_follows_the_flag() {
    let out = pbxsim_env(&["--color", "always", "bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(ansi(&out.stderr), "{}", stderr(&out));
    let out = pbxsim_env(&["bogus", "--color=never"], &[("CLICOLOR_FORCE", "1")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!ansi(&out.stderr), "{}", stderr(&out));
    assert!(stderr(&out).contains("bogus"), "{}", stderr(&out));
    let out = pbxsim_env(&["validate", "x.toml", "--color", "sometimes"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("sometimes") && err.contains("always") && err.contains("never"), "{err}");
}

#[test]
fn color_of_the_built_in_receivers_lines_on_stdout() {
    let quickstart = repo_file("scenarios/quickstart.toml");
    let run = |flags: &[&str], vars: &[(&str, &str)]| {
        let mut args = vec!["run", quickstart.as_str(), "--asap"];
        args.extend_from_slice(flags);
        let out = pbxsim_env(&args, vars);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("user_inbound"), "{}", stdout(&out));
        ansi(&out.stdout)
    };
    assert!(!run(&[], &[]), "a pipe gets no colour");
    assert!(run(&["--color", "always"], &[]));
    assert!(run(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    // --output json keeps the lines (now on stderr) plain: they are not for a terminal.
    let out = pbxsim_env(
        &["run", quickstart.as_str(), "--asap", "--output", "json", "--color", "always"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!ansi(&out.stdout));
}

#[test]
fn color_of_listens_lines_follows_the_flag() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    for (flags, vars, coloured) in [
        (vec!["--color", "always"], vec![], true),
        (vec![], vec![("CLICOLOR_FORCE", "1")], true),
        (vec![], vec![], false),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pbxsim"));
        command.args(["listen", "-p", "0", "--exit-after", "1"]).args(&flags);
        command.env_remove("PBXSIM_TOKEN").env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in &vars {
            command.env(k, v);
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let url = first.trim().strip_prefix("listening on ").expect(&first).to_string();
        let sent = pbxsim(&["trigger", "queue_call", "--target", &format!("{url}/hook")]);
        assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
        let mut rest = Vec::new();
        out.read_to_end(&mut rest).unwrap();
        assert!(child.wait().unwrap().success());
        assert!(String::from_utf8_lossy(&rest).contains("queue_call"));
        assert_eq!(ansi(&rest), coloured, "{flags:?} {vars:?}: {}", String::from_utf8_lossy(&rest));
    }
}

const TEMPLATES: [&str; 3] = ["office", "callcentre", "load"];

#[test]
fn new_writes_each_template_which_validates_and_plays_against_the_built_in_receiver() {
    let dir = tempdir("new");
    for template in TEMPLATES {
        let file = dir.join(format!("my-{template}.toml"));
        let path = file.to_str().unwrap();
        let out = pbxsim(&["new", path, "--template", template]);
        assert_eq!(out.status.code(), Some(0), "{template}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("pbxsim validate {path}")), "{}", stderr(&out));
        let written = std::fs::read_to_string(&file).unwrap();
        let shipped = std::fs::read_to_string(repo_file(&format!("templates/{template}.toml")));
        // Without the repository's `#:schema` line: no schema beside a temporary file.
        let shipped = shipped.unwrap().replacen("#:schema ../schema/scenario.schema.json\n", "", 1);
        assert_eq!(written, shipped, "{template}: the shipped file, as it is");
        assert!(written.starts_with("# "), "{template}: a commented file");

        let out = pbxsim(&["validate", path]);
        assert_eq!(out.status.code(), Some(0), "{template}: {}", stderr(&out));
        // No name in the file: reports use the file's name.
        assert!(stdout(&out).starts_with(&format!("ok: {path}:")), "{}", stdout(&out));

        // Played into the built-in receiver (no target anywhere): exit 0 means every event was
        // delivered and the receiver's checker saw no violation.
        let args: Vec<&str> = match template {
            "load" => vec!["load", path, "--duration", "2s", "--drain", "10s"],
            _ => vec!["run", path, "--asap"],
        };
        let out = pbxsim(&args);
        assert_eq!(out.status.code(), Some(0), "{template}: {}\n{}", stdout(&out), stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("built-in receiver") && text.contains("violations: 0"), "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn office_template_sends_all_twelve_event_types() {
    let out = pbxsim(&["new", "-", "--template", "office"]);
    let dir = tempdir("new-office-types");
    let file = dir.join("office.toml");
    std::fs::write(&file, &out.stdout).unwrap();
    let dry = pbxsim(&["run", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let mut types: Vec<String> = stdout(&dry)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 12, "{types:?}");
}

#[test]
fn callcentre_template_plays_its_traffic_under_load() {
    let dir = tempdir("new-callcentre-load");
    let file = dir.join("cc.toml");
    let out = pbxsim(&["new", file.to_str().unwrap(), "-t", "callcentre"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = pbxsim(&["load", file.to_str().unwrap(), "--duration", "2s", "--rate", "5/s"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("pass  p99 < 500ms") && text.contains("pass  error_rate"), "{text}");
    assert!(text.contains("violations: 0"), "{text}");
}

#[test]
fn new_never_overwrites_a_file() {
    let dir = tempdir("new-exists");
    let file = dir.join("mine.toml");
    std::fs::write(&file, "# my own work\n").unwrap();
    for template in TEMPLATES {
        let out = pbxsim(&["new", file.to_str().unwrap(), "--template", template]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("mine.toml already exists") && err.contains("overwrite"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# my own work\n");
    let missing = dir.join("no-such-dir").join("x.toml");
    let out = pbxsim(&["new", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("directory does not exist"), "{}", stderr(&out));
    let out = pbxsim(&["new", "x.toml", "--template", "hotel"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("callcentre"), "{}", stderr(&out));
}

/// The load template is the built-in mid-size PBX, key for key, and its [traffic] is the
/// built-in traffic at the rate `pbxsim load` runs it without a file.
#[test]
fn load_template_is_the_built_in_midsize_pbx() {
    let file = repo_file("templates/load.toml");
    let scenario = pbxsim::scenario::load(std::path::Path::new(&file)).expect("valid");
    let mut built_in = pbxsim::scenario::builtin_pbx::midsize();
    let mut from_file = scenario.pbx.clone();
    assert_eq!(from_file.users.len(), built_in.pbx.users.len());
    // A user's own recording settings matter only if the user records; the file gives them to
    // those who do.
    for (a, b) in from_file.users.iter_mut().zip(built_in.pbx.users.iter_mut()) {
        if !(a.record_inbound || a.record_outbound) {
            a.recording = b.recording.clone();
        }
    }
    let left = format!("{from_file:#?}");
    let right = format!("{:#?}", built_in.pbx);
    if left != right {
        let at = left.lines().zip(right.lines()).position(|(a, b)| a != b).unwrap_or(0);
        let lines = |s: &str| {
            s.lines().skip(at.saturating_sub(5)).take(10).map(str::to_string).collect::<Vec<_>>()
        };
        panic!("differs at line {at}:\nfile: {:#?}\nbuilt-in: {:#?}", lines(&left), lines(&right));
    }
    assert_eq!(scenario.webhook.events, built_in.webhook.events);
    assert_eq!(scenario.seed, built_in.seed);
    let mut traffic = pbxsim::scenario::builtin_pbx::midsize_traffic();
    traffic.rate = Some(format!("{}/s", pbxsim::engine::load_plan::BUILTIN_RATE));
    traffic.stages = None;
    assert_eq!(scenario.traffic, Some(traffic));
}
