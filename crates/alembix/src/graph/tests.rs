//! Graph, resolver and planner tests: hand-written cases for each rule, and property tests over random DAGs.

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;
use crate::script::parse;

/// Build a graph from `(id, "parent1,parent2", "dep1", "label")` tuples.
pub(crate) fn graph_of(spec: &[(&str, &str, &str, &str)]) -> Result<RevisionGraph, GraphError> {
    let scripts = spec
        .iter()
        .enumerate()
        .map(|(i, (id, parents, deps, label))| {
            let text = format!(
                "-- rev {id}\n-- Revision ID: {id}\n-- Revises: {parents}\n-- Depends On: {deps}\n\
                 -- Branch Labels: {label}\n-- Create Date: 2026-01-01 00:00:{i:02}\n-- migrate:up\n-- migrate:down\n"
            );
            parse(&PathBuf::from(format!("m/{id}.sql")), text).expect("test script parses")
        })
        .collect();
    RevisionGraph::new(scripts)
}

fn g(spec: &[(&str, &str)]) -> RevisionGraph {
    graph_of(
        &spec
            .iter()
            .map(|(a, b)| (*a, *b, "", ""))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

fn ids(graph: &RevisionGraph, revs: &[Rev]) -> Vec<String> {
    graph.ids(revs)
}

fn revs(graph: &RevisionGraph, names: &[&str]) -> Vec<Rev> {
    names.iter().map(|n| graph.get(n).unwrap()).collect()
}

fn steps(graph: &RevisionGraph, plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|s| graph.id(s.revision).to_string())
        .collect()
}

/// a0 - a1 - a2 (linear)
fn linear() -> RevisionGraph {
    g(&[("a0", ""), ("a1", "a0"), ("a2", "a1")])
}

/// r - x1 - x2 \
///   \ y1 ------ m - n
fn branched() -> RevisionGraph {
    g(&[
        ("r", ""),
        ("x1", "r"),
        ("x2", "x1"),
        ("y1", "r"),
        ("m", "x2,y1"),
        ("n", "m"),
    ])
}

#[test]
fn heads_bases_branch_and_merge_points() {
    let graph = g(&[("r", ""), ("x1", "r"), ("y1", "r")]);
    assert_eq!(ids(&graph, graph.heads()), ["x1", "y1"]);
    assert_eq!(ids(&graph, graph.bases()), ["r"]);
    assert!(graph.is_branch_point(graph.get("r").unwrap()));
    let b = branched();
    assert_eq!(ids(&b, b.heads()), ["n"]);
    assert!(b.is_merge_point(b.get("m").unwrap()));
}

#[test]
fn topological_order_keeps_branches_contiguous() {
    let b = branched();
    assert_eq!(ids(&b, b.topological()), ["r", "x1", "x2", "y1", "m", "n"]);
}

#[test]
fn structural_errors() {
    let dup = graph_of(&[("a", "", "", ""), ("a", "", "", "")]).unwrap_err();
    assert!(matches!(dup, GraphError::DuplicateId { .. }));
    assert!(dup.to_string().contains("m/a.sql and m/a.sql"), "{dup}");

    let missing = graph_of(&[("a", "zz", "", "")]).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "m/a.sql: revision a revises zz, which does not exist (no file has `-- Revision ID: zz`)"
    );
    let missing_dep = graph_of(&[("a", "", "zz", "")]).unwrap_err();
    assert!(matches!(missing_dep, GraphError::MissingDependency { .. }));

    let cycle =
        graph_of(&[("a", "c", "", ""), ("b", "a", "", ""), ("c", "b", "", "")]).unwrap_err();
    let GraphError::Cycle { path } = &cycle else {
        panic!("{cycle}")
    };
    assert_eq!(path.len(), 4);
    assert_eq!(path.first(), path.last());

    // A cycle through a dependency edge.
    let dep_cycle = graph_of(&[("a", "", "b", ""), ("b", "a", "", "")]).unwrap_err();
    assert!(matches!(dep_cycle, GraphError::Cycle { .. }), "{dep_cycle}");

    let label = graph_of(&[("a", "", "", "x"), ("b", "a", "", "x")]).unwrap_err();
    assert!(matches!(label, GraphError::DuplicateLabel { .. }));
    let label_rev = graph_of(&[("a", "", "", "b"), ("b", "a", "", "")]).unwrap_err();
    assert!(matches!(label_rev, GraphError::LabelIsRevision { .. }));
}

