//! Dueling proposers: Paxos is safe under every schedule, but not live under every one.
//!
//! Two proposers can preempt each other for ever ("Paxos Made Simple", §2.4): A's
//! prepare wins a majority of promises; before A's accepts arrive, B's higher prepare
//! wins the same acceptors, so A's accepts are refused; A retries with a higher ballot,
//! whose prepare overtakes B's accepts in turn; and so on. No value is ever chosen,
//! though every message arrives and no node fails.
//!
//! The random delays of the chapter's sweeps break such a duel by chance, so this
//! module plays the network itself. It runs two proposers (n1, n2) and three acceptors
//! (n1, n2, n3) in the simulator's controlled mode, every message taking [`DELAY`], and
//! picks each next event by one rule (`next_move`):
//!
//! - everything happens in time order: messages arrive after their delay, timers fire
//!   when they are due;
//! - except an accept, which is **held back until its acceptor has promised a higher
//!   ballot**, so that it arrives only to be refused.
//!
//! The adversary is fair: it loses nothing, and every accept it holds is delivered as
//! soon as it is doomed. It cannot fire a timer early, and it does not choose (or look
//! at) the proposers' random draws: it reads only times and promises. (In the simulator
//! every draw comes from one seeded generator, so an adversary that knew the seed could
//! steer the draws by its choice of order; this one does not.)
//!
//! What it achieves, measured over 200 seeds by the tests in `tests/paxos.rs`:
//!
//! - **Without backoff** ([`duel`], `backoff: false`) the duel never ends: after 100
//!   ballots, 50 by each proposer, nothing is chosen. The adversary holds one batch of
//!   accepts once, for less than 20 ms, while the second proposer's first ballot gets
//!   going; after that it holds nothing at all. A refused proposer retries at once, its
//!   prepare reaches the acceptors at the very instant the rival's accepts do, and the
//!   adversary only has to break that tie.
//! - **With backoff, against this unbounded adversary**, nothing is chosen either. A
//!   backoff only delays the retry, and an adversary that may hold an accept as long as
//!   it likes holds it longer. It needs 80 ms at most: the held proposer's own retry
//!   timer (100 ms after its ballot began) starts a higher ballot, which dooms its own
//!   accepts. When delays have no bound, no timer can tell a slow network from a dead
//!   proposer: that is the FLP result.
//! - **With backoff, against an adversary that may hold an accept at most `max_hold`**
//!   ([`duel_within`]), the duel ends in every run: with holds of at most 20 ms, a value
//!   is chosen by the third ballot; of at most 80 ms, by the ninth. To go on, the duel needs the
//!   refused proposer's random wait to end within the hold, and the backoff window
//!   (200 ms, then 400 ms, …) makes that ever less likely. Without backoff the same
//!   bounded adversary (20 ms) keeps every run going for 100 ballots. With holds of
//!   81 ms or more, the self-preemption above returns: a bound on delays helps only if
//!   it is shorter than the retry timeout allows for a ballot.
//!
//! [`race`] runs the same two proposers in the ordinary simulator, with no adversary,
//! for comparison.

use std::collections::HashMap;
use std::time::Duration;

use super::proposer::Proposer;
use super::{run, Msg, PaxosConfig, PaxosNode, Value};
use crate::check::Violation;
use crate::error::Result;
use crate::runtime::sim::{Pending, PendingWhat};
use crate::runtime::trace::Record;
use crate::runtime::{Faults, NodeId, Sim, SimConfig, Time, TraceLevel};

/// How many nodes a duel has: three acceptors, the first two of which also propose.
pub const NODES: usize = 3;

/// How many of them propose: n1 and n2.
pub const PROPOSERS: usize = 2;

/// The network's delay in a duel, the same for every message. The adversary adds to it
/// by holding accepts back; that every hop takes time gives the duel's space-time
/// diagram room to show each one.
pub const DELAY: Duration = Duration::from_millis(10);

