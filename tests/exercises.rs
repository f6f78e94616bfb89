//! The exercises' tests. `cargo test` runs them against the reference solutions;
//! `cargo test --features ex0_2 --test exercises ex0_2` runs exercise 0.2's tests
//! against the reader's own code in `chapters/ch00-world/exercises/`.

use std::time::Duration;

use quorum::detector::{DetectorConfig, GapHistory};
use quorum::exercises::{adaptive_timeout, slow_node};
use quorum::runtime::cluster::{ms, n, secs};
use quorum::runtime::{Action, Faults, SimConfig, Time};

mod common;
use common::{detector_sim, OrSeed};

// --- Exercise 0.1: the failure detector ---------------------------------------------

/// Runs `ch00-world` with `args`.
fn ch00(args: &str) {
    chapter("ch00-world", env!("CARGO_BIN_EXE_ch00-world"), args);
}

/// n3 crashes for good and n4 crashes and comes back: at the end every live node
/// suspects n3 (completeness) and none suspects n4 or anyone else (accuracy).
#[test]
fn ex0_1_a_crash_is_suspected_and_a_restart_is_trusted_again() {
    ch00(
        "sim --seeds 0..300 --nodes 5 --delay 1ms..10ms --crash 3@1s \
         --crash 4@500ms..1500ms --duration 4s",
    );
}

/// A partition cuts n1 and n2 off for a second; once it heals, nobody suspects anybody.
#[test]
fn ex0_1_a_healed_partition_leaves_no_suspicion() {
    ch00("sim --seeds 0..300 --nodes 5 --delay 1ms..10ms --partition 1,2|3,4,5@500ms..1500ms --duration 4s");
}

/// On a network that loses, duplicates and reorders heartbeats, a crash is still
/// suspected by every live node.
#[test]
fn ex0_1_a_crash_is_suspected_on_a_lossy_network() {
    ch00(
        "sim --seeds 0..300 --nodes 5 --drop 0.1 --duplicate 0.1 --delay 0ms..20ms \
         --crash 2@1s --duration 3s",
    );
}

// --- Exercise 0.2: a slow node -------------------------------------------------------

#[test]
fn ex0_2_a_slow_nodes_delay_is_tenfold_with_a_floor() {
    assert_eq!(slow_node::slow_delay(ms(2)), ms(20));
    assert_eq!(slow_node::slow_delay(ms(7)), ms(70));
    assert_eq!(
        slow_node::slow_delay(Duration::ZERO),
        slow_node::SLOW_FLOOR * 10
    );
    assert_eq!(
        slow_node::slow_delay(Duration::from_micros(300)),
        slow_node::SLOW_FLOOR * 10
    );
}

/// On a network with a fixed 3 ms delay, only the slow node's messages take 30 ms.
#[test]
fn ex0_2_only_the_slow_nodes_messages_are_late() {
    let faults = Faults {
        delay: (ms(3), ms(3)),
        ..Faults::reliable()
    };
    let config = SimConfig {
        faults,
        trace: quorum::runtime::TraceLevel::Everything,
        ..SimConfig::new(3, 1)
    };
    let mut sim = detector_sim(config, DetectorConfig::default());
    sim.schedule_at(Time::ZERO, Action::Slow(n(2), true))
        .unwrap();
    sim.run_for(secs(1)).unwrap();
    let records = sim.records();
    let sent: std::collections::HashMap<u64, (u32, u64)> = records
        .iter()
        .filter(|r| r.event == "send")
        .map(|r| (r.u64_field("id").unwrap(), (r.node.0, r.t_us)))
        .collect();
    let mut seen = 0;
    for r in records.iter().filter(|r| r.event == "deliver") {
        let (from, at) = sent[&r.u64_field("id").unwrap()];
        let took = r.t_us - at;
        let expected = if from == 2 { 30_000 } else { 3_000 };
        assert_eq!(took, expected, "a message from n{from} took {took}us");
        seen += 1;
    }
    assert!(seen > 50);
}

