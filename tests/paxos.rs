//! Chapter 1: single-decree Paxos, in the deterministic simulator.

use std::time::Duration;

use quorum::paxos::explore::{explore, random_walks, ExploreConfig};
use quorum::paxos::{check, livelock, run, Ballot, PaxosConfig, Rule};
use quorum::runtime::cluster::{ms, n, secs};
use quorum::runtime::{Action, Faults, NodeId, Rng, SimConfig, Time};

mod common;
use common::{everyone_learned, sweep_range};

fn jittery() -> Faults {
    Faults {
        delay: (ms(1), ms(10)),
        ..Faults::reliable()
    }
}

#[test]
fn one_proposer_gets_its_own_value_chosen() {
    let (mut sim, agreement) =
        run::checked_sim(SimConfig::new(3, 1), &PaxosConfig::new(3, None), 1).unwrap();
    assert!(sim
        .run_until_true(Time(1_000_000), everyone_learned)
        .unwrap());
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    assert_eq!(
        agreement
            .borrow()
            .chosen_values()
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["v1"]
    );
    for (_, node) in sim.live_nodes() {
        assert_eq!(node.chosen().map(|v| v.as_str()), Some("v1"));
    }
}

/// Three proposers, five acceptors, messages that overtake each other: one value, and
/// every node learns it.
#[test]
fn dueling_proposers_agree_on_one_value() {
    for seed in 0..100 {
        let config = SimConfig {
            nodes: 5,
            seed,
            faults: jittery(),
            trace: quorum::runtime::TraceLevel::Protocol,
        };
        let (mut sim, agreement) = run::checked_sim(config, &PaxosConfig::new(5, None), 3).unwrap();
        assert!(
            sim.run_until_true(Time(5_000_000), everyone_learned)
                .unwrap(),
            "seed {seed} undecided"
        );
        assert!(
            sim.violations().is_empty(),
            "seed {seed}: {:?}",
            sim.violations()
        );
        assert_eq!(agreement.borrow().chosen_values().len(), 1, "seed {seed}");
        let learned = run::learned(&sim);
        assert!(agreement
            .borrow()
            .check_all_learned(sim.now(), &learned)
            .is_empty());
    }
}

/// An acceptor's promise is on disk before the promise is sent, so a restarted acceptor
/// still refuses the ballots it promised to refuse; with `no-persist` it forgets.
#[test]
fn an_acceptor_keeps_its_promise_across_a_crash() {
    for (broken, kept) in [(None, true), (Some(Rule::NoPersist), false)] {
        let mut base = PaxosConfig::new(3, None);
        base.broken = broken;
        let (mut sim, _) = run::checked_sim(SimConfig::new(3, 2), &base, 1).unwrap();
        assert!(sim
            .run_until_true(Time(1_000_000), everyone_learned)
            .unwrap());
        let promised = sim.node(n(3)).unwrap().acceptor.promised;
        assert_ne!(promised, Ballot::NONE);
        sim.apply(Action::Crash(n(3))).unwrap();
        sim.apply(Action::Restart(n(3))).unwrap();
        let after = sim.node(n(3)).unwrap().acceptor.clone();
        assert_eq!(after.promised == promised, kept, "broken: {broken:?}");
        assert_eq!(after.accepted.is_some(), kept, "broken: {broken:?}");
    }
}

/// A learner cut off while the value was chosen missed every message about it; once
/// reconnected, it asks again and learns.
#[test]
fn a_learner_that_missed_the_decision_asks_again() {
    let (mut sim, agreement) =
        run::checked_sim(SimConfig::new(5, 3), &PaxosConfig::new(5, None), 1).unwrap();
    sim.apply(Action::Disconnect(n(5))).unwrap();
    assert!(sim
        .run_until_true(Time(1_000_000), |s| s
            .live_nodes()
            .filter(|(_, x)| x.chosen().is_some())
            .count()
            == 4)
        .unwrap());
    sim.run_for(secs(1)).unwrap();
    assert!(sim.node(n(5)).unwrap().chosen().is_none(), "n5 was cut off");
    sim.apply(Action::Connect(n(5))).unwrap();
    assert!(sim
        .run_until_true(sim.now() + secs(1), everyone_learned)
        .unwrap());
    assert_eq!(
        sim.node(n(5)).unwrap().chosen().map(|v| v.as_str()),
        Some("v1")
    );
    assert!(sim.violations().is_empty());
    assert_eq!(agreement.borrow().chosen_values().len(), 1);
}

