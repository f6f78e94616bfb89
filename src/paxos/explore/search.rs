//! The search: [`explore`], every reachable state depth first (or breadth first), and
//! [`random_walks`], random runs through the same choices.

use std::collections::{HashSet, VecDeque};
use std::time::Instant;

use super::moves::{choices, Choice, Move};
use super::shape::{canonical, Shape};
use super::world::{apply, first_violation, initial, rebuild, replay, shrink};
use super::{Exploration, ExploreConfig};
use crate::check::explore::{permutations, BuildFx, Visit, Visited};
use crate::check::Violation;
use crate::error::Result;
use crate::harness::Progress;
use crate::paxos::check::Agreement;
use crate::paxos::PaxosNode;
use crate::runtime::Sim;

/// A state on the search stack. Breadth first, the frontier is wide, so a state keeps
/// only its path and is rebuilt by replaying it when its turn comes.
struct State {
    sim: Option<Sim<PaxosNode>>,
    agreement: Agreement,
    crashes_left: usize,
    /// The choices that led here from the initial state.
    path: Vec<Choice>,
    depth: usize,
    /// The sleep set: moves not to take from here, because a sibling branch already
    /// takes them in an order that reaches the same states.
    sleep: Vec<Move>,
    /// On a second visit, only these moves (by identity) are left to take: the first
    /// visit took the others.
    only: Option<Vec<u64>>,
    /// The state's shape, when already computed.
    shape: Option<Shape>,
    /// The renaming of acceptors under which the state was filed.
    perm: usize,
}