/// What a duel came to.
#[derive(Clone, Debug)]
pub struct Duel {
    /// How many ballots each proposer started, n1 first.
    pub ballots: Vec<(NodeId, u64)>,
    /// How many of those ballots were refused while they were their proposer's current
    /// one (a ballot its own proposer gave up on first is not counted).
    pub refused: u64,
    /// The value chosen, if the adversary could not prevent it.
    pub chosen: Option<Value>,
    /// The longest the adversary held a delivered message back, beyond [`DELAY`].
    pub longest_hold: Duration,
    /// The virtual time when the duel stopped.
    pub elapsed: Duration,
    /// Safety violations seen on the way: none, whatever the schedule.
    pub violations: Vec<Violation>,
    /// The whole trace, the runtime's sends and deliveries included, for a space-time
    /// diagram ([`crate::viz`]).
    pub records: Vec<Record>,
}

impl Duel {
    /// Ballots started by both proposers together.
    pub fn total_ballots(&self) -> u64 {
        self.ballots.iter().map(|(_, b)| b).sum()
    }
}

// ANCHOR: duel
/// Two proposers, three acceptors, and an adversary that may hold an accept back for as
/// long as it likes: the duel goes on until `rounds` ballots have been started in all,
/// or a value is chosen. `backoff` switches the proposers' randomized backoff; `seed`
/// decides their random draws (when each first starts, and each backoff).
pub fn duel(rounds: usize, backoff: bool, seed: u64) -> Result<Duel> {
    play(rounds, backoff, seed, None)
}

/// [`duel`] against an adversary that may hold an accept back at most `max_hold` beyond
/// the network's [`DELAY`]: a network whose delays are bounded.
pub fn duel_within(rounds: usize, backoff: bool, seed: u64, max_hold: Duration) -> Result<Duel> {
    play(rounds, backoff, seed, Some(max_hold))
}
// ANCHOR_END: duel

// ANCHOR: adversary
/// The adversary's next move: the pending event it lets happen next (`None` when
/// nothing is pending). Events happen in time order, except that an accept is held back
/// until its acceptor has promised a higher ballot, so that it arrives only to be
/// refused; a bounded adversary must let it go after `max_hold`.
fn next_move(sim: &Sim<PaxosNode>, max_hold: Option<Duration>) -> Option<u64> {
    sim.pending()
        .iter()
        .filter_map(|p| Some((release(sim, p, max_hold)?, p.seq)))
        .min()
        .map(|(_, seq)| seq)
}

/// When the adversary lets pending event `p` happen: when it is due, unless it is an
/// accept that its acceptor would still take. That one waits for `max_hold` more, or
/// for ever (`None`) if the adversary is unbounded; once a higher promise dooms it,
/// it is due again.
fn release(
    sim: &Sim<PaxosNode>,
    p: &Pending<'_, PaxosNode>,
    max_hold: Option<Duration>,
) -> Option<Time> {
    if let PendingWhat::Deliver {
        to,
        msg: Msg::Accept { ballot, .. },
        ..
    } = p.what
    {
        let doomed = sim
            .node(to)
            .is_some_and(|acceptor| acceptor.acceptor.promised > *ballot);
        if !doomed {
            return max_hold.map(|hold| p.at + hold);
        }
    }
    Some(p.at)
}
// ANCHOR_END: adversary

