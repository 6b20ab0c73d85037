//! The README and `docs/*.md` hold together: every relative link names a file or directory of
//! the repository, every `#anchor` into a Markdown file matches one of its headings (GitHub's
//! anchors), and every `pbxsim COMMAND --flag` they show, in a code block or inline code, names
//! a command and flags that `pbxsim COMMAND --help` lists. And the README's first commands are
//! the two a fresh machine needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::{pbxsim_output, repo, text};

/// README.md and every docs/*.md, as (path relative to the repository, contents).
fn documents() -> Vec<(PathBuf, String)> {
    let mut paths = vec![PathBuf::from("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("a docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(repo()).expect("inside the repository").to_path_buf())
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let body = std::fs::read_to_string(repo().join(&p)).expect("a readable document");
            (p, body)
        })
        .collect()
}

/// The lines of `md` outside fenced code blocks, with their line numbers (from 1).
fn prose(md: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut out = Vec::new();
    for (i, line) in md.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-` and
/// `_` dropped; a repeated anchor gets `-1`, `-2`, ….
fn anchors(md: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for (_, line) in prose(md) {
        let Some(rest) = line.strip_prefix('#') else { continue };
        let heading = rest.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let slug: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .collect();
        let n = seen.entry(slug.clone()).or_insert(0);
        out.insert(if *n == 0 { slug.clone() } else { format!("{slug}-{n}") });
        *n += 1;
    }
    out
}

#[test]
fn anchors_follow_github() {
    let md = "# pbxsim\n## Use it three ways\n### Test your receiver from `cargo test`\n\
              ## Inspector (`--ui`)\n## One-off events (`trigger`)\n## Notes\n## Notes\n\
              ```\n# not a heading\n```\n#not-a-heading-either\n";
    let want = [
        "pbxsim",
        "use-it-three-ways",
        "test-your-receiver-from-cargo-test",
        "inspector---ui",
        "one-off-events-trigger",
        "notes",
        "notes-1",
    ];
    assert_eq!(anchors(md), want.iter().map(|s| s.to_string()).collect());
}

/// Every `[text](target)` link target in the prose of `md`, with its line.
fn links(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose(md) {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push((n, after[..end].to_string()));
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let docs = documents();
    let anchors_of: BTreeMap<PathBuf, BTreeSet<String>> =
        docs.iter().map(|(p, md)| (p.clone(), anchors(md))).collect();
    let mut broken = Vec::new();
    let mut checked = 0;
    for (path, md) in &docs {
        let dir = path.parent().unwrap_or(Path::new(""));
        for (line, target) in links(md) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let linked = if file.is_empty() { path.clone() } else { normalize(&dir.join(file)) };
            let at = format!("{}:{line}: ({target})", path.display());
            if !repo().join(&linked).exists() {
                broken.push(format!("{at}: no file {}", linked.display()));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            let known = match anchors_of.get(&linked) {
                Some(known) => known.clone(),
                None if linked.extension().is_some_and(|e| e == "md") => {
                    anchors(&std::fs::read_to_string(repo().join(&linked)).unwrap())
                }
                None => {
                    broken.push(format!("{at}: an anchor into a file that is not Markdown"));
                    continue;
                }
            };
            if !known.contains(anchor) {
                broken.push(format!(
                    "{at}: {} has no heading #{anchor}; it has: {known:?}",
                    linked.display()
                ));
            }
        }
    }
    assert!(checked > 50, "only {checked} links found: is the parser right?");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// `a/../b/./c` as `b/c`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every `pbxsim …` command shown in `md`: lines of fenced code blocks other than TOML, JSON
/// and Rust (continuation lines joined, `#` comments and a `$ ` prompt cut), and inline code
/// spans that start with `pbxsim ` (read per paragraph, since a span may wrap). Each comes with
/// its line (for a span, its paragraph's first line).
fn commands(md: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut pending = String::new();
    let mut paragraph: Vec<(usize, &str)> = Vec::new();
    let spans = |paragraph: &mut Vec<(usize, &str)>, out: &mut Vec<(usize, String)>| {
        if let Some(&(first, _)) = paragraph.first() {
            let joined: Vec<&str> = paragraph.iter().map(|(_, l)| *l).collect();
            let joined = joined.join(" ");
            for (k, span) in joined.split('`').enumerate() {
                if k % 2 == 1 && span.starts_with("pbxsim ") {
                    out.push((first, span.replace("\\|", "|")));
                }
            }
        }
        paragraph.clear();
    };
    for (i, line) in md.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        if let Some(lang) = trimmed.strip_prefix("```") {
            spans(&mut paragraph, &mut out);
            fence = match fence {
                Some(_) => None,
                None => Some(lang.to_string()),
            };
            continue;
        }
        match &fence {
            Some(lang) if ["toml", "json", "rust"].contains(&lang.as_str()) => {}
            Some(_) => {
                let code = match trimmed.find(" #") {
                    Some(i) => &trimmed[..i],
                    None => trimmed,
                };
                let code = code.strip_prefix("$ ").unwrap_or(code);
                if let Some(start) = code.strip_suffix('\\') {
                    pending.push_str(start);
                    pending.push(' ');
                    continue;
                }
                out.push((n, format!("{pending}{code}")));
                pending.clear();
            }
            // A table row is a paragraph of its own.
            None if trimmed.is_empty() || trimmed.starts_with('|') => {
                spans(&mut paragraph, &mut out);
                paragraph.push((n, line));
                spans(&mut paragraph, &mut out);
            }
            None => paragraph.push((n, line)),
        }
    }
    spans(&mut paragraph, &mut out);
    out
}

/// Commands whose first argument is a subcommand of their own (`pbxsim report merge`).
const GROUPS: [&str; 1] = ["report"];

/// The pbxsim invocations in a shell line: (subcommand, `report merge` for a group's, or ""
/// for none; flags).
fn invocations(line: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for segment in line.split("&&").flat_map(|s| s.split(" | ")).flat_map(|s| s.split(';')) {
        let mut words = segment.split_whitespace().skip_while(|w| {
            w.split_once('=').is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            })
        });
        if words.next() != Some("pbxsim") {
            continue;
        }
        let mut command = String::new();
        let mut flags = Vec::new();
        for (k, word) in words.enumerate() {
            if word.starts_with('>') || word.starts_with('<') || word.starts_with("2>") {
                break;
            }
            let word = word.trim_matches(|c| c == '[' || c == ']');
            if k == 0 && !word.starts_with('-') {
                command = word.to_string();
                continue;
            }
            if k == 1 && GROUPS.contains(&command.as_str()) && !word.starts_with('-') {
                command = format!("{command} {word}");
                continue;
            }
            if word.len() > 1 && word.starts_with('-') && word != "--" {
                let flag = word.split('=').next().unwrap_or(word);
                flags.push(flag.to_string());
            }
        }
        out.push((command, flags));
    }
    out
}