/// A slow node on a jittery network is suspected now and then; its fast peers are not.
#[test]
fn ex0_2_a_slow_node_is_suspected_and_its_fast_peers_are_not() {
    let faults = Faults {
        delay: (ms(1), ms(8)),
        ..Faults::reliable()
    };
    let detector = DetectorConfig {
        heartbeat: ms(20),
        timeout: ms(60),
        adaptive: false,
    };
    let config = SimConfig {
        faults,
        ..SimConfig::new(3, 2)
    };
    let mut sim = detector_sim(config, detector);
    sim.schedule_at(Time::ZERO, Action::Slow(n(3), true))
        .unwrap();
    sim.run_for(secs(3)).unwrap();
    let suspected: Vec<u64> = sim
        .records()
        .iter()
        .filter(|r| r.event == "suspect")
        .map(|r| r.u64_field("peer").unwrap())
        .collect();
    assert!(
        !suspected.is_empty(),
        "a node ten times slower than a 60ms timeout allows must be suspected"
    );
    assert!(
        suspected.iter().all(|&p| p == 3),
        "only the slow node may be suspected: {suspected:?}"
    );
}

// --- Exercise 0.3: an adaptive timeout -----------------------------------------------

fn history(gaps_ms: &[u64]) -> GapHistory {
    let mut h = GapHistory::default();
    for &g in gaps_ms {
        h.push(ms(g));
    }
    h
}

#[test]
fn ex0_3_too_few_gaps_keep_the_configured_timeout() {
    let t = adaptive_timeout::adaptive_timeout(&history(&[100, 100]), ms(100), ms(500));
    assert_eq!(t, ms(500));
}

#[test]
fn ex0_3_steady_gaps_give_mean_plus_one_heartbeat_but_never_below_the_floor() {
    let steady = history(&[100; 10]);
    assert_eq!(
        adaptive_timeout::adaptive_timeout(&steady, ms(100), ms(50)),
        ms(200)
    );
    assert_eq!(
        adaptive_timeout::adaptive_timeout(&steady, ms(100), ms(500)),
        ms(500)
    );
}

#[test]
fn ex0_3_jitter_widens_the_timeout_by_four_deviations() {
    let h = history(&[80, 120, 80, 120, 80, 120]);
    // mean 100ms, sample standard deviation ~21.9ms: 100 + 4 * 21.9 + 50 = 237.6ms
    let t = adaptive_timeout::adaptive_timeout(&h, ms(50), ms(10));
    let expected = 100_000.0 + 4.0 * h.std_dev_us() + 50_000.0;
    assert!(
        (t.as_micros() as f64 - expected).abs() <= 1.0,
        "{t:?} vs {expected}us"
    );
}

/// On a network whose delays vary from 0 to 150 ms, a fixed 100 ms timeout suspects
/// live nodes again and again; the adaptive one learns the jitter and stops, and still
/// notices a crash within a second.
#[test]
fn ex0_3_adaptive_timeouts_stop_false_suspicions_and_still_catch_crashes() {
    let run = |adaptive: bool| {
        let faults = Faults {
            delay: (ms(0), ms(150)),
            ..Faults::reliable()
        };
        let detector = DetectorConfig {
            heartbeat: ms(50),
            timeout: ms(100),
            adaptive,
        };
        let config = SimConfig {
            faults,
            ..SimConfig::new(4, 3)
        };
        let mut sim = detector_sim(config, detector);
        sim.schedule_at(Time(20_000_000), Action::Crash(n(4)))
            .unwrap();
        sim.run_for(secs(2)).unwrap(); // learning
        let learned = sim.records().len();
        sim.run_until(Time(20_000_000)).unwrap();
        let false_suspicions = sim.records()[learned..]
            .iter()
            .filter(|r| r.event == "suspect")
            .count();
        sim.run_for(secs(1)).unwrap();
        let caught = sim.live_nodes().all(|(_, d)| d.suspects_peer(n(4)));
        (false_suspicions, caught)
    };
    let (fixed_false, fixed_caught) = run(false);
    let (adaptive_false, adaptive_caught) = run(true);
    assert!(
        fixed_false > 20,
        "the fixed timeout should be fooled often, was {fixed_false}"
    );
    assert!(
        adaptive_false <= 2,
        "the adaptive timeout suspected live nodes {adaptive_false} times in 18s"
    );
    assert!(
        fixed_caught && adaptive_caught,
        "a crash must still be caught within a second"
    );
}