// ANCHOR: explore
/// Explores every reachable state of `config`, depth first (or breadth first).
///
/// Every node starts before the first choice (a start only arms a timer that fires
/// whenever the explorer chooses). With the reductions on, a state's key leaves out
/// what can never count again: a learner's votes, and the checker's record of
/// acceptances, for a ballot no acceptor can accept any more (unless they made a
/// majority), and the state of a doomed proposer. Then five reductions keep the search
/// small. None of this may lose a reachable combination of what the properties read
/// (acceptor states, learned values, chosen values), which [`ExploreConfig::reduce`]
/// turned off checks:
///
/// - **Dead messages.** A message that will never change anything (a promise for a
///   ballot its proposer has left; an acceptance to a learner that has learned, or that
///   can never count it; a prepare or accept its acceptor refuses for good, or a
///   prepare for the ballot it has promised, whose answer goes to a proposer that
///   ignores it for good; a promise or a refusal sent to a doomed proposer, see
///   `doomed`) is neither delivered nor part of the state.
/// - **Moves that change nothing** but their own removal from the network are not
///   taken: they lead to this state with a message lost, which this state covers.
/// - **Covering.** A state with the same node states as one explored, and a subset of
///   its messages in flight, has no run the larger state lacks: the extra messages can
///   be lost. It is not explored again.
/// - **Sleep sets** (Godefroid, 1996) skip orders that differ only in moves that
///   commute (moves at different nodes, or at one node's acceptor and its proposer):
///   after exploring "deliver a to n1" from a state, the sibling branch "deliver b to
///   n2" does not deliver a next, since "b then a" reaches the state "a then b"
///   reached. A state covered by one explored is explored again only for the moves
///   that were asleep there and are awake here.
/// - **Symmetry.** Acceptors are interchangeable: renaming them (in every message,
///   promise, vote and acceptance) maps runs to runs and keeps every property. Once no
///   crash is left (a crash takes an acceptor down with its node's proposer), a state
///   is filed under the renaming that names it smallest, so the renamings of a state
///   explored are not explored again.
pub fn explore(config: &ExploreConfig) -> Result<Exploration> {
    let started = Instant::now();
    let progress = match config.progress {
        true => Progress::counter("states"),
        false => Progress::hidden(),
    };
    let copy = |n: &PaxosNode, storage| n.copy_with(storage);
    let root = State {
        sim: Some(initial(config, false)?),
        agreement: Agreement::new(config.nodes),
        crashes_left: config.crashes,
        path: Vec::new(),
        depth: 0,
        sleep: Vec::new(),
        only: None,
        shape: None,
        perm: 0,
    };
    // Acceptors are interchangeable (without crashes, which take an acceptor down with
    // its node's proposer): the renamings of acceptors, for up to 4 nodes (24
    // renamings). Node states are counted by class (the same up to a renaming) in
    // every search, and with the reductions on, a state with no crash left is filed
    // under the renaming that names it smallest.
    let perms = if config.nodes <= 4 {
        permutations(config.nodes)
    } else {
        vec![(0..config.nodes).collect()]
    };
    let tried = |crashes_left: usize| {
        if config.reduce && crashes_left == 0 {
            0..perms.len()
        } else {
            0..1
        }
    };
    // Each state explored, with the identities of the moves asleep there.
    let mut seen = Visited::new(config.reduce, config.duplicates);
    // The classes of node states (and acceptance histories) reached, messages in
    // flight aside.
    let mut node_states: HashSet<u64, BuildFx> = HashSet::default();
    if let Some(sim) = &root.sim {
        let may_crash = root.crashes_left > 0;
        let shape = Shape::of(sim, may_crash, config.reduce)?;
        let c = canonical(
            sim,
            &shape,
            &root.agreement,
            &perms,
            tried(root.crashes_left),
            may_crash,
            config.reduce,
        )?;
        seen.visit(c.key, &c.pool, root.crashes_left, &[])?;
        node_states.insert(c.node_class);
    }
    let mut stack = VecDeque::from([root]);
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    let finish = |seen: &Visited,
                  node_states: &HashSet<u64, BuildFx>,
                  transitions,
                  max_depth,
                  complete,
                  counterexample| Exploration {
        states: seen.states(),
        node_states: node_states.len(),
        transitions,
        max_depth,
        complete,
        seconds: started.elapsed().as_secs_f64(),
        counterexample,
    };
    while let Some(mut state) = if config.breadth_first {
        stack.pop_front()
    } else {
        stack.pop_back()
    } {
        let sim = match state.sim.take() {
            Some(sim) => sim,
            None => rebuild(config, &state.path)?,
        };
        let shape = match state.shape.take() {
            Some(shape) => shape,
            None => Shape::of(&sim, state.crashes_left > 0, config.reduce)?,
        };
        let moves = choices(&sim, state.crashes_left, config.reduce);
        // Moves asleep here: the sleep set, and on a second visit every move the
        // first visit took.
        let mut asleep: Vec<Move> = state.sleep.clone();
        if !config.reduce {
            asleep.clear();
        }
        if let Some(only) = &state.only {
            let perm = &perms[state.perm];
            asleep.extend(moves.iter().filter(|m| !only.contains(&m.key.id(perm))));
        }
        // The moves to take (two identical messages in flight are one move).
        let mut to_take: Vec<Move> = Vec::new();
        for &m in &moves {
            if !asleep.iter().chain(&to_take).any(|a| a.id == m.id) {
                to_take.push(m);
            }
        }
        // The last move takes the state itself rather than a copy.
        let mut last = Some(sim);
        for (i, &m) in to_take.iter().enumerate() {
            let sleep: Vec<Move> = asleep
                .iter()
                .chain(&to_take[..i])
                .filter(|u| config.reduce && u.independent(&m))
                .copied()
                .collect();
            let mut next = match (i + 1 == to_take.len(), last.as_ref()) {
                (false, Some(sim)) => sim.fork(copy)?,
                _ => last.take().ok_or_else(|| {
                    crate::error::Error::Runtime("explorer: state taken twice".into())
                })?,
            };
            apply(&mut next, m.choice, config.duplicates)?;
            transitions += 1;
            let mut agreement = state.agreement.clone();
            if let Some(violation) = first_violation(&mut next, &mut agreement) {
                let mut path = state.path.clone();
                path.push(m.choice);
                let (path, violation) = shrink(config, &path, violation)?;
                let counterexample = replay(config, &path, violation)?;
                return Ok(finish(
                    &seen,
                    &node_states,
                    transitions,
                    max_depth.max(state.depth + 1),
                    false,
                    Some(counterexample),
                ));
            }
            let crashes_left = state.crashes_left - usize::from(m.is_crash());
            let next_shape = Shape::after(&next, &shape, m.node, crashes_left > 0, config.reduce)?;
            let may_crash = crashes_left > 0;
            let c = canonical(
                &next,
                &next_shape,
                &agreement,
                &perms,
                tried(crashes_left),
                may_crash,
                config.reduce,
            )?;
            node_states.insert(c.node_class);
            // A move that changed nothing but its own removal from the queue: see above.
            if config.reduce
                && !config.duplicates
                && m.may_skip
                && agreement == state.agreement
                && shape.lost_only(m.id, &next_shape)
            {
                continue;
            }
            let ids: Vec<u64> = sleep.iter().map(|u| u.key.id(&perms[c.perm])).collect();
            let only = match seen.visit(c.key, &c.pool, crashes_left, &ids)? {
                Visit::New => None,
                Visit::Covered => continue,
                Visit::Woken(woken) => Some(woken),
            };
            if seen.states() >= config.max_states {
                return Ok(finish(
                    &seen,
                    &node_states,
                    transitions,
                    max_depth,
                    false,
                    None,
                ));
            }
            let mut path = state.path.clone();
            path.push(m.choice);
            max_depth = max_depth.max(state.depth + 1);
            if only.is_none() && seen.states().is_multiple_of(10_000) {
                progress.set(seen.states() as u64);
                progress.note(format!(
                    "({} of node states, {transitions} transitions, depth {max_depth})",
                    node_states.len()
                ));
            }
            stack.push_back(State {
                sim: (!config.breadth_first).then_some(next),
                agreement,
                crashes_left,
                path,
                depth: state.depth + 1,
                sleep,
                only,
                shape: (!config.breadth_first).then_some(next_shape),
                perm: c.perm,
            });
        }
    }
    Ok(finish(
        &seen,
        &node_states,
        transitions,
        max_depth,
        true,
        None,
    ))
}
// ANCHOR_END: explore