#[test]
fn resolve_ids_prefixes_and_keywords() {
    let graph = g(&[
        ("1a2b3c4d", ""),
        ("1a2b9999", "1a2b3c4d"),
        ("5c5c5c5c", "1a2b9999"),
    ]);
    let one = |e: &str| graph.resolve_one(e, None).map(|r| graph.id(r).to_string());
    assert_eq!(one("5c5c").unwrap(), "5c5c5c5c");
    assert_eq!(one("1a2b3").unwrap(), "1a2b3c4d");
    assert_eq!(one("head").unwrap(), "5c5c5c5c");
    let amb = one("1a2b").unwrap_err();
    assert!(matches!(amb, GraphError::AmbiguousPrefix { .. }));
    assert!(amb.to_string().contains("1a2b3c4d (rev 1a2b3c4d)"), "{amb}");
    assert!(amb.to_string().contains("1a2b9999"), "{amb}");
    // Any unique prefix, however short (Alembic accepts `d88`); a short ambiguous one lists candidates.
    assert_eq!(one("5c").unwrap(), "5c5c5c5c");
    assert!(matches!(
        one("1").unwrap_err(),
        GraphError::AmbiguousPrefix { .. }
    ));
    let unknown = one("ffff").unwrap_err();
    assert!(matches!(unknown, GraphError::Unknown { .. }));
    let digits = one("2").unwrap_err();
    assert!(digits.to_string().contains("`+2` or `-2`"), "{digits}");
    assert_eq!(graph.resolve("base", None).unwrap(), Target::Base);
    assert!(matches!(
        graph.resolve("current", None),
        Err(GraphError::NeedsCurrent { .. })
    ));
    assert!(matches!(
        graph.resolve("+1", None),
        Err(GraphError::NeedsCurrent { .. })
    ));
}

#[test]
fn head_with_several_heads_is_an_error_with_guidance() {
    let graph = g(&[("r", ""), ("x1", "r"), ("y1", "r")]);
    let err = graph.resolve("head", None).unwrap_err();
    assert!(matches!(err, GraphError::MultipleHeads { .. }));
    assert!(err.to_string().contains("`heads`"), "{err}");
    assert_eq!(graph.resolve("heads", None).unwrap().revisions().len(), 2);
    // A revision's own line: `x1@head`.
    assert_eq!(
        ids(&graph, graph.resolve("x1@head", None).unwrap().revisions()),
        ["x1"]
    );
    assert!(graph.resolve("r@head", None).is_err());
}

#[test]
fn branch_labels() {
    let graph = graph_of(&[
        ("r", "", "", ""),
        ("x1", "r", "", "xb"),
        ("x2", "x1", "", ""),
        ("y1", "r", "", "yb"),
        ("y2", "y1", "", ""),
    ])
    .unwrap();
    let res = |e: &str, cur: &[&str]| {
        let cur = revs(&graph, cur);
        graph.resolve(e, Some(&cur))
    };
    assert_eq!(
        ids(&graph, res("xb@head", &[]).unwrap().revisions()),
        ["x2"]
    );
    assert_eq!(ids(&graph, res("yb", &[]).unwrap().revisions()), ["y1"]);
    assert_eq!(ids(&graph, res("yb@y2", &[]).unwrap().revisions()), ["y2"]);
    assert!(res("yb@x2", &[]).is_err());
    // Relative within a branch.
    assert_eq!(
        ids(&graph, res("xb@+1", &["x1", "y1"]).unwrap().revisions()),
        ["x2"]
    );
    assert_eq!(
        ids(&graph, res("yb@+1", &["x2"]).unwrap().revisions()),
        ["y1"]
    );
    let Target::Below { removed, landing } = res("yb@-1", &["x2", "y2"]).unwrap() else {
        panic!()
    };
    assert_eq!(ids(&graph, &removed), ["y2"]);
    assert_eq!(ids(&graph, &landing), ["y1"]);
    let Target::Below { removed, landing } = res("xb@base", &[]).unwrap() else {
        panic!()
    };
    assert_eq!(ids(&graph, &removed), ["x1"]);
    assert_eq!(ids(&graph, &landing), ["r"]);
    let label_hint = res("XB", &[]).unwrap_err();
    assert!(
        label_hint.to_string().contains("branch label `xb`"),
        "{label_hint}"
    );
}