/// The exercise list names files that exist, and each starter marks its gap.
#[test]
fn every_listed_exercise_has_a_marked_starter_and_a_solution() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let list = std::fs::read_to_string(root.join("chapters/exercises.tsv")).unwrap();
    let mut count = 0;
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols.len(),
            11,
            "chapters/exercises.tsv: '{line}' needs 11 tab-separated columns"
        );
        let (id, kind, starter) = (cols[0], cols[2], root.join(cols[5]));
        let text = std::fs::read_to_string(&starter)
            .unwrap_or_else(|e| panic!("{id}: starter {}: {e}", starter.display()));
        // A find-the-bug starter is whole code with a bug in it: it has no gap.
        let gap = kind == "find-the-bug" || text.contains("todo!(");
        assert!(
            text.contains(&format!("TODO({id})")) && gap,
            "{id}: {} is not marked TODO({id}) with todo!()",
            starter.display()
        );
        let page = cols[7].split('#').next().unwrap();
        assert!(
            root.join("book/src").join(page).exists(),
            "{id}: book page {page} is missing"
        );
        count += 1;
    }
    assert!(count >= 9, "the list lost exercises: {count}");
}

// --- Chapter 1: Paxos ----------------------------------------------------------------

use quorum::exercises::backoff;
use quorum::runtime::Rng;

/// Runs a chapter binary, built from the same code as these tests (the reader's, under
/// an exercise feature), with `args`, as the reader would type them. Passes when it
/// exits with 0; else fails with what it printed: the property violated, the failing
/// seed or counterexample, and the command that replays it.
fn chapter(program: &str, exe: &str, args: &str) {
    let out = std::process::Command::new(exe)
        .args(args.split_whitespace())
        .env("RUST_LOG", "off")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("could not run {exe}: {e}"));
    if out.status.success() {
        return;
    }
    let invocation = quorum::exercises::invocation(program);
    // The first failures (a sweep lists failing seeds in order, lowest first) and the
    // summary at the end.
    let printed = |bytes: &[u8]| -> String {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() <= 40 {
            return lines.join("\n");
        }
        let (head, tail) = (&lines[..30], &lines[lines.len() - 5..]);
        format!("{}\n…\n{}", head.join("\n"), tail.join("\n"))
    };
    panic!(
        "{invocation} {args}\nfails ({}):\n{}\n{}\n\
         Replay a failing seed with the command printed above; add --svg run.svg to draw \
         the run and --trace run.jsonl to read every step.",
        out.status,
        printed(&out.stdout),
        printed(&out.stderr),
    );
}

/// Runs `ch01-paxos` with `args`.
fn ch01(args: &str) {
    chapter("ch01-paxos", env!("CARGO_BIN_EXE_ch01-paxos"), args);
}

/// The chapter's machinery, run against whatever code this build holds: each exercise
/// of the chapter runs all of it. Three proposers duel over five acceptors on a network
/// that loses, delays and duplicates, an acceptor crashing and restarting mid-run; the
/// checker watches every step, and at the end every learner must have learned.
fn paxos_duels() {
    ch01(
        "sim --seeds 0..300 --proposers 3 --nodes 5 --drop 0.2 --delay 0ms..15ms \
         --duplicate 0.05 --crash 5@20ms..60ms",
    );
}

/// Two acceptors crash and restart while three proposers duel on a lossy network.
fn paxos_crashes() {
    ch01(
        "sim --seeds 0..300 --proposers 3 --nodes 5 --drop 0.3 --delay 0ms..5ms \
         --crash 4@10ms..80ms --crash 2@30ms..150ms",
    );
}

/// Every order of deliveries and losses of two proposers and three acceptors, one
/// ballot each, with a crash and restart of any node at any step.
fn paxos_explored() {
    ch01("explore --ballots 1 --crashes 1");
}

/// Random walks through two ballots each, with a crash: deeper runs than the exhaustive
/// search of one ballot reaches.
fn paxos_walks() {
    ch01("explore --ballots 2 --walks 3000 --crashes 1");
}

#[test]
fn ex1_1_dueling_proposers_stay_safe_and_decide() {
    paxos_duels();
}

#[test]
fn ex1_1_acceptors_that_crash_and_restart_keep_their_word() {
    paxos_crashes();
}

#[test]
fn ex1_1_every_order_of_deliveries_with_a_crash_is_safe() {
    paxos_explored();
}

#[test]
fn ex1_1_random_walks_through_two_ballots_are_safe() {
    paxos_walks();
}

