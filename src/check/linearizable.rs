//! The linearizability checker: did what clients saw come from one correct copy?
//!
//! A history is *linearizable* (Herlihy and Wing, 1990) when each operation can be
//! given a single instant between its call and its return at which it takes effect, so
//! that taken in the order of those instants the operations are a correct sequential
//! run of the service ([`super::model`]). An operation whose answer never came
//! may take effect at any instant after its call, or never.
//!
//! Deciding it is NP-complete in general, but real histories are easy, with the right
//! search. This is Wing and Gong's (1993): walk the history's calls and returns in time
//! order; at a call, try to make that operation take effect now (the model must allow
//! its answer), and go on; at the return of an operation that has not taken effect, it
//! is too late: undo the last choice and try the next call instead. Lowe ("Testing for
//! linearizability", 2017) made it practical: the search remembers every (set of
//! operations taken effect, state) pair it has been in, and never explores one twice.
//! Porcupine (Athalye) adds the split by key: each key is searched on its own, with its
//! own time budget, so one hard key neither hides nor delays the verdict on another.
//!
//! The verdict is never a guess. A search that runs out of budget reports *unknown*,
//! and the binaries count unknown as a failure to decide, never as a pass. An illegal
//! key comes with a *witness*: a small part of its history that is illegal on its own
//! and whose illegality implies the whole history's (see [`shrink`]).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::explore::BuildFx;
use super::history::{Operation, Workload};
use super::model::{self, State};

/// The verdict on a history, or on one key of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Linearizable.
    Ok,
    /// Not linearizable: no order of the operations explains what clients saw.
    Illegal,
    /// The search ran out of budget before it could decide.
    Unknown,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Illegal => "illegal",
            Verdict::Unknown => "unknown",
        })
    }
}

/// One key's verdict, and what backs it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyResult {
    /// The key.
    pub key: String,
    /// How many operations concern it.
    pub ops: usize,
    /// Its verdict.
    pub verdict: Verdict,
    /// When linearizable, the order found: indices into the history, first to take
    /// effect first (an operation that never answered may be missing: it never took
    /// effect).
    pub order: Vec<usize>,
    /// When illegal, the witness: indices into the history of a part of it that is
    /// illegal on its own (with the operations in `cut` treated as unanswered).
    pub witness: Vec<usize>,
    /// Operations of the witness whose answer came after its end, so that it treats
    /// them as unanswered.
    pub cut: Vec<usize>,
    /// States the search went through (distinct pairs of operations taken and state).
    pub states: usize,
    /// Time spent on this key, in seconds.
    pub seconds: f64,
}

/// The verdict on a whole history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The workload whose model judged it.
    pub workload: Workload,
    /// Illegal if any key is, else unknown if any key is, else ok.
    pub verdict: Verdict,
    /// How many operations.
    pub ops: usize,
    /// How many of them never answered.
    pub unknown_ops: usize,
    /// Each key's verdict, in key order.
    pub keys: Vec<KeyResult>,
    /// Time spent, in seconds.
    pub seconds: f64,
}

impl Report {
    /// The keys with this verdict.
    pub fn keys_with(&self, verdict: Verdict) -> impl Iterator<Item = &KeyResult> {
        self.keys.iter().filter(move |k| k.verdict == verdict)
    }
}

// ANCHOR: check
/// Checks `history` against `workload`'s model, each key with a search of its own
/// bounded by `budget`.
pub fn check(history: &[Operation], workload: Workload, budget: Duration) -> Report {
    let started = Instant::now();
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        by_key.entry(op.key.as_str()).or_default().push(i);
    }
    let keys: Vec<KeyResult> = by_key
        .into_iter()
        .map(|(key, ops)| check_key(history, workload, key, &ops, budget))
        .collect();
    let verdict = if keys.iter().any(|k| k.verdict == Verdict::Illegal) {
        Verdict::Illegal
    } else if keys.iter().any(|k| k.verdict == Verdict::Unknown) {
        Verdict::Unknown
    } else {
        Verdict::Ok
    };
    Report {
        workload,
        verdict,
        ops: history.len(),
        unknown_ops: history.iter().filter(|o| o.is_unknown()).count(),
        keys,
        seconds: started.elapsed().as_secs_f64(),
    }
}
// ANCHOR_END: check

