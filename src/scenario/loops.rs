//! Call flows that never end: failover chains that lead a call back to where it already was.
//!
//! A queue that times out goes to its step's `on_timeout`, else the queue's `failover`; a ring
//! group nobody answers goes to `on_no_answer`, else the group's `no_answer`. That next step
//! may be another queue or ring group, with its own next step, and so on: a chain. The chain a
//! step starts is fixed by the step as written (a table step's options included), so it either
//! ends (a voicemail, a hang-up, a user, a webhook, or no next step: back to the number's flow,
//! which only moves forward) or comes back to a step it already took, and then a call that
//! nobody answers goes round for ever. [`find`] reports each such loop once, at the step that
//! closes it. A queue visited again through a *different* step (a table with its own
//! `on_timeout`) is a bounded retry, not a loop.

use std::ops::Range;

use super::file::{ScenarioFile, Sp, StepFile};
use crate::diagnostic::Diagnostic;
use crate::pbx::{Pbx, Step};

/// How a step passes an unanswered call on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Failover,
    NoAnswer,
    OnTimeout,
    OnNoAnswer,
}

impl Key {
    fn as_str(self) -> &'static str {
        match self {
            Key::Failover => "failover",
            Key::NoAnswer => "no_answer",
            Key::OnTimeout => "on_timeout",
            Key::OnNoAnswer => "on_no_answer",
        }
    }
}

/// A step of a chain and where it is written (`None`: the queue or ring group itself, as a
/// starting point).
#[derive(Clone)]
struct Node<'f> {
    step: Step,
    written: Option<&'f Sp<StepFile>>,
}

/// The step an unanswered call goes to after `node`, with where it is written and the key that
/// sends it there. `None`: the chain ends.
fn next<'f>(
    file: &'f ScenarioFile,
    pbx: &Pbx,
    node: &Node<'f>,
) -> Option<(Node<'f>, Key, &'f Sp<StepFile>)> {
    let table = match node.written.map(Sp::get) {
        Some(StepFile::Table(t)) => Some(t),
        _ => None,
    };
    let (step, written, key) = match &node.step {
        Step::Queue { on_timeout: Some(o), .. } => {
            ((**o).clone(), table?.on_timeout.as_ref()?, Key::OnTimeout)
        }
        Step::Queue { queue, on_timeout: None } => (
            pbx.queues[*queue].failover.as_deref()?.clone(),
            file.queues[*queue].get().failover.as_ref()?,
            Key::Failover,
        ),
        Step::RingGroup { on_no_answer: Some(o), .. } => {
            ((**o).clone(), table?.on_no_answer.as_ref()?, Key::OnNoAnswer)
        }
        Step::RingGroup { group, on_no_answer: None } => (
            pbx.ring_groups[*group].no_answer.as_deref()?.clone(),
            file.ring_groups[*group].get().no_answer.as_ref()?,
            Key::NoAnswer,
        ),
        _ => return None,
    };
    Some((Node { step, written: Some(written) }, key, written))
}

/// "queue `Support`", "ring group `Sales`".
fn describe(pbx: &Pbx, step: &Step) -> String {
    match step {
        Step::Queue { queue, .. } => format!("queue `{}`", pbx.queues[*queue].name),
        Step::RingGroup { group, .. } => format!("ring group `{}`", pbx.ring_groups[*group].name),
        other => format!("{other:?}"),
    }
}

/// One loop found: its steps in chain order, and for each the key and place that sends the
/// call on to the next (the last one closes the loop).
struct Loop {
    steps: Vec<Step>,
    edges: Vec<(Key, Range<usize>)>,
}

/// The loops of a resolved PBX. `file` must be the file `pbx` was resolved from without errors
/// in its objects and flows, so that the two correspond step by step. Loops are reported once
/// each, in the order their first step appears in the file; `source` is the text shown.
pub(super) fn find(
    file: &ScenarioFile,
    pbx: &Pbx,
    file_name: &str,
    source: &str,
) -> Vec<Diagnostic> {
    // Every place a chain can start: each queue and ring group, and each step of each flow.
    let mut starts: Vec<(usize, Node)> = Vec::new();
    for (q, sp) in file.queues.iter().enumerate() {
        let step = Step::Queue { queue: q, on_timeout: None };
        starts.push((sp.span().start, Node { step, written: None }));
    }
    for (g, sp) in file.ring_groups.iter().enumerate() {
        let step = Step::RingGroup { group: g, on_no_answer: None };
        starts.push((sp.span().start, Node { step, written: None }));
    }
    for (n, number) in file.numbers.iter().enumerate() {
        for (written, step) in number.get().flow.get().iter().zip(&pbx.numbers[n].flow) {
            starts
                .push((written.span().start, Node { step: step.clone(), written: Some(written) }));
        }
    }
    starts.sort_by_key(|(at, _)| *at);

    let mut loops: Vec<Loop> = Vec::new();
    for (_, start) in starts {
        let mut path: Vec<Node> = vec![start];
        let mut edges: Vec<(Key, Range<usize>)> = Vec::new();
        // Each step of a chain is a distinct written step, so the chain is never longer than
        // the file has steps; the bound only guards against a mistake here.
        while path.len() <= 100_000 {
            let Some((node, key, written)) = next(file, pbx, path.last().expect("not empty"))
            else {
                break;
            };
            edges.push((key, written.span()));
            if let Some(i) = path.iter().position(|p| p.step == node.step) {
                // Chains are functional: two loops sharing a step are the same loop.
                if !loops.iter().any(|l| l.steps.contains(&node.step)) {
                    let steps = path[i..].iter().map(|p| p.step.clone()).collect();
                    loops.push(Loop { steps, edges: edges[i..].to_vec() });
                }
                break;
            }
            path.push(node);
        }
    }
    loops.iter().map(|l| diagnostic(l, pbx, file_name, source)).collect()
}