#[test]
fn ex1_2_dueling_proposers_stay_safe_and_decide() {
    paxos_duels();
}

#[test]
fn ex1_2_acceptors_that_crash_and_restart_keep_their_word() {
    paxos_crashes();
}

#[test]
fn ex1_2_every_order_of_deliveries_with_a_crash_is_safe() {
    paxos_explored();
}

#[test]
fn ex1_2_random_walks_through_two_ballots_are_safe() {
    paxos_walks();
}

#[test]
fn ex1_3_dueling_proposers_stay_safe_and_decide() {
    paxos_duels();
}

#[test]
fn ex1_3_acceptors_that_crash_and_restart_keep_their_word() {
    paxos_crashes();
}

#[test]
fn ex1_3_random_walks_through_two_ballots_are_safe() {
    paxos_walks();
}

#[test]
fn ex1_4_the_wait_stays_within_a_window_that_doubles() {
    let mut rng = Rng::new(1);
    let retry = ms(10);
    for refusals in 0..10u32 {
        let window = retry * 2u32.pow(refusals.min(backoff::MAX_DOUBLINGS));
        let draws: Vec<Duration> = (0..500)
            .map(|_| backoff::backoff(retry, refusals, &mut rng))
            .collect();
        assert!(
            draws.iter().all(|d| *d <= window),
            "refusals {refusals}: beyond {window:?}"
        );
        let max = *draws.iter().max().unwrap();
        assert!(
            max > window * 3 / 4,
            "refusals {refusals}: the window is not used ({max:?} of {window:?})"
        );
    }
}

#[test]
fn ex1_4_the_wait_is_random() {
    let mut rng = Rng::new(2);
    let draws: std::collections::BTreeSet<Duration> = (0..100)
        .map(|_| backoff::backoff(ms(10), 2, &mut rng))
        .collect();
    assert!(
        draws.len() > 50,
        "only {} distinct waits in 100 draws: not random",
        draws.len()
    );
    assert!(
        draws.iter().any(|d| *d < ms(20)),
        "the window starts at zero"
    );
}

#[test]
fn ex1_4_dueling_proposers_decide() {
    paxos_duels();
}

// --- Chapter 3: Raft leader election ---------------------------------------------------

/// Runs `ch03-raft-election` with `args`.
fn ch03(args: &str) {
    chapter(
        "ch03-raft-election",
        env!("CARGO_BIN_EXE_ch03-raft-election"),
        args,
    );
}

/// The chapter's safety sweep: three nodes, delays up to half an election timeout, the
/// leader crashed every 700 ms; Election Safety and one vote per term on every step.
/// Votes that arrive a whole term late come up a few times per thousand seeds.
fn raft_sweep() {
    ch03(
        "sim --seeds 0..2000 --nodes 3 --delay 0ms..150ms --crash-leader-every 700ms \
         --duration 5s",
    );
}

/// Five nodes on a network that loses, delays and duplicates, a partition that cuts
/// off two of them for half a second, and the leader crashed every 700 ms.
fn raft_chaos() {
    ch03(
        "sim --seeds 0..300 --nodes 5 --drop 0.2 --delay 0ms..30ms --duplicate 0.05 \
         --partition 1,2|3,4,5@500ms..1s --crash-leader-every 700ms",
    );
}

/// Every node crashes just after the first election starts, one after another, and
/// restarts 20 ms later; then the leader is crashed every 500 ms. What a node forgets
/// across a restart, it may do twice.
fn raft_restarts(nodes: usize) {
    let crashes: String = (1..=nodes)
        .map(|i| {
            let at = 140 + 20 * i;
            format!(" --crash {i}@{at}ms..{}ms", at + 20)
        })
        .collect();
    ch03(&format!(
        "sim --seeds 0..300 --nodes {nodes} --delay 1ms..20ms{crashes} \
         --crash-leader-every 500ms"
    ));
}

/// Elections end: after a partition heals, on a network that loses nothing, every node
/// follows one leader within two seconds ("a leader once faults heal").
fn raft_elects() {
    ch03("sim --seeds 0..200 --nodes 5 --delay 1ms..10ms --partition 1,2|3,4,5@300ms..800ms");
}