/// A proposer restarted mid-run never reuses a ballot: its round is on disk.
#[test]
fn a_restarted_proposer_never_reuses_a_ballot() {
    let (mut sim, _) =
        run::checked_sim(SimConfig::new(3, 4), &PaxosConfig::new(3, None), 1).unwrap();
    sim.apply(Action::Disconnect(n(1))).unwrap(); // n1 proposes into the void
    sim.run_for(ms(350)).unwrap();
    let used = sim.node(n(1)).unwrap().proposer.as_ref().unwrap().ballot;
    assert!(used.round >= 2, "n1 retried: {used}");
    sim.apply(Action::Crash(n(1))).unwrap();
    sim.apply(Action::Restart(n(1))).unwrap();
    sim.apply(Action::Connect(n(1))).unwrap();
    assert!(sim
        .run_until_true(sim.now() + secs(2), everyone_learned)
        .unwrap());
    let first_after: Vec<u64> = sim
        .records()
        .iter()
        .filter(|r| r.event == "prepare" && r.node == n(1))
        .filter_map(|r| serde_json::from_value::<Ballot>(r.fields["ballot"].clone()).ok())
        .map(|b| b.round)
        .collect();
    let mut sorted = first_after.clone();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        first_after.len(),
        "a ballot was used twice: {first_after:?}"
    );
    assert!(
        first_after.windows(2).all(|w| w[0] < w[1]),
        "{first_after:?}"
    );
}

/// One randomized run: 5 nodes, 3 proposers, up to 30% loss, duplication, delays, a
/// partition and two acceptor crash-restarts, all healed by 1.5 s. Returns the
/// violations (safety on every step, then liveness once healed) and whether it decided.
fn chaotic_run(seed: u64, broken: Option<Rule>) -> (Vec<quorum::check::Violation>, bool) {
    let mut r = Rng::new(seed ^ 0x5eed);
    let faults = Faults {
        drop: r.between(0, 30) as f64 / 100.0,
        delay: (Duration::ZERO, ms(r.between(1, 30))),
        duplicate: r.between(0, 10) as f64 / 100.0,
    };
    let mut base = PaxosConfig::new(5, None);
    base.broken = broken;
    let config = SimConfig {
        faults,
        ..SimConfig::new(5, seed)
    };
    let (mut sim, agreement) = run::checked_sim(config, &base, 3).unwrap();
    let cut = NodeId::from_index(r.index(5));
    sim.schedule_at(Time(r.between(0, 200_000)), Action::Disconnect(cut))
        .unwrap();
    sim.schedule_at(Time(r.between(300_000, 1_000_000)), Action::Connect(cut))
        .unwrap();
    for victim in [n(4), n(5)] {
        let down = r.between(10_000, 400_000);
        sim.schedule_at(Time(down), Action::Crash(victim)).unwrap();
        sim.schedule_at(
            Time(down + r.between(1_000, 500_000)),
            Action::Restart(victim),
        )
        .unwrap();
    }
    sim.schedule_at(Time(1_500_000), Action::SetFaults(Faults::reliable()))
        .unwrap();
    sim.run_until(Time(1_500_000)).unwrap();
    let decided = sim
        .run_until_true(Time(4_000_000), everyone_learned)
        .unwrap();
    let mut violations = sim.violations().to_vec();
    violations.extend(
        agreement
            .borrow()
            .check_all_learned(sim.now(), &run::learned(&sim)),
    );
    (violations, decided)
}