fn diagnostic(l: &Loop, pbx: &Pbx, file_name: &str, source: &str) -> Diagnostic {
    let names: Vec<String> = l.steps.iter().map(|s| describe(pbx, s)).collect();
    let first = &names[0];
    let (closing_key, closing_span) = l.edges.last().expect("a loop has an edge").clone();
    let message = if names.len() == 1 {
        format!(
            "a call nobody answers never ends: {first} sends it back to itself ({})",
            closing_key.as_str()
        )
    } else {
        format!(
            "a call nobody answers never ends: it goes round {} → {first} for ever",
            names.join(" → ")
        )
    };
    let ending = match pbx.voicemail.first() {
        Some(vm) => format!("\"voicemail:{}\"", vm.name),
        None => "\"hangup\"".to_string(),
    };
    let retry = match &l.steps[0] {
        Step::Queue { queue, .. } => {
            format!("{{ queue = \"{}\", on_timeout = {ending} }}", pbx.queues[*queue].name)
        }
        Step::RingGroup { group, .. } => format!(
            "{{ ring_group = \"{}\", on_no_answer = {ending} }}",
            pbx.ring_groups[*group].name
        ),
        _ => ending.clone(),
    };
    let help = format!(
        "end the chain with a step that ends the call, e.g. {} = {ending}; to retry {first} \
         a set number of times, give the last retry its own next step, like {retry}",
        closing_key.as_str()
    );
    let mut d = Diagnostic::at(file_name, source, closing_span, message)
        .with_help(help)
        .with_label(format!("back to {first}: the loop closes here"));
    for (k, (key, span)) in l.edges.iter().enumerate().take(l.edges.len() - 1) {
        let text = format!("{} {} → {}", names[k], key.as_str(), names[k + 1]);
        d = d.with_secondary(span.clone(), text);
    }
    d
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    const PBX: &str = r#"
[[users]]
name = "Alice"
extension = "1010"

[[voicemail]]
name = "VM"
"#;

    fn check(rest: &str) -> Result<(), String> {
        let source = format!("{PBX}\n{rest}");
        match parse(&source, "loops.toml") {
            Ok(_) => Ok(()),
            Err(d) => Err(format!(
                "{} @ {:?} | {}",
                d.message(),
                d.line_column(),
                d.related_diagnostics().len()
            )),
        }
    }

    #[test]
    fn a_queue_failing_over_to_itself_is_a_loop() {
        let e = check("[[queues]]\nname = \"Q\"\nmembers = [\"1010\"]\nfailover = \"queue:Q\"\n")
            .unwrap_err();
        assert!(e.contains("queue `Q` sends it back to itself (failover)"), "{e}");
        assert!(e.contains("@ Some((12, 12))"), "{e}");
    }

    #[test]
    fn a_queue_and_a_ring_group_pointing_at_each_other_are_one_loop() {
        let e = check(
            "[[queues]]\nname = \"Q\"\nmembers = [\"1010\"]\nfailover = \"ring_group:G\"\n\
             [[ring_groups]]\nname = \"G\"\nmembers = [\"1010\"]\nno_answer = \"queue:Q\"\n\
             [[numbers]]\nnumber = \"61300000000\"\nflow = [\"queue:Q\", \"ring_group:G\"]\n",
        )
        .unwrap_err();
        assert!(e.contains("queue `Q` → ring group `G` → queue `Q`"), "{e}");
        // Reported once, at the ring group's no_answer (the queue comes first in the file).
        assert!(e.contains("@ Some((16, 13)) | 0"), "{e}");
    }

    #[test]
    fn a_flow_table_step_can_close_a_loop() {
        let e = check(
            "[[queues]]\nname = \"Q\"\nmembers = [\"1010\"]\n\
             [[ring_groups]]\nname = \"G\"\nmembers = [\"1010\"]\n\
             no_answer = { queue = \"Q\", on_timeout = \"ring_group:G\" }\n",
        )
        .unwrap_err();
        assert!(e.contains("ring group `G` → queue `Q` → ring group `G`"), "{e}");
    }

    #[test]
    fn bounded_revisits_are_not_loops() {
        // The same queue twice in a flow; a retry through a table that then ends; a ring group
        // that tries the queue once more and then voicemail.
        check(
            "[[queues]]\nname = \"Q\"\nmembers = [\"1010\"]\n\
             failover = { queue = \"Q\", on_timeout = \"voicemail:VM\" }\n\
             [[ring_groups]]\nname = \"G\"\nmembers = [\"1010\"]\nno_answer = \"queue:Q\"\n\
             [[numbers]]\nnumber = \"61300000000\"\n\
             flow = [\"queue:Q\", \"queue:Q\", { ring_group = \"G\", on_no_answer = \"queue:Q\" }, \"ring_group:G\"]\n",
        )
        .unwrap();
    }

    #[test]
    fn separate_loops_are_each_reported() {
        let e = check(
            "[[queues]]\nname = \"A\"\nmembers = [\"1010\"]\nfailover = \"queue:A\"\n\
             [[queues]]\nname = \"B\"\nmembers = [\"1010\"]\nfailover = \"queue:B\"\n\
             [[numbers]]\nnumber = \"61300000000\"\nflow = [\"queue:A\", \"queue:B\"]\n",
        )
        .unwrap_err();
        assert!(e.ends_with("| 1"), "{e}");
    }
}