/// §5.4.1: n1 and n2 hold an entry of term 1 that n3 lacks, and the leader is crashed
/// over and over: n3 must never lead, for a leader lacking an entry a majority holds
/// could not have it committed (chapter 4). The chapter's own scenario (tests/raft.rs).
fn raft_restriction() {
    for seed in 0..20 {
        let (violations, leaders) = common::shorter_log_scenario(seed, None);
        assert!(violations.is_empty(), "seed {seed}: {}", violations[0]);
        if let Some(l) = leaders.iter().find(|l| l.node == n(3)) {
            panic!(
                "seed {seed}: n3 led term {} with a log behind those of n1 and n2: \
                 the election restriction (§5.4.1) was not applied \
                 (the scenario is shorter_log_scenario in tests/common/mod.rs)",
                l.term
            );
        }
        assert!(
            leaders.len() >= 5,
            "seed {seed}: fewer than 5 elections won in 4.5 s"
        );
    }
}

#[test]
fn ex3_1_the_safety_sweep_finds_no_two_leaders_in_a_term() {
    raft_sweep();
}

#[test]
fn ex3_1_a_lossy_partitioned_network_stays_safe() {
    raft_chaos();
}

#[test]
fn ex3_1_restarted_voters_keep_their_votes() {
    raft_restarts(5);
}

#[test]
fn ex3_1_elections_end_once_the_partition_heals() {
    raft_elects();
}

#[test]
fn ex3_1_a_node_whose_log_is_behind_never_leads() {
    raft_restriction();
}

#[test]
fn ex3_2_the_safety_sweep_finds_no_two_leaders_in_a_term() {
    raft_sweep();
}

#[test]
fn ex3_2_a_lossy_partitioned_network_stays_safe() {
    raft_chaos();
}

#[test]
fn ex3_2_restarted_candidates_keep_their_votes() {
    raft_restarts(5);
}

#[test]
fn ex3_2_elections_end_once_the_partition_heals() {
    raft_elects();
}

#[test]
fn ex3_3_restarts_of_five_nodes_stay_safe() {
    raft_restarts(5);
}

#[test]
fn ex3_3_restarts_of_three_nodes_stay_safe() {
    raft_restarts(3);
}

use quorum::exercises::{check_quorum, pre_vote};
use quorum::raft::node::{Request, Response};
use quorum::raft::{run as raft_run, LogPosition, RaftConfig, RaftNode};
use quorum::runtime::Cluster;
use quorum::runtime::NodeId;

fn pos(term: u64, index: u64) -> LogPosition {
    LogPosition { term, index }
}

fn raft_cluster(nodes: usize, seed: u64, tweak: impl Fn(&mut RaftConfig)) -> Cluster<RaftNode> {
    let mut config = RaftConfig::new(nodes);
    tweak(&mut config);
    raft_run::cluster(config, seed).unwrap()
}

#[test]
fn ex3_4_a_pre_vote_is_granted_only_for_a_newer_term_no_live_leader_and_a_log_as_good() {
    // Term 4 asks a voter in term 3 whose log is as good: yes.
    assert!(pre_vote::grant_pre_vote(4, pos(2, 5), 3, pos(2, 5), false));
    // Not for the voter's own term or an older one.
    assert!(!pre_vote::grant_pre_vote(3, pos(2, 5), 3, pos(2, 5), false));
    assert!(!pre_vote::grant_pre_vote(2, pos(2, 5), 3, pos(2, 5), false));
    // Not while the voter hears from a leader.
    assert!(!pre_vote::grant_pre_vote(4, pos(2, 5), 3, pos(2, 5), true));
    // Not for a log behind the voter's (§5.4.1), by length or by last term.
    assert!(!pre_vote::grant_pre_vote(4, pos(2, 4), 3, pos(2, 5), false));
    assert!(!pre_vote::grant_pre_vote(4, pos(1, 9), 3, pos(2, 5), false));
    assert!(pre_vote::grant_pre_vote(4, pos(3, 1), 3, pos(2, 5), false));
}