#[test]
fn label_propagates_down_to_the_branch_point() {
    let graph = graph_of(&[
        ("r", "", "", ""),
        ("a", "r", "", ""),
        ("b", "a", "", "lbl"),
        ("c", "b", "", ""),
        ("o", "r", "", ""),
    ])
    .unwrap();
    let m = graph.label_members("lbl").unwrap();
    let members: Vec<&str> = graph
        .topological()
        .iter()
        .filter(|r| m[r.index()])
        .map(|r| graph.id(*r))
        .collect();
    assert_eq!(members, ["a", "b", "c"]);
}

#[test]
fn relative_walks() {
    let graph = linear();
    let cur = revs(&graph, &["a0"]);
    let one = |e: &str| graph.resolve(e, Some(&cur));
    assert_eq!(ids(&graph, one("+2").unwrap().revisions()), ["a2"]);
    assert_eq!(ids(&graph, one("a0+1").unwrap().revisions()), ["a1"]);
    assert!(one("+3").unwrap_err().to_string().contains("is a head"));
    let Target::Below { removed, landing } = one("-1").unwrap() else {
        panic!()
    };
    assert_eq!(ids(&graph, &removed), ["a0"]);
    assert!(landing.is_empty());
    let Target::Below { removed, .. } = one("a2-2").unwrap() else {
        panic!()
    };
    assert_eq!(ids(&graph, &removed), ["a2", "a1"]);
    assert!(one("-2").is_err());
    // From nothing applied, +1 lands on the base.
    assert_eq!(
        ids(&graph, graph.resolve("+1", Some(&[])).unwrap().revisions()),
        ["a0"]
    );
}

#[test]
fn ambiguous_walks_say_what_to_type() {
    let graph = branched();
    let r = revs(&graph, &["r"]);
    let err = graph.resolve("+2", Some(&r)).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, GraphError::AmbiguousWalk { .. }), "{text}");
    assert!(text.contains("`x1+1` or `y1+1`"), "{text}");
    let m = revs(&graph, &["m"]);
    let err = graph.resolve("-2", Some(&m)).unwrap_err().to_string();
    assert!(
        err.contains("merges x2, y1") && err.contains("`x2-1` or `y1-1`"),
        "{err}"
    );
    // One step down from a merge is fine: it takes the merge away.
    let Target::Below { removed, landing } = graph.resolve("-1", Some(&m)).unwrap() else {
        panic!()
    };
    assert_eq!(ids(&graph, &removed), ["m"]);
    assert_eq!(ids(&graph, &landing), ["x2", "y1"]);
    let two = revs(&graph, &["x2", "y1"]);
    let err = graph.resolve("-1", Some(&two)).unwrap_err().to_string();
    assert!(err.contains("2 heads are applied"), "{err}");
}

#[test]
fn upgrade_through_branches_and_merge() {
    let graph = branched();
    let plan = graph
        .plan_upgrade(&[], &graph.resolve("head", None).unwrap())
        .unwrap();
    assert_eq!(steps(&graph, &plan), ["r", "x1", "x2", "y1", "m", "n"]);
    // Version table: y1 branches off r after x1 already replaced it, so y1 is inserted; m merges two rows.
    let y1 = &plan.steps[3];
    assert!(y1.delete.is_empty());
    let m = &plan.steps[4];
    assert_eq!(ids(&graph, &m.delete), ["x2", "y1"]);
    assert_eq!(ids(&graph, &plan.heads_after), ["n"]);

    // Upgrade one branch only.
    let plan = graph
        .plan_upgrade(&revs(&graph, &["r"]), &graph.resolve("y1", None).unwrap())
        .unwrap();
    assert_eq!(steps(&graph, &plan), ["y1"]);
    assert_eq!(ids(&graph, &plan.heads_after), ["y1"]);

    // Already there: nothing to do.
    let at_head = revs(&graph, &["n"]);
    assert!(graph
        .plan_upgrade(&at_head, &Target::Revisions(at_head.clone()))
        .unwrap()
        .is_empty());
}

#[test]
fn downgrade_takes_away_only_what_is_above() {
    let graph = branched();
    let n = revs(&graph, &["n"]);
    let plan = graph
        .plan_downgrade(&n, &graph.resolve("x1", None).unwrap())
        .unwrap();
    assert_eq!(steps(&graph, &plan), ["n", "m", "x2"]);
    assert_eq!(ids(&graph, &plan.heads_after), ["x1", "y1"]);
    // Removing the merge re-inserts both parents.
    assert_eq!(ids(&graph, &plan.steps[1].insert), ["x2", "y1"]);

    let plan = graph.plan_downgrade(&n, &Target::Base).unwrap();
    assert_eq!(steps(&graph, &plan), ["n", "m", "y1", "x2", "x1", "r"]);
    assert!(plan.heads_after.is_empty());

    // A target that is not applied is refused with a hint.
    let x1 = revs(&graph, &["x1"]);
    let err = graph
        .plan_downgrade(&x1, &graph.resolve("y1", None).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("use `upgrade`"), "{err}");
}

