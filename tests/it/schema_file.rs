//! The scenario schema as editors use it: `schema/scenario.schema.json` is what `pbxsim schema
//! scenario` prints, every key in it has a description, keyword-valued keys are `enum`s, every
//! shipped scenario and template names the file in a `#:schema` first line, the broken files in
//! `tests/broken-schema` fail with their expected messages, and `pbxsim new` writes a directive
//! only when it resolves.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{pbxsim_output, repo, tempdir, text};

const SCHEMA_FILE: &str = "schema/scenario.schema.json";
const REFRESH: &str = "cargo run -- schema scenario > schema/scenario.schema.json";

fn printed_schema() -> String {
    let out = pbxsim_output(&["schema", "scenario"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn schema() -> Value {
    serde_json::from_str(&printed_schema()).expect("the schema is JSON")
}

/// The `.toml` files of a directory of the repository, sorted.
fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Every scenario and template the repository ships.
fn shipped_files() -> Vec<PathBuf> {
    let files: Vec<PathBuf> =
        toml_files("scenarios").into_iter().chain(toml_files("templates")).collect();
    assert!(files.len() >= 20, "only {} shipped files", files.len());
    files
}

/// A TOML file as the JSON value an editor checks against the schema.
fn toml_as_json(file: &Path) -> Value {
    let source = std::fs::read_to_string(file).expect("read TOML file");
    let value: toml::Value = toml::from_str(&source).expect("valid TOML");
    serde_json::to_value(value).expect("TOML converts to JSON")
}

#[test]
fn the_schema_file_is_what_pbxsim_schema_scenario_prints() {
    let checked_in = std::fs::read_to_string(repo().join(SCHEMA_FILE))
        .unwrap_or_else(|e| panic!("{SCHEMA_FILE}: {e}; create it with: {REFRESH}"));
    assert!(
        checked_in == printed_schema(),
        "{SCHEMA_FILE} differs from `pbxsim schema scenario` (a doc comment or a type of a \
         scenario key changed); refresh with: {REFRESH}"
    );
}

/// A JSON pointer segment (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The pointers of every key (a property, or the entries of a map) without a description.
/// The properties of an `if` are conditions on a key described elsewhere, not keys.
fn undescribed(node: &Value, pointer: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                for (key, property) in properties {
                    if property.get("description").is_none() {
                        out.push(format!("{pointer}/properties/{}", escape(key)));
                    }
                }
            }
            if let Some(entries @ Value::Object(_)) = object.get("additionalProperties") {
                if entries.get("description").is_none() {
                    out.push(format!("{pointer}/additionalProperties"));
                }
            }
            for (key, child) in object {
                if key != "if" {
                    undescribed(child, &format!("{pointer}/{}", escape(key)), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                undescribed(item, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_key_in_the_schema_has_a_description() {
    let schema = schema();
    let mut missing = Vec::new();
    undescribed(&schema, "", &mut missing);
    assert!(
        missing.is_empty(),
        "keys without a description (add a doc comment to the field): {missing:#?}"
    );
    // The walk does see keys: the top level's and the nested tables'.
    let mut keys = 0;
    count_properties(&schema, &mut keys);
    assert!(keys > 100, "only {keys} keys found");
}

/// Every key name the schema has, anywhere (`properties` of any node).
fn key_names(node: &Value, out: &mut std::collections::BTreeSet<String>) {
    match node {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                out.extend(properties.keys().cloned());
            }
            object.values().for_each(|child| key_names(child, out));
        }
        Value::Array(items) => items.iter().for_each(|child| key_names(child, out)),
        _ => {}
    }
}

/// The scenario reference, docs/scenario-format.md, names every key of the schema: as
/// `` `key` ``, as `key = …` in an example (inline tables too), or as a table `[key]` /
/// `[[key]]`.
#[test]
fn the_scenario_reference_names_every_key_of_the_schema() {
    let doc = std::fs::read_to_string(repo().join("docs/scenario-format.md")).unwrap();
    let mut keys = std::collections::BTreeSet::new();
    key_names(&schema(), &mut keys);
    assert!(keys.len() > 60, "only {} key names found", keys.len());
    let named = |key: &str| {
        doc.contains(&format!("`{key}`"))
            || doc.contains(&format!("[{key}]"))
            || doc.contains(&format!("[{key}."))
            || doc.contains(&format!("{{ {key} ="))
            || doc.contains(&format!(", {key} ="))
            || doc.lines().any(|l| l.trim_start().starts_with(&format!("{key} =")))
    };
    let missing: Vec<&String> = keys.iter().filter(|k| !named(k)).collect();
    assert!(
        missing.is_empty(),
        "docs/scenario-format.md does not document these keys of the schema: {missing:?}"
    );
}

fn count_properties(node: &Value, n: &mut usize) {
    match node {
        Value::Object(object) => {
            if let Some(Value::Object(properties)) = object.get("properties") {
                *n += properties.len();
            }
            object.values().for_each(|child| count_properties(child, n));
        }
        Value::Array(items) => items.iter().for_each(|child| count_properties(child, n)),
        _ => {}
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string"))
        .collect()
}

fn at<'a>(schema: &'a Value, pointer: &str) -> &'a Value {
    schema.pointer(pointer).unwrap_or_else(|| panic!("no {pointer} in the schema"))
}

#[test]
fn keyword_keys_are_enums() {
    use pbxsim::event::{DurationStyle, EventType, NullStyle, NumberStyle};
    use pbxsim::pbx::{Strategy, UnansweredCompletion};
    use pbxsim::scenario::chaos::RecordingLink;

    let schema = schema();
    let strategies: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
    let event_types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("/$defs/QueueFile/properties/strategy/enum", strategies.clone()),
        ("/$defs/QueueFile/properties/wrapup_blocks/enum", vec!["queue", "all"]),
        ("/$defs/RingGroupFile/properties/mode/enum", vec!["simultaneous", "sequential"]),
        ("/$defs/RecordingFile/properties/mode/enum", vec!["email", "storage"]),
        ("/$defs/CallFile/properties/direction/enum", vec!["inbound", "outbound"]),
        ("/$defs/CallFile/properties/answered_by/anyOf/0/enum", vec!["any", "none"]),
        ("/$defs/Step/anyOf/0/enum", vec!["record", "hangup"]),
        ("/$defs/WebhookFile/properties/events/items/enum", event_types.clone()),
        ("/$defs/WebhookFile/properties/routes/propertyNames/enum", event_types),
        ("/$defs/TrafficSpec/properties/arrivals/enum", vec!["poisson", "uniform"]),
        (
            "/$defs/DistributionSpec/properties/dist/enum",
            vec!["fixed", "uniform", "exponential", "lognormal"],
        ),
        ("/properties/nulls/enum", NullStyle::NAMES.to_vec()),
        ("/properties/unanswered_completion/enum", UnansweredCompletion::NAMES.to_vec()),
        ("/$defs/ChaosFile/properties/numbers/enum", NumberStyle::NAMES.to_vec()),
        ("/$defs/ChaosFile/properties/nulls/enum", NullStyle::NAMES.to_vec()),
        ("/$defs/ChaosFile/properties/durations/enum", DurationStyle::NAMES.to_vec()),
        ("/$defs/ChaosFile/properties/recording_link/enum", RecordingLink::NAMES.to_vec()),
    ];
    for (pointer, expected) in cases {
        assert_eq!(strings(at(&schema, pointer)), expected, "{pointer}");
    }
    // The strategy's keywords carry their meanings for completion.
    let docs = at(&schema, "/$defs/QueueFile/properties/strategy/x-taplo/docs/enumValues");
    assert_eq!(docs.as_array().map(Vec::len), Some(strategies.len()));
    assert!(docs[2].as_str().unwrap().contains("after the member who rang last"), "{docs}");
}

/// No `null` (TOML has none) and no `oneOf` of bare constants (an `enum` in disguise, which
/// an editor reports as an unmatched `oneOf`).
fn json_only(node: &Value, pointer: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(object) => {
            let null_type = match object.get("type") {
                Some(Value::String(t)) => t == "null",
                Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
                _ => false,
            };
            if null_type {
                out.push(format!("{pointer}: a null type"));
            }
            if let Some(Value::Array(alternatives)) = object.get("oneOf") {
                if alternatives.iter().all(|a| a.get("const").is_some()) {
                    out.push(format!("{pointer}: a oneOf of constants"));
                }
            }
            for (key, child) in object {
                json_only(child, &format!("{pointer}/{}", escape(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                json_only(item, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_schema_has_no_nulls_and_no_constant_one_ofs() {
    let mut found = Vec::new();
    json_only(&schema(), "", &mut found);
    assert!(found.is_empty(), "{found:#?}");
}

/// The file a `#:schema PATH` first line names, resolved as Taplo does (from the file's
/// directory).
fn directive_target(file: &Path) -> PathBuf {
    let source = std::fs::read_to_string(file).expect("read file");
    let first = source.lines().next().unwrap_or_default();
    let path = first.strip_prefix("#:schema ").unwrap_or_else(|| {
        panic!("{}: the first line must be `#:schema PATH`, found {first:?}", file.display())
    });
    file.parent().expect("a directory").join(path.trim())
}

#[test]
fn every_shipped_scenario_and_template_names_the_schema_file_first() {
    let schema = repo().join(SCHEMA_FILE).canonicalize().expect("the schema file exists");
    let broken = toml_files("tests/broken-schema");
    for file in shipped_files().iter().chain(&broken) {
        let target = directive_target(file);
        let target = target.canonicalize().unwrap_or_else(|e| {
            panic!("{}: #:schema names {}: {e}", file.display(), target.display())
        });
        assert_eq!(target, schema, "{}", file.display());
    }
}

#[test]
fn every_shipped_scenario_and_template_matches_the_schema() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for file in shipped_files() {
        let errors: Vec<String> =
            validator.iter_errors(&toml_as_json(&file)).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

/// The message an editor shows for a broken file, from its second line: `# expect: MESSAGE`
/// (as Taplo words it; `.ci/run` checks Taplo prints it).
fn expected_message(file: &Path) -> String {
    let source = std::fs::read_to_string(file).expect("read broken file");
    let second = source.lines().nth(1).unwrap_or_default();
    second
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: line 2 must be `# expect: MESSAGE`", file.display()))
        .to_string()
}

/// An error as Taplo words it: its validator lists an enum's options as a JSON array.
fn taplo_style(error: &jsonschema::ValidationError) -> String {
    match &error.kind {
        jsonschema::error::ValidationErrorKind::Enum { options } => {
            format!("{} is not one of {options}", error.instance)
        }
        jsonschema::error::ValidationErrorKind::PropertyNames { error } => taplo_style(error),
        _ => error.to_string(),
    }
}

#[test]
fn broken_files_fail_the_schema_with_their_messages_and_pbxsim_too() {
    let schema = schema();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let files = toml_files("tests/broken-schema");
    assert!(files.len() >= 5, "only {} broken files", files.len());
    for file in &files {
        let expected = expected_message(file);
        let errors: Vec<String> =
            validator.iter_errors(&toml_as_json(file)).map(|e| taplo_style(&e)).collect();
        assert!(
            errors.iter().any(|e| e.contains(&expected)),
            "{}: expected {expected:?}, got {errors:#?}",
            file.display()
        );
        let out = pbxsim_output(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}: {}", file.display(), text(&out.stderr));
    }
}

/// `pbxsim new FILE` in `dir`: the file written and what was printed.
fn new_in(dir: &Path, name: &str) -> (String, String) {
    let file = dir.join(name);
    let out = pbxsim_output(&["new", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (std::fs::read_to_string(&file).unwrap(), text(&out.stderr))
}

#[test]
fn new_writes_a_schema_directive_only_when_it_resolves() {
    let template = std::fs::read_to_string(repo().join("templates/office.toml")).unwrap();
    let body = template.split_once('\n').unwrap().1;
    let schema = std::fs::read_to_string(repo().join(SCHEMA_FILE)).unwrap();

    // A project laid out like this repository: the template as shipped, directive and all.
    let project = tempdir("new-schema-project");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::create_dir_all(project.join("schema")).unwrap();
    std::fs::create_dir_all(project.join("scenarios")).unwrap();
    std::fs::write(project.join(SCHEMA_FILE), &schema).unwrap();
    let (written, said) = new_in(&project.join("scenarios"), "mine.toml");
    assert_eq!(written, template);
    assert!(said.contains("../schema/scenario.schema.json"), "{said}");
    let file = project.join("scenarios/mine.toml");
    assert_eq!(directive_target(&file).canonicalize().unwrap(), project.join(SCHEMA_FILE));

    // A schema beside the file.
    let beside = tempdir("new-schema-beside");
    std::fs::write(beside.join("scenario.schema.json"), &schema).unwrap();
    let (written, _) = new_in(&beside, "mine.toml");
    assert_eq!(written, format!("#:schema ./scenario.schema.json\n{body}"));

    // No schema, or a file of that name that is not pbxsim's: no directive, and the way to
    // add one.
    let none = tempdir("new-schema-none");
    let other = tempdir("new-schema-other");
    std::fs::write(other.join("scenario.schema.json"), r#"{"title": "something else"}"#).unwrap();
    for dir in [none, other] {
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        let (written, said) = new_in(&dir, "mine.toml");
        assert_eq!(written, body, "{}", dir.display());
        assert!(said.contains("pbxsim schema scenario > "), "{said}");
        assert!(said.contains("#:schema ./scenario.schema.json"), "{said}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Printed on stdout, a template has no file to point from.
    let out = pbxsim_output(&["new", "-"]);
    assert_eq!(text(&out.stdout), body);
    let _ = std::fs::remove_dir_all(&project);
    let _ = std::fs::remove_dir_all(&beside);
}