/// Thesis §9.6: a follower cut off for two seconds times out again and again; when it
/// comes back, the leader and its term are untouched. Without PreVote (the same
/// scenario with it off) the returning node's higher term unseats the leader.
#[test]
fn ex3_4_a_rejoining_node_does_not_disturb_a_stable_leader() {
    let rejoin = |pre_vote: bool, seed: u64| {
        let mut cluster = raft_cluster(5, seed, |c| c.pre_vote = pre_vote);
        let (leader, term) = cluster.check_one_leader().or_seed(seed);
        let follower = cluster.ids().into_iter().find(|&i| i != leader).unwrap();
        cluster.disconnect(follower).unwrap();
        cluster.run_for(secs(2)).unwrap();
        cluster.connect(follower).unwrap();
        cluster.run_for(secs(1)).unwrap();
        assert!(cluster.violations().is_empty());
        (cluster.check_one_leader().or_seed(seed), (leader, term))
    };
    for seed in 0..10 {
        let (after, before) = rejoin(true, seed);
        assert_eq!(
            after, before,
            "seed {seed}: with PreVote the leader changed"
        );
        let (after, before) = rejoin(false, seed);
        assert!(
            after.1 > before.1,
            "seed {seed}: without PreVote the term stayed"
        );
    }
}

#[test]
fn ex3_5_a_leader_counts_itself_and_the_followers_heard_within_the_window() {
    use std::collections::BTreeMap;
    let now = Time(1_000_000);
    let window = ms(150);
    let heard = |pairs: &[(u32, u64)]| -> BTreeMap<NodeId, Time> {
        pairs.iter().map(|&(n, t)| (NodeId(n), Time(t))).collect()
    };
    // Five nodes: the leader and two recent followers make three.
    assert!(check_quorum::leader_has_quorum(
        n(1),
        5,
        &heard(&[(2, 990_000), (3, 900_000)]),
        now,
        window
    ));
    // One of them heard too long ago: two of five is not a majority.
    assert!(!check_quorum::leader_has_quorum(
        n(1),
        5,
        &heard(&[(2, 990_000), (3, 800_000), (4, 700_000)]),
        now,
        window
    ));
    // Exactly at the edge of the window still counts.
    assert!(check_quorum::leader_has_quorum(
        n(1),
        3,
        &heard(&[(2, 850_000)]),
        now,
        window
    ));
    // Heard from nobody: a leader alone is a majority only of one.
    assert!(!check_quorum::leader_has_quorum(
        n(1),
        3,
        &heard(&[]),
        now,
        window
    ));
    assert!(check_quorum::leader_has_quorum(
        n(1),
        1,
        &heard(&[]),
        now,
        window
    ));
    // The leader's own entry, if any, is not a second vote.
    assert!(!check_quorum::leader_has_quorum(
        n(1),
        3,
        &heard(&[(1, 999_000)]),
        now,
        window
    ));
}

/// A leader cut off with one follower from the other three steps down within a few
/// election timeouts; without CheckQuorum it leads its old term forever.
#[test]
fn ex3_5_a_leader_cut_off_from_the_majority_steps_down() {
    let cut_off = |check_quorum: bool, seed: u64| {
        let mut cluster = raft_cluster(5, seed, |c| c.check_quorum = check_quorum);
        let (leader, _) = cluster.check_one_leader().or_seed(seed);
        let friend = cluster.ids().into_iter().find(|&i| i != leader).unwrap();
        let others: Vec<NodeId> = cluster
            .ids()
            .into_iter()
            .filter(|&i| i != leader && i != friend)
            .collect();
        cluster.partition(&[leader, friend], &others).unwrap();
        cluster.run_for(secs(1)).unwrap();
        assert!(cluster.violations().is_empty());
        cluster.node(leader).unwrap().is_leader()
    };
    for seed in 0..10 {
        assert!(
            !cut_off(true, seed),
            "seed {seed}: still leads with CheckQuorum"
        );
        assert!(
            cut_off(false, seed),
            "seed {seed}: stepped down without CheckQuorum"
        );
    }
    // And a leader that keeps its majority keeps leading.
    let seed = 3;
    let mut cluster = raft_cluster(5, seed, |c| c.check_quorum = true);
    let first = cluster.check_one_leader().or_seed(seed);
    cluster.run_for(secs(3)).unwrap();
    assert_eq!(cluster.check_one_leader().or_seed(seed), first);
}