// ANCHOR: play
/// Plays the duel: the adversary moves until `rounds` ballots have started, a value is
/// chosen, nothing is pending, or a generous step budget runs out.
fn play(rounds: usize, backoff: bool, seed: u64, max_hold: Option<Duration>) -> Result<Duel> {
    let mut base = PaxosConfig::new(NODES, None);
    base.backoff = backoff;
    base.query_every = None; // learners stay quiet: only the duel's messages fly
    let config = SimConfig {
        nodes: NODES,
        seed,
        faults: Faults {
            delay: (DELAY, DELAY),
            ..Faults::reliable()
        },
        trace: TraceLevel::Everything,
    };
    let (mut sim, agreement) = run::checked_sim(config, &base, PROPOSERS)?;
    let rounds = u64::try_from(rounds).unwrap_or(u64::MAX);
    let budget = rounds.saturating_add(1).saturating_mul(1_000);
    while ballots_started(&sim) < rounds
        && agreement.borrow().chosen_values().is_empty()
        && sim.steps() < budget
    {
        match next_move(&sim, max_hold) {
            Some(seq) => sim.step_pending(seq)?,
            None => break,
        }
    }
    let chosen = agreement.borrow().chosen_values().into_iter().next();
    let records = sim.take_records();
    Ok(Duel {
        ballots: proposers(&sim)
            .map(|(id, p)| (id, p.ballots_tried))
            .collect(),
        refused: proposers(&sim).map(|(_, p)| u64::from(p.refusals)).sum(),
        chosen,
        longest_hold: longest_hold(&records),
        elapsed: sim.now().as_duration(),
        violations: sim.violations().to_vec(),
        records,
    })
}
// ANCHOR_END: play

/// Every live proposer, with its id.
fn proposers(sim: &Sim<PaxosNode>) -> impl Iterator<Item = (NodeId, &Proposer)> {
    sim.live_nodes()
        .filter_map(|(id, n)| n.proposer.as_ref().map(|p| (id, p)))
}

/// Ballots started by every proposer together.
fn ballots_started(sim: &Sim<PaxosNode>) -> u64 {
    proposers(sim).map(|(_, p)| p.ballots_tried).sum()
}

/// The longest any delivered message took beyond [`DELAY`], read from the trace's
/// `send` and `deliver` records (matched by message id).
fn longest_hold(records: &[Record]) -> Duration {
    let id = |r: &Record| r.fields.get("id").and_then(|v| v.as_u64());
    let mut sent: HashMap<u64, u64> = HashMap::new();
    let mut longest = Duration::ZERO;
    for r in records {
        match (r.event.as_str(), id(r)) {
            ("send", Some(i)) => {
                sent.insert(i, r.t_us);
            }
            ("deliver", Some(i)) => {
                if let Some(at) = sent.get(&i) {
                    let took = Duration::from_micros(r.t_us.saturating_sub(*at));
                    longest = longest.max(took.saturating_sub(DELAY));
                }
            }
            _ => {}
        }
    }
    longest
}

/// What came of a duel in the ordinary simulator, with no adversary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Race {
    /// Ballots started by both proposers until a value was chosen (or the deadline).
    pub ballots: u64,
    /// When a value was chosen, if it was by the deadline.
    pub decided_at: Option<Duration>,
}

// ANCHOR: race
/// The same two proposers and three acceptors in the ordinary simulator, with no
/// adversary: every message is delayed by a uniform draw from `delay` (equal bounds:
/// every message takes exactly that long), and the run stops when a value is chosen or
/// at `deadline` of virtual time.
pub fn race(
    backoff: bool,
    seed: u64,
    delay: (Duration, Duration),
    deadline: Duration,
) -> Result<Race> {
    let mut base = PaxosConfig::new(NODES, None);
    base.backoff = backoff;
    base.query_every = None;
    let config = SimConfig {
        nodes: NODES,
        seed,
        faults: Faults {
            delay,
            ..Faults::reliable()
        },
        trace: TraceLevel::Off,
    };
    let (mut sim, agreement) = run::checked_sim(config, &base, PROPOSERS)?;
    let decided = sim.run_until_true(Time::ZERO + deadline, |_| {
        !agreement.borrow().chosen_values().is_empty()
    })?;
    Ok(Race {
        ballots: ballots_started(&sim),
        decided_at: decided.then(|| sim.now().as_duration()),
    })
}
// ANCHOR_END: race