#[test]
fn dependencies_order_and_cascade() {
    // Two independent lines; b2 depends on a1.
    let graph = graph_of(&[
        ("a0", "", "", ""),
        ("a1", "a0", "", ""),
        ("b0", "", "", ""),
        ("b1", "b0", "", ""),
        ("b2", "b1", "a1", ""),
    ])
    .unwrap();
    assert_eq!(ids(&graph, graph.heads()), ["a1", "b2"]);
    let plan = graph
        .plan_upgrade(&[], &graph.resolve("b2", None).unwrap())
        .unwrap();
    let order = steps(&graph, &plan);
    let pos = |x: &str| order.iter().position(|o| o == x).unwrap();
    assert!(pos("a1") < pos("b2") && pos("b1") < pos("b2"));
    assert_eq!(order.len(), 5);
    // A dependency does not consume the other line's head row.
    assert_eq!(ids(&graph, &plan.heads_after), ["a1", "b2"]);
    // Downgrading a1 must first take away b2, which needs it.
    let plan = graph
        .plan_downgrade(&plan.heads_after, &graph.resolve("a0", None).unwrap())
        .unwrap();
    assert_eq!(steps(&graph, &plan), ["b2", "a1"]);
    assert_eq!(ids(&graph, &plan.heads_after), ["a0", "b1"]);
}

#[test]
fn stamp_moves_either_way() {
    let graph = linear();
    let a2 = revs(&graph, &["a2"]);
    let plan = graph
        .plan_stamp(&a2, &graph.resolve("a0", None).unwrap())
        .unwrap();
    assert_eq!(plan.direction, Direction::Down);
    assert_eq!(ids(&graph, &plan.heads_after), ["a0"]);
    let plan = graph
        .plan_stamp(&[], &graph.resolve("a1", None).unwrap())
        .unwrap();
    assert_eq!(plan.direction, Direction::Up);
    assert_eq!(ids(&graph, &plan.heads_after), ["a1"]);
}

// ---- property tests over random DAGs -------------------------------------------------------------

/// A random DAG: revision i may revise and depend on any earlier revisions.
fn arb_dag() -> impl Strategy<Value = Vec<(Vec<usize>, Vec<usize>)>> {
    (1usize..24).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                let parents =
                    proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(2));
                let deps = proptest::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(1));
                (parents, deps)
            })
            .collect::<Vec<_>>()
    })
}

fn build(dag: &[(Vec<usize>, Vec<usize>)]) -> RevisionGraph {
    let names: Vec<String> = (0..dag.len()).map(|i| format!("r{i:03}")).collect();
    let join = |v: &[usize]| {
        v.iter()
            .map(|i| names[*i].clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let spec: Vec<(String, String, String)> = dag
        .iter()
        .enumerate()
        .map(|(i, (p, d))| (names[i].clone(), join(p), join(d)))
        .collect();
    let refs: Vec<(&str, &str, &str, &str)> = spec
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str(), ""))
        .collect();
    graph_of(&refs).expect("random DAG is valid")
}

