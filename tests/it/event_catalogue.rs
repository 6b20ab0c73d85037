//! docs/events.md, the event catalogue: it is what `pbxsim docs events` prints (so it cannot
//! drift from src/event.rs), and what it says holds for the payloads pbxsim sends; the README's
//! table of the 12 types is the catalogue's index.

use pbxsim::event::{Event, EventType, REFRESH_COMMAND};

use crate::support::{pbxsim_output, repo};

fn docs_events() -> String {
    let out = pbxsim_output(&["docs", "events"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn docs_events_md_is_what_docs_events_prints() {
    let generated = docs_events();
    assert_eq!(generated, pbxsim::event::catalogue_markdown(), "the command prints the library's");
    let checked_in =
        std::fs::read_to_string(repo().join("docs/events.md")).expect("docs/events.md exists");
    if checked_in != generated {
        let (line, (want, got)) = generated
            .lines()
            .chain(std::iter::repeat(""))
            .zip(checked_in.lines().chain(std::iter::repeat("")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, pair)| (i + 1, pair))
            .unwrap_or((0, ("", "")));
        panic!(
            "docs/events.md is out of date with src/event.rs; refresh it with\n    \
             {REFRESH_COMMAND}\nand commit it. First difference at docs/events.md:{line}:\n  \
             generated:  {want:?}\n  checked in: {got:?}"
        );
    }
}

/// The sample bodies in the ```json blocks, in order.
fn json_blocks(md: &str) -> Vec<serde_json::Value> {
    md.split("```json\n")
        .skip(1)
        .map(|rest| {
            let block = &rest[..rest.find("\n```").expect("a closed block")];
            serde_json::from_str(block).expect("a JSON block")
        })
        .collect()
}

#[test]
fn the_catalogue_covers_every_type_with_a_valid_sample_and_every_field() {
    let md = docs_events();
    let schema = pbxsim::event::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let bodies = json_blocks(&md);
    assert_eq!(bodies.len(), EventType::ALL.len());
    let sections: Vec<&str> = md.split("\n## ").skip(1).collect();
    assert_eq!(sections.len(), EventType::ALL.len());
    for ((ty, body), section) in EventType::ALL.into_iter().zip(bodies).zip(sections) {
        assert!(section.starts_with(&format!("`{ty}`\n")), "{ty}: {section}");
        assert!(md.contains(&format!("| [`{ty}`](#{ty}) | ")), "{ty} in the index");
        assert!(validator.is_valid(&body), "{ty}: {body}");
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let event: Event = serde_json::from_value(body.clone()).expect("a payload");
        assert_eq!(event.event_type(), ty);
        // The table's rows are the sample's keys, in the same order.
        let rows: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert_eq!(rows, keys, "{ty}: table rows vs sample keys");
        for f in ty.fields() {
            assert!(section.contains(f.meaning), "{ty}.{}: its meaning is in the table", f.name);
        }
    }
    // What the README and the vendor document say about particular fields.
    let queue = md.split("\n## `queue_call`").nth(1).unwrap();
    assert!(
        queue.contains("| `status` | string: `answered` \\| `abandoned` \\| `timedout` | no |")
    );
    assert!(queue.contains("| `connected_at` | string | yes |"));
    assert!(queue.contains("| `call_duration` | integer | no |"));
    let component = md.split("\n## `webhook_component_event`").nth(1).unwrap();
    assert!(component.contains("to the object's own URL"), "{component}");
    assert!(component.contains("| `user_name` | string | yes | The caller's name (CNAM)"));
}

/// The README's table of the 12 types: each row links to the type's section of
/// docs/events.md and says when it fires, in the words of the code (`when_it_fires`).
fn readme_table() -> String {
    let mut table = String::from("| type | when it fires |\n|---|---|\n");
    for ty in EventType::ALL {
        let when = pbxsim::event::when_it_fires(ty);
        table.push_str(&format!("| [`{ty}`](docs/events.md#{ty}) | {when} |\n"));
    }
    table
}

#[test]
fn the_readme_event_table_is_the_catalogue_index() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md exists");
    let table = readme_table();
    assert!(
        readme.contains(&table),
        "README.md's event table is out of date with src/event.rs; under \"## Event catalogue\" \
         it should read:\n\n{table}"
    );
    // Each row is the catalogue's own index row with the link made relative to the README.
    let catalogue = pbxsim::event::catalogue_markdown();
    for ty in EventType::ALL {
        let row = format!("| [`{ty}`](#{ty}) | {} |", pbxsim::event::when_it_fires(ty));
        assert!(catalogue.contains(&row), "{ty}: {row}");
    }
}

#[test]
fn docs_is_listed_in_help_and_refuses_unknown_documents() {
    let help = pbxsim_output(&["--help"]);
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.lines().any(|l| l.trim_start().starts_with("docs ")), "{help}");
    let out = pbxsim_output(&["docs", "scenario"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("events"));
    assert!(out.stdout.is_empty());
}
