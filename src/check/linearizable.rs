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

use std::collections::{BTreeMap, BTreeSet, HashSet};
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

impl Entry {
    fn new(op: usize, call: bool, time: u64) -> Entry {
        Entry { op, call, time }
    }
}

/// A set of operations taken effect: the first entry not lifted, and the call entries
/// after it that are (see `Search::taken`).
type Taken = (usize, Vec<u32>);

/// How many steps of the search go by between looks at the clock.
const CLOCK_EVERY: usize = 1024;

// ANCHOR: search
/// Wing and Gong's search with Lowe's memoization, over `ops` (one key's operations).
/// The entries (calls and returns in time order) form a doubly linked list; making an
/// operation take effect *lifts* its call and return out of the list, and undoing it
/// puts them back, so the list is always what remains to explain. The operations that
/// may take effect next are the calls ahead of the list's first return.
///
/// One rule keeps the search small when many operations overlap: a read that fits the
/// state (or a compare-and-set that failed, and fits) is taken at once and never
/// reconsidered, since if any order explains the rest, one that starts with it does.
fn search(ops: &[&Operation], workload: Workload, deadline: Instant) -> Outcome {
    if Instant::now() >= deadline {
        return Outcome {
            found: None,
            states: 0,
        };
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(2 * ops.len());
    for (op, o) in ops.iter().enumerate() {
        let ret = o.return_us.unwrap_or(u64::MAX); // no answer: it may wait till the end
        entries.push(Entry::new(op, true, o.call_us));
        entries.push(Entry::new(op, false, ret));
    }
    // In time order; at equal times calls first, so that an operation called the
    // instant another returned counts as concurrent with it (the lenient reading).
    entries.sort_by_key(|e| (e.time, !e.call, e.op));
    let mut s = Search {
        ops,
        list: List::new(&entries, ops.len()),
        entries,
        state: model::initial(workload),
        taken: BTreeSet::new(),
        seen: HashSet::default(),
        stack: Vec::new(),
    };
    let mut steps = 0usize;
    // Each turn stands at a configuration not looked at before.
    while s.list.first().is_some() {
        steps += 1;
        if steps.is_multiple_of(CLOCK_EVERY / 16) && Instant::now() >= deadline {
            return s.outcome(None);
        }
        let moved = match s.fitting_read() {
            Some(at) => s.take(at, true, Vec::new()).is_ok() || s.backtrack(),
            None => {
                let mut choices = s.choices();
                choices.reverse(); // taken from the end: the best first
                s.take_next(choices) || s.backtrack()
            }
        };
        if !moved {
            return s.outcome(Some(Found::Illegal));
        }
    }
    let order = s.stack.iter().map(|f| s.entries[f.call].op).collect();
    s.outcome(Some(Found::Order(order)))
}
// ANCHOR_END: search

/// One choice of the search: the call taken, the state before it, and what else could
/// have been taken instead (a fitting read has no alternative).
struct Frame {
    call: usize,
    before: State,
    fitted: bool,
    /// The other calls still to try here, the next one last.
    rest: Vec<usize>,
}

/// A search in progress over one key's operations.
struct Search<'a> {
    ops: &'a [&'a Operation],
    entries: Vec<Entry>,
    list: List,
    state: State,
    /// The call entries of the operations taken effect.
    taken: BTreeSet<usize>,
    /// Every configuration (operations taken, state) reached so far.
    seen: HashSet<(Taken, State), BuildFx>,
    stack: Vec<Frame>,
}

impl Search<'_> {
    /// The operations taken effect, named compactly. Every entry ahead of the list's
    /// first has been lifted, so every operation called before it has taken effect:
    /// the set is that first entry and the calls taken effect after it, as few as
    /// there are operations in flight, however long the history.
    fn taken(&self) -> Taken {
        let first = self.list.first().unwrap_or(self.entries.len());
        let after = self.taken.range(first..).map(|&c| c as u32).collect();
        (first, after)
    }

    fn outcome(&self, found: Option<Found>) -> Outcome {
        Outcome {
            found,
            states: self.seen.len(),
        }
    }

    /// The calls that may take effect now, in the order the entries list them.
    fn callable(&self) -> impl Iterator<Item = usize> + '_ {
        let mut e = self.list.first();
        std::iter::from_fn(move || {
            let at = e.filter(|&at| self.entries[at].call)?;
            e = self.list.next(at);
            Some(at)
        })
    }

    /// Whether `op` is a known read (or failed compare-and-set) that fits `state`.
    fn fits(&self, op: usize, state: &State) -> bool {
        let o = self.ops[op];
        !o.is_unknown() && model::preserves_state(o) && model::step(state, o).is_some()
    }

    /// A callable read that fits the state now.
    fn fitting_read(&self) -> Option<usize> {
        self.callable()
            .find(|&at| self.fits(self.entries[at].op, &self.state))
    }

    /// The callable operations that may take effect now, in list order: calls in time
    /// order, and calls at one instant in the order the history lists them.
    fn choices(&self) -> Vec<usize> {
        self.callable()
            .filter(|&at| model::step(&self.state, self.ops[self.entries[at].op]).is_some())
            .collect()
    }

    /// Takes call `at` if the configuration it leads to is new; `rest` are the other
    /// choices here, given back if it was not taken.
    fn take(&mut self, at: usize, fitted: bool, rest: Vec<usize>) -> Result<(), Vec<usize>> {
        let op = self.entries[at].op;
        let Some(next) = model::step(&self.state, self.ops[op]) else {
            return Err(rest);
        };
        self.list.lift(at);
        self.taken.insert(at);
        if !self.seen.insert((self.taken(), next.clone())) {
            // Been there, and it led nowhere.
            self.taken.remove(&at);
            self.list.unlift(at);
            return Err(rest);
        }
        let before = std::mem::replace(&mut self.state, next);
        self.stack.push(Frame {
            call: at,
            before,
            fitted,
            rest,
        });
        Ok(())
    }

    /// Takes the first of `choices` (kept last) that leads somewhere new.
    fn take_next(&mut self, mut choices: Vec<usize>) -> bool {
        while let Some(at) = choices.pop() {
            match self.take(at, false, choices) {
                Ok(()) => return true,
                Err(rest) => choices = rest,
            }
        }
        false
    }

    /// Undoes choices until one has an alternative that leads somewhere new, and takes
    /// it. `false` when none is left: nothing explains the operations.
    fn backtrack(&mut self) -> bool {
        while let Some(f) = self.stack.pop() {
            self.taken.remove(&f.call);
            self.state = f.before;
            self.list.unlift(f.call);
            if !f.fitted && self.take_next(f.rest) {
                return true;
            }
        }
        false
    }
}

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