/// Thesis §3.10: asked to hand over to a follower, the leader sends TimeoutNow, and the
/// follower wins the next term within a few message delays, far sooner than an
/// election timeout (150 ms), with one election and no other candidate.
#[test]
fn ex3_6_leadership_moves_to_the_chosen_follower_at_once() {
    for (seed, pre_vote) in [(1, false), (2, false), (3, true), (4, true)] {
        let mut cluster = raft_cluster(5, seed, |c| c.pre_vote = pre_vote);
        let (leader, term) = cluster.check_one_leader().or_seed(seed);
        let to = cluster
            .ids()
            .into_iter()
            .rev()
            .find(|&i| i != leader)
            .unwrap();
        let elections_before = count(&cluster, "became_candidate");
        let asked = cluster.now();
        cluster.request(leader, Request::Transfer(to)).unwrap();
        let moved = cluster
            .run_until(|s| s.node(to).is_some_and(|n| n.is_leader()), ms(50))
            .unwrap();
        assert!(
            moved,
            "seed {seed}: {to} does not lead 50 ms after the transfer"
        );
        assert_eq!(cluster.node(to).unwrap().term(), term + 1, "seed {seed}");
        assert!(cluster.now().since(asked) < ms(20), "seed {seed}");
        assert_eq!(
            count(&cluster, "became_candidate"),
            elections_before + 1,
            "seed {seed}"
        );
        let reply = cluster.replies().last().unwrap().response.clone();
        assert_eq!(reply, Response::Transferring { to, term }, "seed {seed}");
        cluster.run_for(secs(1)).unwrap();
        assert_eq!(
            cluster.check_one_leader().or_seed(seed),
            (to, term + 1),
            "seed {seed}"
        );
        assert!(cluster.violations().is_empty());
    }
}

fn count(cluster: &Cluster<RaftNode>, event: &str) -> usize {
    cluster
        .records()
        .iter()
        .filter(|r| r.event == event)
        .count()
}

/// Only a leader transfers, and only to another node of the cluster; a refusal says
/// why, and names the leader when it is asked of a follower.
#[test]
fn ex3_6_a_transfer_is_refused_by_a_follower_or_to_a_node_that_is_not_a_follower() {
    let seed = 1;
    let mut cluster = raft_cluster(3, seed, |_| {});
    let (leader, term) = cluster.check_one_leader().or_seed(seed);
    let follower = cluster.ids().into_iter().find(|&i| i != leader).unwrap();
    for (ask, to) in [(follower, leader), (leader, leader), (leader, n(9))] {
        cluster.request(ask, Request::Transfer(to)).unwrap();
        cluster.run_for(ms(1)).unwrap();
        let reply = cluster.replies().last().unwrap().response.clone();
        let Response::Refused(why) = reply else {
            panic!("asking {ask} to transfer to {to}: {reply:?}");
        };
        if ask == follower {
            assert!(why.contains(&leader.to_string()), "{why}");
        }
    }
    cluster.run_for(secs(1)).unwrap();
    assert_eq!(cluster.check_one_leader().or_seed(seed), (leader, term));
}

/// A follower whose log is behind the leader's could not win the election a transfer
/// starts (§5.4.1), so the leader refuses to hand over to it, and says why; a follower
/// that has caught up gets leadership.
#[test]
fn ex3_6_a_transfer_to_a_follower_whose_log_is_behind_is_refused() {
    let seed = 2;
    // n1 and n2 hold an entry that n3 lacks, so n3 never leads.
    let f = raft_run::factory_with_logs(&RaftConfig::new(3), vec![1, 1, 0]);
    let mut cluster = Cluster::with_config(SimConfig::new(3, seed), move |id, s| f(id, s)).unwrap();
    raft_run::install_checker(&mut cluster.sim);
    let (leader, term) = cluster.check_one_leader().or_seed(seed);
    cluster.run_for(ms(200)).unwrap();
    cluster.request(leader, Request::Transfer(n(3))).unwrap();
    cluster.run_for(ms(1)).unwrap();
    let reply = cluster.replies().last().unwrap().response.clone();
    let Response::Refused(why) = reply else {
        panic!("a transfer to n3, whose log is behind: {reply:?}");
    };
    assert!(why.contains("n3"), "{why}");
    let other = if leader == n(1) { n(2) } else { n(1) };
    cluster.request(leader, Request::Transfer(other)).unwrap();
    cluster.run_for(ms(50)).unwrap();
    assert_eq!(cluster.check_one_leader().or_seed(seed), (other, term + 1));
    assert!(
        cluster.violations().is_empty(),
        "{:?}",
        cluster.violations()
    );
}