/// The sweep of the chapter: zero violations, and every run decides once faults heal.
#[test]
fn sweep_paxos_is_safe_and_decides_once_faults_heal() {
    let mut failures = Vec::new();
    // QUORUM_SEEDS sets how many seeds (the long setting is 10000); QUORUM_SEED=N runs one.
    for seed in sweep_range(500) {
        let (violations, decided) = chaotic_run(seed, None);
        if let Some(v) = violations.first() {
            failures.push(format!("seed {seed}: {v}"));
        } else if !decided {
            failures.push(format!("seed {seed}: undecided 2.5 s after faults healed"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} seeds failed (replay one: QUORUM_SEED=<seed> cargo test --test paxos sweep):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rule first: without each rule, the same sweep finds a run that breaks a property.
/// These are the book's "what goes wrong without this rule" scenarios.
#[test]
fn without_each_rule_the_sweep_finds_a_violation() {
    let safety = [
        check::AT_MOST_ONE_CHOSEN,
        check::ONLY_PROPOSED_CHOSEN,
        check::LEARN_ONLY_CHOSEN,
    ];
    for rule in Rule::ALL {
        let found = (0..400).find_map(|seed| {
            let (violations, _) = chaotic_run(seed, Some(rule));
            violations
                .into_iter()
                .find(|v| safety.contains(&v.property.as_str()))
                .map(|v| (seed, v))
        });
        assert!(
            found.is_some(),
            "{rule}: 400 seeds and no safety violation: is the rule really necessary, or the sweep too weak?"
        );
    }
}

/// The explorer proves a small configuration safe (two proposers, one ballot each),
/// counting its states.
#[test]
fn explorer_proves_two_dueling_proposers_safe_and_counts_their_states() {
    let config = ExploreConfig {
        proposers: 2,
        max_ballots: 1,
        crashes: 0,
        ..ExploreConfig::default()
    };
    let e = explore(&config).unwrap();
    assert!(e.complete && e.counterexample.is_none());
    assert!(
        e.states > 1000 && e.node_states > 200,
        "{} states, {} node states",
        e.states,
        e.node_states
    );
    // The same search twice finds the same space.
    assert_eq!(explore(&config).unwrap().states, e.states);
}

/// The explorer's reductions (what the key leaves out, dead messages, moves that change
/// nothing, covering, sleep sets, symmetry) shrink the search without losing a single
/// combination of what the properties read (acceptor states, learned values, chosen
/// values): the full search, which takes every move from every state, reaches exactly
/// the same ones. With a crash, too, which makes forgotten learners act on old messages
/// again.
#[test]
fn explorer_reductions_lose_no_node_state() {
    for (proposers, max_ballots, crashes) in [(1, 1, 0), (1, 1, 1)] {
        let config = ExploreConfig {
            proposers,
            max_ballots,
            crashes,
            ..ExploreConfig::default()
        };
        let reduced = explore(&config).unwrap();
        let full = explore(&ExploreConfig {
            reduce: false,
            ..config.clone()
        })
        .unwrap();
        let what = format!("{proposers} proposer(s), {max_ballots} ballot(s), {crashes} crash(es)");
        assert!(reduced.complete && full.complete, "{what}");
        assert_eq!(
            reduced.node_states, full.node_states,
            "{what}: node states lost"
        );
        assert!(
            reduced.states * 2 < full.states,
            "{what}: {} states reduced, {} in full: the reductions do little",
            reduced.states,
            full.states
        );
    }
}

/// With each rule broken, the explorer finds a run that breaks a property, and replays
/// it as a trace a reader can follow.
#[test]
fn explorer_finds_counterexamples() {
    for rule in Rule::ALL {
        let config = ExploreConfig {
            broken: Some(rule),
            max_states: 200_000,
            // A forgotten promise needs a crash at just the wrong moment: one ballot
            // each keeps that search short.
            max_ballots: if rule == Rule::NoPersist { 1 } else { 2 },
            crashes: usize::from(rule == Rule::NoPersist),
            ..ExploreConfig::default()
        };
        let e = explore(&config).unwrap();
        let ce = e
            .counterexample
            .unwrap_or_else(|| panic!("{rule}: no counterexample in {} states", e.states));
        assert!(!ce.steps.is_empty());
        assert!(
            ce.records.iter().any(|r| r.event == "send"),
            "the replay carries the full trace"
        );
        assert!(ce.records.iter().any(|r| r.event == "accepted"));
        // The replayed trace shows the violation to a fresh checker, on its own.
        let mut checker = quorum::paxos::check::Agreement::new(config.nodes);
        let found: Vec<_> = ce
            .records
            .iter()
            .filter_map(|r| Some((r, r.protocol_event::<quorum::paxos::Event>()?)))
            .flat_map(|(r, e)| checker.observe(Time(r.t_us), r.node, &e))
            .collect();
        assert!(
            found.iter().any(|v| v.property == ce.violation.property),
            "{rule}: the replay does not break {}: {found:?}",
            ce.violation.property
        );
    }
}

/// Random walks through the explorer's choices find a counterexample for every rule the
/// chapter says is necessary, and none for the intact protocol.
#[test]
fn random_walks_find_a_counterexample_for_every_rule() {
    // The walks' configuration, as `explore --walks` runs it: one crash in each walk.
    let walking = ExploreConfig {
        crashes: 1,
        ..ExploreConfig::default()
    };
    for rule in Rule::ALL {
        let config = ExploreConfig {
            broken: Some(rule),
            ..walking.clone()
        };
        // A lost promise matters only if the crash comes at just the wrong moment.
        let walks = if rule == Rule::NoPersist {
            20_000
        } else {
            5_000
        };
        let e = random_walks(&config, walks, 1).unwrap();
        let ce = e
            .counterexample
            .unwrap_or_else(|| panic!("{rule}: no counterexample in {walks} walks"));
        assert!(
            !ce.steps.is_empty() && ce.records.iter().any(|r| r.event == "accepted"),
            "{rule}"
        );
    }
    let e = random_walks(&walking, 2000, 1).unwrap();
    assert!(
        e.counterexample.is_none(),
        "{:?}",
        e.counterexample.map(|c| c.violation)
    );
}

// --- Dueling proposers (`src/paxos/livelock.rs`) -------------------------------------

/// The duel stayed safe, all its `ballots` were started, and none of them chose a value.
fn assert_adversary_won(duel: &livelock::Duel, ballots: u64, seed: u64) {
    assert!(
        duel.violations.is_empty(),
        "seed {seed}: {:?}",
        duel.violations
    );
    assert_eq!(duel.chosen, None, "seed {seed}: the adversary lost");
    assert_eq!(duel.total_ballots(), ballots, "seed {seed}");
}

/// "Paxos Made Simple" §2.4: two proposers can preempt each other for ever. Without
/// backoff, the adversary that holds each accept until a higher promise dooms it keeps
/// the duel going: 100 ballots, taken in turns, and nothing chosen. It needs to hold
/// messages only while the second proposer's first ballot gets going (under 20 ms).
#[test]
fn without_backoff_dueling_proposers_livelock_under_the_adversary() {
    for seed in 0..20 {
        let duel = livelock::duel(100, false, seed).unwrap();
        assert_adversary_won(&duel, 100, seed);
        for (id, ballots) in &duel.ballots {
            assert!(
                *ballots >= 50,
                "seed {seed}: {id} started only {ballots} ballots: not a duel"
            );
        }
        assert!(duel.refused >= 95, "seed {seed}: {} refused", duel.refused);
        assert!(
            duel.longest_hold < ms(20),
            "seed {seed}: {:?}",
            duel.longest_hold
        );
    }
    // A seed is a duel: the same trace, byte for byte.
    let again = |seed| livelock::duel(30, false, seed).unwrap().records;
    assert_eq!(again(7), again(7));
}

/// FLP: when delays have no bound, backoff is no cure. The same adversary just holds the
/// accepts longer (without backoff it never needs 20 ms), and 80 ms is enough: the held
/// proposer's own retry timer starts a higher ballot that dooms its own accepts.
#[test]
fn with_backoff_an_unbounded_adversary_still_prevents_a_decision() {
    for seed in 0..20 {
        let duel = livelock::duel(100, true, seed).unwrap();
        assert_adversary_won(&duel, 100, seed);
        // Longer than the duel without backoff ever needs, and no longer than 80 ms.
        let hold = duel.longest_hold;
        assert!(hold > ms(20) && hold <= ms(80), "seed {seed}: {hold:?}");
    }
}

/// Randomized backoff makes progress once delays are bounded: an adversary that may
/// hold an accept at most 20 ms beyond the network's delay loses every one of 200 duels
/// by the third ballot, while without backoff the same adversary keeps every one going
/// for 100 ballots.
#[test]
fn with_backoff_a_bounded_adversary_loses_every_duel() {
    for seed in 0..200 {
        let duel = livelock::duel_within(100, true, seed, ms(20)).unwrap();
        assert!(
            duel.violations.is_empty(),
            "seed {seed}: {:?}",
            duel.violations
        );
        assert!(duel.chosen.is_some(), "seed {seed}: still dueling");
        assert!(duel.total_ballots() <= 3, "seed {seed}: {:?}", duel.ballots);
        assert!(duel.longest_hold <= ms(20), "seed {seed}");

        let without = livelock::duel_within(100, false, seed, ms(20)).unwrap();
        assert_eq!(without.chosen, None, "seed {seed}: decided without backoff");
        assert_eq!(without.total_ballots(), 100, "seed {seed}");
    }
}

/// A bound on delays helps only if a held ballot can still finish before its own retry
/// timer (100 ms) starts the next one: with holds of at most 80 ms, backoff ends every
/// duel by the ninth ballot; with 81 ms, the adversary wins every one.
#[test]
fn backoff_needs_a_bound_on_delays_below_the_retry_timeout() {
    for seed in 0..50 {
        let duel = livelock::duel_within(100, true, seed, ms(80)).unwrap();
        assert!(duel.chosen.is_some(), "seed {seed}: still dueling at 80 ms");
        assert!(duel.total_ballots() <= 9, "seed {seed}: {:?}", duel.ballots);
        let duel = livelock::duel_within(100, true, seed, ms(81)).unwrap();
        assert_eq!(duel.chosen, None, "seed {seed}: decided at 81 ms");
        assert!(
            duel.violations.is_empty(),
            "seed {seed}: {:?}",
            duel.violations
        );
    }
}

/// With no adversary, the duel hardly happens. With every message taking exactly
/// 10 ms, the later proposer's first ballot wins before the earlier one can retry, with
/// or without backoff: all 200 runs decide within 40 ms. With delays of 5 to 10 ms,
/// backoff still decides all 200 within 40 ms, and without it some run longer.
#[test]
fn without_an_adversary_backoff_only_shortens_the_tail() {
    let within = |backoff, delay, seed| {
        let race = livelock::race(backoff, seed, delay, secs(10)).unwrap();
        assert!(
            race.decided_at.is_some(),
            "seed {seed}: undecided after 10 s"
        );
        race.decided_at.is_some_and(|t| t <= ms(40))
    };
    let count = |backoff, delay| (0..200).filter(|&s| within(backoff, delay, s)).count();
    let equal = (ms(10), ms(10));
    assert_eq!(count(true, equal), 200);
    assert_eq!(count(false, equal), 200);
    let jittery = (ms(5), ms(10));
    assert_eq!(count(true, jittery), 200);
    let without = count(false, jittery);
    assert!(
        without < 200,
        "without backoff, {without} of 200 within 40 ms"
    );
}