/// One key: search, and on an illegal verdict, shrink to a witness.
fn check_key(
    history: &[Operation],
    workload: Workload,
    key: &str,
    ops: &[usize],
    budget: Duration,
) -> KeyResult {
    let started = Instant::now();
    let all = ops.len();
    let deadline = started + budget;
    // An unanswered operation that only reads can always take effect, changing
    // nothing: it explains itself, and constrains nothing. Leave it out of the search.
    let ops: Vec<usize> = ops
        .iter()
        .copied()
        .filter(|&i| !(history[i].is_unknown() && model::reads_only(&history[i])))
        .collect();
    let part: Vec<&Operation> = ops.iter().map(|&i| &history[i]).collect();
    let outcome = search(&part, workload, deadline);
    let mut result = KeyResult {
        key: key.to_string(),
        ops: all,
        verdict: Verdict::Unknown,
        order: Vec::new(),
        witness: Vec::new(),
        cut: Vec::new(),
        states: outcome.states,
        seconds: 0.0,
    };
    match outcome.found {
        Some(Found::Order(order)) => {
            result.verdict = Verdict::Ok;
            result.order = order.into_iter().map(|i| ops[i]).collect();
        }
        Some(Found::Illegal) => {
            result.verdict = Verdict::Illegal;
            let (witness, cut) = shrink(&part, workload, deadline);
            result.witness = witness.into_iter().map(|i| ops[i]).collect();
            result.cut = cut.into_iter().map(|i| ops[i]).collect();
        }
        None => {}
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

/// What a search found: an order, or proof there is none. `None`: out of time.
struct Outcome {
    found: Option<Found>,
    states: usize,
}

enum Found {
    Order(Vec<usize>),
    Illegal,
}

/// A call or a return of operation `op`, at `time`.
#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    call: bool,
    time: u64,
}

/// A set of operations, one bit each.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// How many steps of the search go by between looks at the clock.
const CLOCK_EVERY: usize = 1024;

// ANCHOR: search
/// Wing and Gong's search with Lowe's memoization, over `ops` (one key's operations).
/// The entries (calls and returns in time order) form a doubly linked list; making an
/// operation take effect *lifts* its call and return out of the list, and undoing it
/// puts them back, so the list is always what remains to explain.
fn search(ops: &[&Operation], workload: Workload, deadline: Instant) -> Outcome {
    let n = ops.len();
    if Instant::now() >= deadline {
        return Outcome {
            found: None,
            states: 0,
        };
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(2 * n);
    for (op, o) in ops.iter().enumerate() {
        let ret = o.return_us.unwrap_or(u64::MAX); // no answer: it may wait till the end
        entries.push(Entry {
            op,
            call: true,
            time: o.call_us,
        });
        entries.push(Entry {
            op,
            call: false,
            time: ret,
        });
    }
    // In time order; at equal times calls first, so that an operation called the
    // instant another returned counts as concurrent with it (the lenient reading).
    entries.sort_by_key(|e| (e.time, !e.call, e.op));
    let mut list = List::new(&entries, n);
    let mut state = model::initial(workload);
    let mut taken = Bits::new(n);
    let mut seen: HashSet<(Bits, State), BuildFx> = HashSet::default();
    let mut stack: Vec<(usize, State)> = Vec::new(); // (call entry, state before it)
    let mut e = list.first();
    let mut steps = 0usize;
    while let Some(at) = e {
        steps += 1;
        if steps.is_multiple_of(CLOCK_EVERY) && Instant::now() >= deadline {
            return Outcome {
                found: None,
                states: seen.len(),
            };
        }
        let entry = entries[at];
        if entry.call {
            if let Some(next) = model::step(&state, ops[entry.op]) {
                taken.set(entry.op);
                if seen.insert((taken.clone(), next.clone())) {
                    // Take it effect now, and explain the rest.
                    stack.push((at, std::mem::replace(&mut state, next)));
                    list.lift(at);
                    e = list.first();
                    continue;
                }
                taken.clear(entry.op); // been here before, and it led nowhere
            }
            e = list.next(at);
        } else {
            // The return of an operation not yet taken effect: too late for it. Undo
            // the last choice and try the call after it.
            let Some((call, before)) = stack.pop() else {
                return Outcome {
                    found: Some(Found::Illegal),
                    states: seen.len(),
                };
            };
            taken.clear(entries[call].op);
            state = before;
            list.unlift(call);
            e = list.next(call);
        }
    }
    let order = stack.iter().map(|&(call, _)| entries[call].op).collect();
    Outcome {
        found: Some(Found::Order(order)),
        states: seen.len(),
    }
}
// ANCHOR_END: search

/// The entries still to explain, as a doubly linked list over their indices, with
/// each call's return at hand.
struct List {
    next: Vec<Option<usize>>,
    prev: Vec<Option<usize>>,
    head: Option<usize>,
    /// For each call entry, its operation's return entry.
    ret: Vec<usize>,
}

impl List {
    fn new(entries: &[Entry], n: usize) -> List {
        let len = entries.len();
        let mut ret_of_op = vec![0; n];
        for (i, e) in entries.iter().enumerate() {
            if !e.call {
                ret_of_op[e.op] = i;
            }
        }
        List {
            next: (0..len).map(|i| (i + 1 < len).then_some(i + 1)).collect(),
            prev: (0..len).map(|i| i.checked_sub(1)).collect(),
            head: (len > 0).then_some(0),
            ret: entries.iter().map(|e| ret_of_op[e.op]).collect(),
        }
    }

    fn first(&self) -> Option<usize> {
        self.head
    }

    fn next(&self, i: usize) -> Option<usize> {
        self.next[i]
    }

    fn unlink(&mut self, i: usize) {
        match self.prev[i] {
            Some(p) => self.next[p] = self.next[i],
            None => self.head = self.next[i],
        }
        if let Some(n) = self.next[i] {
            self.prev[n] = self.prev[i];
        }
    }

    fn relink(&mut self, i: usize) {
        match self.prev[i] {
            Some(p) => self.next[p] = Some(i),
            None => self.head = Some(i),
        }
        if let Some(n) = self.next[i] {
            self.prev[n] = Some(i);
        }
    }

    /// Takes call entry `call` and its return out of the list.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.ret[call]);
    }

    /// Puts them back: the exact reverse of [`List::lift`], valid because lifts are
    /// undone last first.
    fn unlift(&mut self, call: usize) {
        self.relink(self.ret[call]);
        self.relink(call);
    }
}

/// Whether `ops` (with the operations at positions in `cut` treated as unanswered)
/// is illegal; `None` when the search ran out of time.
fn illegal(
    ops: &[&Operation],
    cut: &[bool],
    workload: Workload,
    deadline: Instant,
) -> Option<bool> {
    let owned: Vec<Operation> = ops
        .iter()
        .zip(cut)
        .map(|(o, &c)| {
            let mut o = (*o).clone();
            if c {
                o.return_us = None;
            }
            o
        })
        .collect();
    let refs: Vec<&Operation> = owned.iter().collect();
    match search(&refs, workload, deadline).found {
        Some(Found::Illegal) => Some(true),
        Some(Found::Order(_)) => Some(false),
        None => None,
    }
}

// ANCHOR: shrink
/// A small witness of an illegal key, by two steps that each keep the witness illegal
/// *and* keep its illegality a proof of the whole history's:
///
/// 1. **A prefix.** Cut the history at an instant T: keep the operations called by T,
///    and treat those that answered after T as unanswered. A linearizable history stays
///    linearizable when cut this way (its order, restricted, still explains it), so an
///    illegal prefix means an illegal history. Legality only grows with T, so the
///    earliest illegal cut is found by bisection over the return times.
/// 2. **Without reads.** Leave out, one at a time, operations that never change the
///    state (gets, reads, failed cas): a linearizable history stays linearizable
///    without them. Keep each one out if the rest is still illegal.
///
/// Leaving out a write would not be sound (a read of its value would become
/// inexplicable), so writes stay. Returns positions in `ops` of the witness, and of
/// those it treats as unanswered.
pub fn shrink(
    ops: &[&Operation],
    workload: Workload,
    deadline: Instant,
) -> (Vec<usize>, Vec<usize>) {
    let all: Vec<usize> = (0..ops.len()).collect();
    let mut cuts: Vec<u64> = ops.iter().filter_map(|o| o.return_us).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let prefix = |t: u64| -> (Vec<usize>, Vec<bool>) {
        let kept: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| ops[i].call_us <= t)
            .collect();
        let cut = kept
            .iter()
            .map(|&i| ops[i].return_us.is_none_or(|r| r > t))
            .collect();
        (kept, cut)
    };
    let judge = |kept: &[usize], cut: &[bool]| {
        let part: Vec<&Operation> = kept.iter().map(|&i| ops[i]).collect();
        illegal(&part, cut, workload, deadline)
    };
    // The earliest cut that is illegal (the whole history, cut after its last return,
    // is: the caller found it so).
    let (mut lo, mut hi) = (0usize, cuts.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (kept, cut) = prefix(cuts[mid]);
        match judge(&kept, &cut) {
            Some(true) => hi = mid,
            Some(false) => lo = mid + 1,
            None => break,
        }
    }
    let (mut kept, mut cut) = match cuts.get(hi) {
        Some(&t) => prefix(t),
        None => (all.clone(), ops.iter().map(|o| o.is_unknown()).collect()),
    };
    // Then leave out what only reads, last first.
    let mut at = kept.len();
    while at > 0 {
        at -= 1;
        // A read taken as unanswered constrains nothing: it always goes.
        if !model::preserves_state(ops[kept[at]]) {
            continue;
        }
        let (mut k, mut c) = (kept.clone(), cut.clone());
        k.remove(at);
        c.remove(at);
        if judge(&k, &c) == Some(true) {
            (kept, cut) = (k, c);
        }
    }
    let unanswered = kept
        .iter()
        .zip(&cut)
        .filter(|(_, &c)| c)
        .map(|(&i, _)| i)
        .collect();
    (kept, unanswered)
}
// ANCHOR_END: shrink