/// Applying the plan's steps to the applied set, checking each step's preconditions.
fn simulate(graph: &RevisionGraph, start: &[Rev], plan: &Plan) -> Result<Vec<bool>, String> {
    let mut applied = graph.ancestors_mask(start);
    let mut table: Vec<Rev> = graph.heads_of_mask(&applied);
    for step in &plan.steps {
        let r = step.revision;
        match step.direction {
            Direction::Up => {
                if applied[r.index()] {
                    return Err(format!("{} applied twice", graph.id(r)));
                }
                for p in graph.parents(r).iter().chain(graph.dependencies(r)) {
                    if !applied[p.index()] {
                        return Err(format!(
                            "{} before its parent {}",
                            graph.id(r),
                            graph.id(*p)
                        ));
                    }
                }
                applied[r.index()] = true;
            }
            Direction::Down => {
                if !applied[r.index()] {
                    return Err(format!("{} reverted but not applied", graph.id(r)));
                }
                for c in graph.children(r).iter().chain(graph.dependents(r)) {
                    if applied[c.index()] {
                        return Err(format!("{} reverted before {}", graph.id(r), graph.id(*c)));
                    }
                }
                applied[r.index()] = false;
            }
        }
        table.retain(|t| !step.delete.contains(t));
        table.extend(&step.insert);
        let mut expected = graph.heads_of_mask(&applied);
        let mut got = table.clone();
        expected.sort();
        got.sort();
        if expected != got {
            return Err(format!(
                "version table after {} is {:?}, expected {:?}",
                graph.id(r),
                graph.ids(&got),
                graph.ids(&expected)
            ));
        }
    }
    Ok(applied)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn upgrade_applies_each_needed_revision_once_after_its_parents(
        dag in arb_dag(), start_pick in any::<proptest::sample::Index>(), target_pick in any::<proptest::sample::Index>()
    ) {
        let graph = build(&dag);
        let all = graph.topological().to_vec();
        let start = vec![all[start_pick.index(all.len())]];
        let target = Target::Revisions(vec![all[target_pick.index(all.len())]]);
        let plan = graph.plan_upgrade(&start, &target).unwrap();
        let applied = simulate(&graph, &start, &plan).map_err(TestCaseError::fail)?;
        // Everything the target needs is applied, and nothing else was added.
        let want = graph.ancestors_mask(target.revisions());
        let before = graph.ancestors_mask(&start);
        for r in &all {
            let i = r.index();
            prop_assert_eq!(applied[i], want[i] || before[i], "revision {}", graph.id(*r));
        }
    }

    #[test]
    fn upgrade_then_downgrade_returns_to_start(
        dag in arb_dag(), start_pick in any::<proptest::sample::Index>(), target_pick in any::<proptest::sample::Index>()
    ) {
        let graph = build(&dag);
        let all = graph.topological().to_vec();
        let start_rev = all[start_pick.index(all.len())];
        let start = graph.heads_of_mask(&graph.ancestors_mask(&[start_rev]));
        let up = graph.plan_upgrade(&start, &Target::Revisions(vec![all[target_pick.index(all.len())]])).unwrap();
        let after_up = simulate(&graph, &start, &up).map_err(TestCaseError::fail)?;
        let heads_up = graph.heads_of_mask(&after_up);
        prop_assert_eq!(&heads_up, &up.heads_after);
        let down = graph.plan_downgrade(&heads_up, &Target::Revisions(start.clone())).unwrap();
        let after_down = simulate(&graph, &heads_up, &down).map_err(TestCaseError::fail)?;
        // Back at the start, except for what the upgrade had to add outside the start's line (another
        // branch a merge or dependency needed): downgrading to the start does not touch other branches.
        let start_mask = graph.ancestors_mask(&start);
        let above_start = graph.descendants_mask(&start);
        for r in &all {
            let i = r.index();
            let expected = start_mask[i] || (after_up[i] && !above_start[i]);
            prop_assert_eq!(after_down[i], expected, "revision {}", graph.id(*r));
        }
        let target_is_above = up.steps.iter().all(|s| above_start[s.revision.index()]);
        if target_is_above {
            prop_assert_eq!(graph.heads_of_mask(&after_down), start.clone());
        }
        // Full round trip to base and back up is exact.
        let to_base = graph.plan_downgrade(&heads_up, &Target::Base).unwrap();
        let empty = simulate(&graph, &heads_up, &to_base).map_err(TestCaseError::fail)?;
        prop_assert!(empty.iter().all(|a| !a));
        let again = graph.plan_upgrade(&[], &Target::Revisions(heads_up.clone())).unwrap();
        let back = simulate(&graph, &[], &again).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, after_up);
    }

    #[test]
    fn downgrade_to_an_applied_revision_leaves_it_a_head(
        dag in arb_dag(), pick in any::<proptest::sample::Index>()
    ) {
        let graph = build(&dag);
        let heads = graph.heads().to_vec();
        let all = graph.topological().to_vec();
        let target = all[pick.index(all.len())];
        let plan = graph.plan_downgrade(&heads, &Target::Revisions(vec![target])).unwrap();
        let applied = simulate(&graph, &heads, &plan).map_err(TestCaseError::fail)?;
        prop_assert!(applied[target.index()]);
        let above = graph.descendants_mask(&[target]);
        let needed = graph.ancestors_mask(&[target]);
        for r in &all {
            let i = r.index();
            if above[i] && !needed[i] {
                prop_assert!(!applied[i], "{} is above the target but still applied", graph.id(*r));
            }
        }
    }
}