/// How many steps a random walk with duplication takes: about four times the longest
/// walk without it (57 steps in the chapter's configuration with a crash), room for
/// every message to be delivered a few times over.
pub const WALK_STEPS_WITH_DUPLICATES: usize = 200;

// ANCHOR: random_walks
/// Random walks through the same choices (TLC's "simulation mode"): `walks` runs from
/// the initial state, each choosing uniformly among the choices of every state until
/// none is left, checked at every step. Not a proof, but it reaches deep states that an
/// exhaustive search of a large space would take hours to get to. Returns the shortest
/// counterexample found; `seed` makes the walks replayable. With `duplicates`, a
/// delivered message stays deliverable, so no walk would end by itself: each stops after
/// [`WALK_STEPS_WITH_DUPLICATES`] steps.
pub fn random_walks(config: &ExploreConfig, walks: u64, seed: u64) -> Result<Exploration> {
    let started = Instant::now();
    let copy = |n: &PaxosNode, storage| n.copy_with(storage);
    let root = initial(config, false)?;
    let mut rng = crate::runtime::Rng::new(seed);
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    let mut best: Option<(Vec<Choice>, Violation)> = None;
    let progress = match config.progress {
        true => Progress::bar(walks, "walks"),
        false => Progress::hidden(),
    };
    for _ in 0..walks {
        progress.inc(1);
        let mut sim = root.fork(copy)?;
        let mut agreement = Agreement::new(config.nodes);
        let mut crashes_left = config.crashes;
        let mut path = Vec::new();
        loop {
            let options: Vec<Choice> = choices(&sim, crashes_left, false)
                .into_iter()
                .map(|m| m.choice)
                .collect();
            if options.is_empty()
                || best.as_ref().is_some_and(|(b, _)| path.len() >= b.len())
                || (config.duplicates && path.len() >= WALK_STEPS_WITH_DUPLICATES)
            {
                break;
            }
            let choice = options[rng.index(options.len())];
            apply(&mut sim, choice, config.duplicates)?;
            transitions += 1;
            path.push(choice);
            crashes_left -= usize::from(matches!(choice, Choice::Crash(_)));
            if let Some(v) = first_violation(&mut sim, &mut agreement) {
                best = Some((path.clone(), v));
                break;
            }
        }
        max_depth = max_depth.max(path.len());
    }
    let counterexample = match best {
        Some((path, v)) => {
            let (path, v) = shrink(config, &path, v)?;
            Some(replay(config, &path, v)?)
        }
        None => None,
    };
    Ok(Exploration {
        states: 0,
        node_states: 0,
        transitions,
        max_depth,
        complete: false,
        seconds: started.elapsed().as_secs_f64(),
        counterexample,
    })
}
// ANCHOR_END: random_walks