#[test]
fn invocations_are_read_like_a_shell() {
    assert_eq!(
        invocations("PBX_TOKEN=x pbxsim run f.toml --asap -v --chaos=a=1 > out.json --nope"),
        vec![("run".to_string(), vec!["--asap".into(), "-v".into(), "--chaos".into()])]
    );
    assert_eq!(
        invocations("mkdir -p d && pbxsim man --dir d && man pbxsim"),
        vec![("man".to_string(), vec!["--dir".to_string()])]
    );
    assert_eq!(invocations("pbxsim --version"), vec![(String::new(), vec!["--version".into()])]);
    assert_eq!(
        invocations("pbxsim new FILE [--template office|callcentre|load]"),
        vec![("new".to_string(), vec!["--template".to_string()])]
    );
    assert_eq!(
        invocations("pbxsim report merge a.json b.json -o total.json"),
        vec![("report merge".to_string(), vec!["-o".to_string()])]
    );
}

/// Whether `help` lists `flag` (`--port` as `--port <PORT>`, `-p` as `-p, --port`).
fn lists(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before = help[..i].chars().next_back();
        let after = help[i + flag.len()..].chars().next();
        matches!(before, Some(' ' | '\n' | '['))
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn every_command_and_flag_shown_exists() {
    let mut helps: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut help_of = |command: &str| -> Option<String> {
        helps
            .entry(command.to_string())
            .or_insert_with(|| {
                let out = if command.is_empty() {
                    pbxsim_output(&["--help"])
                } else {
                    let mut args: Vec<&str> = command.split(' ').collect();
                    args.push("--help");
                    pbxsim_output(&args)
                };
                out.status.success().then(|| text(&out.stdout))
            })
            .clone()
    };
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, md) in documents() {
        for (line, shown) in commands(&md) {
            for (command, flags) in invocations(&shown) {
                let at = format!("{}:{line}: `{shown}`", path.display());
                // `pbxsim … | head -1` and the like stand for any command.
                if !command.is_empty() && !command.starts_with(|c: char| c.is_ascii_lowercase()) {
                    continue;
                }
                let Some(help) = help_of(&command) else {
                    wrong.push(format!("{at}: there is no command `pbxsim {command}`"));
                    continue;
                };
                for flag in flags {
                    checked += 1;
                    if !lists(&help, &flag) {
                        wrong.push(format!("{at}: `pbxsim {command} --help` has no {flag}"));
                    }
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} flags found: is the parser right?");
    assert!(wrong.is_empty(), "commands that do not exist:\n{}", wrong.join("\n"));
}

#[test]
fn the_readme_starts_with_the_two_commands_of_a_fresh_machine() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let first = readme.split("```").nth(1).expect("a code block");
    assert_eq!(first.trim(), "cargo run --release -- run scenarios/quickstart.toml\ncargo test");
    assert!(repo().join("scenarios/quickstart.toml").is_file());
    // The scenario it plays is valid (tests/it/run.rs and others play it).
    let out = pbxsim_output(&["validate", "scenarios/quickstart.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
