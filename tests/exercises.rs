//! The exercises' tests. `cargo test` runs them against the reference solutions;
//! `cargo test --features ex0_1 --test exercises ex0_1` runs exercise 0.1's tests
//! against the reader's own code in `chapters/ch00-world/exercises/`.

use std::time::Duration;

use quorum::detector::{DetectorConfig, GapHistory};
use quorum::exercises::{adaptive_timeout, slow_node};
use quorum::runtime::cluster::{ms, n, secs};
use quorum::runtime::{Action, Faults, SimConfig, Time};

mod common;
use common::{detector_sim, everyone_learned, OrSeed};

// --- Exercise 0.1: a slow node -------------------------------------------------------

#[test]
fn ex0_1_a_slow_nodes_delay_is_tenfold_with_a_floor() {
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
fn ex0_1_only_the_slow_nodes_messages_are_late() {
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
fn ex0_1_a_slow_node_is_suspected_and_its_fast_peers_are_not() {
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

// --- Exercise 0.2: an adaptive timeout -----------------------------------------------

fn history(gaps_ms: &[u64]) -> GapHistory {
    let mut h = GapHistory::default();
    for &g in gaps_ms {
        h.push(ms(g));
    }
    h
}

#[test]
fn ex0_2_too_few_gaps_keep_the_configured_timeout() {
    let t = adaptive_timeout::adaptive_timeout(&history(&[100, 100]), ms(100), ms(500));
    assert_eq!(t, ms(500));
}

#[test]
fn ex0_2_steady_gaps_give_mean_plus_one_heartbeat_but_never_below_the_floor() {
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
fn ex0_2_jitter_widens_the_timeout_by_four_deviations() {
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
fn ex0_2_adaptive_timeouts_stop_false_suspicions_and_still_catch_crashes() {
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
        let (id, chapter) = (cols[0], cols[1]);
        assert!(
            root.join(cols[5]).exists(),
            "{id}: starter {} is missing",
            cols[5]
        );
        let starters = root.join("chapters").join(chapter).join("exercises");
        let marked = std::fs::read_dir(&starters)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .any(|text| text.contains(&format!("TODO({id})")) && text.contains("todo!("));
        assert!(
            marked,
            "{id}: no starter under {} is marked TODO({id}) with todo!()",
            starters.display()
        );
        let page = cols[7].split('#').next().unwrap();
        assert!(
            root.join("book/src").join(page).exists(),
            "{id}: book page {page} is missing"
        );
        count += 1;
    }
    assert!(count >= 2, "chapter 0 ships at least two exercises");
}

// --- Chapter 1: Paxos ----------------------------------------------------------------

use quorum::exercises::{backoff, promise, value_to_propose};
use quorum::paxos::{run as paxos_run, Ballot, PaxosConfig};
use quorum::runtime::{NodeId, Rng};

fn b(round: u64, node: u32) -> Ballot {
    Ballot::new(round, NodeId(node))
}

/// 200 dueling runs (3 proposers, 5 acceptors, loss, delays, an acceptor crash): no
/// safety violation, and every run decides.
fn paxos_duels_stay_safe_and_decide() {
    for seed in 0..200 {
        let faults = Faults {
            drop: 0.2,
            delay: (ms(0), ms(15)),
            duplicate: 0.05,
        };
        let config = SimConfig {
            faults,
            ..SimConfig::new(5, seed)
        };
        let (mut sim, agreement) =
            paxos_run::checked_sim(config, &PaxosConfig::new(5, None), 3).unwrap();
        sim.schedule_at(Time(20_000), Action::Crash(n(5))).unwrap();
        sim.schedule_at(Time(60_000), Action::Restart(n(5)))
            .unwrap();
        sim.schedule_at(Time(500_000), Action::SetFaults(Faults::reliable()))
            .unwrap();
        let decided = sim
            .run_until_true(Time(5_000_000), everyone_learned)
            .unwrap();
        assert!(
            sim.violations().is_empty(),
            "seed {seed}: {}",
            sim.violations()[0]
        );
        assert!(decided, "seed {seed}: undecided after 5 s");
        assert_eq!(agreement.borrow().chosen_values().len(), 1, "seed {seed}");
    }
}

#[test]
fn ex1_1_with_no_acceptance_reported_propose_your_own_value() {
    let promises = vec![(NodeId(1), None), (NodeId(2), None)];
    assert_eq!(
        value_to_propose::value_to_propose(&promises, &"mine".to_string()),
        "mine"
    );
}

#[test]
fn ex1_1_the_highest_ballot_acceptance_wins_whatever_the_order() {
    let a = |r, n, v: &str| Some((b(r, n), v.to_string()));
    let promises = vec![
        (NodeId(1), a(1, 2, "old")),
        (NodeId(2), a(2, 1, "newest")),
        (NodeId(3), None),
    ];
    assert_eq!(
        value_to_propose::value_to_propose(&promises, &"mine".to_string()),
        "newest"
    );
    let reversed: Vec<_> = promises.into_iter().rev().collect();
    assert_eq!(
        value_to_propose::value_to_propose(&reversed, &"mine".to_string()),
        "newest"
    );
    // Same round: the node breaks the tie.
    let tie = vec![(NodeId(1), a(3, 1, "by n1")), (NodeId(2), a(3, 2, "by n2"))];
    assert_eq!(
        value_to_propose::value_to_propose(&tie, &"mine".to_string()),
        "by n2"
    );
}

#[test]
fn ex1_1_dueling_proposers_stay_safe() {
    paxos_duels_stay_safe_and_decide();
}

#[test]
fn ex1_2_an_acceptor_refuses_ballots_below_its_promise() {
    assert!(!promise::may_promise(b(2, 1), b(1, 2)));
    assert!(!promise::may_accept(b(2, 1), b(1, 2)));
    assert!(
        !promise::may_accept(b(2, 2), b(2, 1)),
        "same round, lower node: a lower ballot"
    );
    assert!(promise::may_promise(b(1, 2), b(2, 1)));
    assert!(promise::may_accept(b(1, 2), b(2, 1)));
    assert!(promise::may_promise(Ballot::NONE, b(1, 1)));
}

#[test]
fn ex1_2_the_promised_ballot_itself_is_welcome() {
    assert!(
        promise::may_promise(b(3, 2), b(3, 2)),
        "a duplicated prepare is promised again"
    );
    assert!(
        promise::may_accept(b(3, 2), b(3, 2)),
        "the promised ballot's accept is accepted"
    );
}

#[test]
fn ex1_2_dueling_proposers_stay_safe() {
    paxos_duels_stay_safe_and_decide();
}

#[test]
fn ex1_3_the_wait_stays_within_a_window_that_doubles() {
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
fn ex1_3_the_wait_is_random() {
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
fn ex1_3_dueling_proposers_decide() {
    paxos_duels_stay_safe_and_decide();
}

// --- Chapter 3: Raft leader election ---------------------------------------------------

use quorum::exercises::{check_quorum, pre_vote};
use quorum::raft::node::{Request, Response};
use quorum::raft::{run as raft_run, LogPosition, RaftConfig, RaftNode};
use quorum::runtime::Cluster;

fn pos(term: u64, index: u64) -> LogPosition {
    LogPosition { term, index }
}

fn raft_cluster(nodes: usize, seed: u64, tweak: impl Fn(&mut RaftConfig)) -> Cluster<RaftNode> {
    let mut config = RaftConfig::new(nodes);
    tweak(&mut config);
    raft_run::cluster(config, seed).unwrap()
}

#[test]
fn ex3_1_a_pre_vote_is_granted_only_for_a_newer_term_no_live_leader_and_a_log_as_good() {
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
fn ex3_1_a_rejoining_node_does_not_disturb_a_stable_leader() {
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
fn ex3_2_a_leader_counts_itself_and_the_followers_heard_within_the_window() {
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
fn ex3_2_a_leader_cut_off_from_the_majority_steps_down() {
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
fn ex3_3_leadership_moves_to_the_chosen_follower_at_once() {
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
fn ex3_3_a_transfer_is_refused_by_a_follower_or_to_a_node_that_is_not_a_follower() {
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
fn ex3_3_a_transfer_to_a_follower_whose_log_is_behind_is_refused() {
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
