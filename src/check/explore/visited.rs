//! The states explored: filed by fingerprint, with covering and sleep sets.
//!
//! An exhaustive search must not explore a state twice, so it files every state it
//! explores and asks, of each state it reaches, whether it has been there. This set
//! answers a finer question: *what is left to explore from here?* Two reductions make
//! the answer "less than everything":
//!
//! - **Covering** (subsumption). A state here is a key (a fingerprint of everything
//!   but the messages in flight: the nodes' states, a checker's history), a *pool* (the
//!   messages in flight, or any other part of the state that may be dropped at no
//!   cost) and a *budget* (what the state may still spend, such as crashes left). A
//!   state *covers* another with the same key, a superset of its pool and at least its
//!   budget: in a network that may lose any message, every run from the smaller state
//!   is a run from the larger one in which the extra messages are lost, so the smaller
//!   state reaches nothing the larger one does not. A covered state is not explored
//!   again. (Sound only if a larger pool never takes a move away: a caller whose pool
//!   holds things that cannot be lost, such as a node's pending start, keeps them in
//!   the key.)
//! - **Sleep sets** (Godefroid, 1996). Two moves *commute* if taking them in either
//!   order reaches the same state and neither disables the other (moves at different
//!   nodes, usually). After a search has explored move `a` from a state, the sibling
//!   branch that starts with `b` need not take `a` next: `b` then `a` reaches what `a`
//!   then `b` did. The moves a state need not take are its *sleep set*, and they are
//!   filed with it. A state reached again with fewer moves asleep is not explored
//!   again in full: only the moves asleep before and awake now are left to take.
//!
//! The caller names states and moves by opaque 64-bit identities (fingerprints of
//! their content, [`hash_of`]), so this set knows nothing of any
//! protocol. It keeps tens of millions of states, so each is kept small: every
//! identity is numbered the first time it is seen, and a state's two lists (its pool
//! and its moves asleep) hold those numbers, sorted, 4 bytes each, all in one vector.

use std::collections::HashMap;

use super::fx::{hash_of, BuildFx};
use crate::error::Result;

/// A state explored: its pool and budget (its key is the one it is filed under), and
/// the moves asleep when it was explored, both as sorted lists of small numbers (see
/// [`Visited`]) kept in one shared vector.
struct Seen {
    /// Where the two lists start in [`Visited::data`]: the pool, then the moves asleep.
    at: usize,
    pool_len: u16,
    asleep_len: u16,
    budget: u16,
}

/// What [`Visited::visit`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visit {
    /// A state not covered by any explored before: explore it.
    New,
    /// Covered: an explored state has the same key, every element of this one's pool,
    /// and at least its budget, and it took every move awake here.
    Covered,
    /// Covered by a state explored with more moves asleep: take only these (by
    /// identity).
    Woken(Vec<u64>),
}

/// The states explored, filed by key, with their pools, budgets and sleep sets.
///
/// With `subsume` set, a state is *covered* by an explored state that has the same key,
/// a superset of its pool, and a budget at least as large. Without it, only an
/// identical state covers (a search without reductions, the yardstick for one with
/// them).
pub struct Visited {
    subsume: bool,
    /// File covered states that are woken, too (see [`Visited::new`]).
    file_woken: bool,
    by_key: HashMap<u64, Vec<Seen>, BuildFx>,
    /// The number of each identity, and the identity of each number.
    numbers: HashMap<u64, u32, BuildFx>,
    identities: Vec<u64>,
    /// Every state's two lists, one after the other.
    data: Vec<u32>,
    /// How many states were explored.
    states: usize,
}

impl Seen {
    fn pool<'a>(&self, data: &'a [u32]) -> &'a [u32] {
        &data[self.at..self.at + usize::from(self.pool_len)]
    }
    fn asleep<'a>(&self, data: &'a [u32]) -> &'a [u32] {
        let from = self.at + usize::from(self.pool_len);
        &data[from..from + usize::from(self.asleep_len)]
    }
}

impl Visited {
    /// An empty set. `subsume`: a state is covered by a state with a superset of its
    /// pool and at least its budget (otherwise only by an identical one). `file_woken`:
    /// file a state that a larger one covers but that wakes moves, too; a search whose
    /// moves can lead back to the very same state (a message delivered again that
    /// changes nothing) needs it, so that the state's next visit finds it.
    pub fn new(subsume: bool, file_woken: bool) -> Visited {
        Visited {
            subsume,
            file_woken,
            by_key: HashMap::default(),
            numbers: HashMap::default(),
            identities: Vec::new(),
            data: Vec::new(),
            states: 0,
        }
    }

    /// The identities as a sorted list of numbers.
    fn numbered(&mut self, identities: &[u64]) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(identities.len());
        for &id in identities {
            let n = match self.numbers.get(&id) {
                Some(&n) => n,
                None => {
                    let n = u32::try_from(self.identities.len()).map_err(|_| {
                        crate::error::Error::Runtime(
                            "explorer: over 4 billion distinct events".into(),
                        )
                    })?;
                    self.numbers.insert(id, n);
                    self.identities.push(id);
                    n
                }
            };
            out.push(n);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// How many states were filed as explored ([`Visit::New`], and woken states
    /// filed): the size of the search.
    pub fn states(&self) -> usize {
        self.states
    }

    /// Files the state (`key`, `pool`, `budget`) reached with the moves `asleep`,
    /// and says what is left to explore from it.
    ///
    /// `key` fingerprints everything about the state but its pool; `pool` and `asleep`
    /// are identities (order and repeats do not matter); `budget` is what the state may
    /// still spend (crashes left, say). The answer is [`Visit::Covered`] if an explored
    /// state covers this one and took every move awake here; [`Visit::Woken`] with the
    /// moves left to take if the states that cover it slept through some of them; and
    /// [`Visit::New`] otherwise. A state filed replaces the explored states it covers
    /// that slept through at least as much.
    ///
    /// Errors: a state with more than 65,535 identities in a list or a budget above
    /// 65,535, or more than 4 billion distinct identities in the whole search.
    pub fn visit(
        &mut self,
        key: u64,
        pool: &[u64],
        budget: usize,
        asleep: &[u64],
    ) -> Result<Visit> {
        let subsume = self.subsume;
        let pool = self.numbered(pool)?;
        let asleep = self.numbered(asleep)?;
        let too_long =
            || crate::error::Error::Runtime("explorer: a state too large to file".into());
        let pool_len = u16::try_from(pool.len()).map_err(|_| too_long())?;
        let asleep_len = u16::try_from(asleep.len()).map_err(|_| too_long())?;
        let budget = u16::try_from(budget).map_err(|_| too_long())?;
        // Without subsumption, only the identical state matters: file it by all of it.
        let key = if subsume {
            key
        } else {
            hash_of((key, &pool, budget))
        };
        let data = &mut self.data;
        let entries = self.by_key.entry(key).or_default();
        let covers = |e: &Seen, data: &[u32]| {
            if subsume {
                e.budget >= budget && includes(e.pool(data), &pool)
            } else {
                e.budget == budget && e.pool(data) == pool.as_slice()
            }
        };
        let awake_here = |e: &Seen, data: &[u32]| -> Vec<u32> {
            e.asleep(data)
                .iter()
                .filter(|n| asleep.binary_search(n).is_err())
                .copied()
                .collect()
        };
        if entries
            .iter()
            .any(|e| covers(e, data) && includes(&asleep, e.asleep(data)))
        {
            return Ok(Visit::Covered);
        }
        let same = entries
            .iter_mut()
            .find(|e| e.budget == budget && e.pool(data) == pool.as_slice());
        let same_missing = same.is_none();
        let woken = match same {
            Some(before) => {
                // Explored before with moves asleep that are awake now: take those, and
                // from now on only the moves asleep both times count as asleep there.
                let woken = awake_here(before, data);
                let kept: Vec<u32> = before
                    .asleep(data)
                    .iter()
                    .filter(|n| asleep.binary_search(n).is_ok())
                    .copied()
                    .collect();
                let from = before.at + usize::from(before.pool_len);
                data[from..from + kept.len()].copy_from_slice(&kept);
                before.asleep_len = u16::try_from(kept.len()).map_err(|_| too_long())?;
                Some(woken)
            }
            // Covered by a larger state explored with moves asleep that are awake here:
            // from this state, only those are left to take (every other move was taken
            // from the larger state, and its runs include this state's).
            None => entries
                .iter()
                .filter(|e| covers(e, data))
                .map(|e| awake_here(e, data))
                .min_by_key(Vec::len),
        };
        let identities = &self.identities;
        let as_identities =
            |woken: &[u32]| -> Vec<u64> { woken.iter().map(|&n| identities[n as usize]).collect() };
        // A state covered but woken is filed too where a move may lead back to the very
        // same state (a message delivered again that changes nothing, when messages
        // stay in flight): its next visit then finds it, and its sleep set only shrinks.
        let file = woken.is_none() || (self.file_woken && same_missing);
        if !file {
            return Ok(woken.map_or(Visit::Covered, |w| Visit::Woken(as_identities(&w))));
        }
        let answer = match &woken {
            Some(w) => Visit::Woken(as_identities(w)),
            None => Visit::New,
        };
        // A new state; it replaces the explored states it covers that slept through at
        // least as much.
        if subsume {
            entries.retain(|e| {
                !(budget >= e.budget
                    && includes(&pool, e.pool(data))
                    && includes(e.asleep(data), &asleep))
            });
        }
        entries.push(Seen {
            at: data.len(),
            pool_len,
            asleep_len,
            budget,
        });
        data.extend_from_slice(&pool);
        data.extend_from_slice(&asleep);
        self.states += 1;
        Ok(answer)
    }
}

/// Whether the sorted slice `big` holds every element of the sorted slice `small` (both
/// without repeats): the subset test of covering, in one pass over `big`.
#[inline]
pub fn includes(big: &[u32], small: &[u32]) -> bool {
    let mut big = big.iter();
    small.iter().all(|x| big.any(|y| y == x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two moves, by identity.
    const A: u64 = 0xa;
    const B: u64 = 0xb;

    impl Visited {
        /// How many states are filed now (a state filed replaces those it covers).
        fn filed(&self) -> usize {
            self.by_key.values().map(Vec::len).sum()
        }
    }

    fn visit(v: &mut Visited, key: u64, pool: &[u64], budget: usize, asleep: &[u64]) -> Visit {
        v.visit(key, pool, budget, asleep)
            .expect("a small state files")
    }

    #[test]
    fn an_identical_state_is_covered_and_another_key_is_new() {
        let mut v = Visited::new(true, false);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[]), Visit::Covered);
        assert_eq!(visit(&mut v, 2, &[10, 20], 0, &[]), Visit::New);
        assert_eq!(v.states(), 2);
    }

    #[test]
    fn order_and_repeats_in_a_list_do_not_matter() {
        let mut v = Visited::new(false, false);
        assert_eq!(visit(&mut v, 1, &[20, 10, 10], 0, &[B, A]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[A, B, A]), Visit::Covered);
    }

    #[test]
    fn a_smaller_pool_is_covered_and_a_larger_one_replaces_it() {
        let mut v = Visited::new(true, false);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[20], 0, &[]), Visit::Covered);
        assert_eq!(visit(&mut v, 1, &[], 0, &[]), Visit::Covered);
        assert_eq!(
            visit(&mut v, 1, &[10, 30], 0, &[]),
            Visit::New,
            "not a subset"
        );
        assert_eq!(v.filed(), 2);
        assert_eq!(visit(&mut v, 1, &[10, 20, 30], 0, &[]), Visit::New);
        assert_eq!(v.filed(), 1, "the larger state replaces the two it covers");
        assert_eq!(v.states(), 3);
    }

    #[test]
    fn a_larger_budget_is_not_covered_by_a_smaller_one() {
        let mut v = Visited::new(true, false);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10], 1, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::Covered);
        assert_eq!(visit(&mut v, 1, &[], 0, &[]), Visit::Covered);
        assert_eq!(v.filed(), 1, "budget 1 covers budget 0");
    }

    #[test]
    fn without_subsumption_only_the_identical_state_covers() {
        let mut v = Visited::new(false, false);
        assert_eq!(visit(&mut v, 1, &[10, 20], 1, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[20], 1, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[20], 1, &[]), Visit::Covered);
        assert_eq!(v.filed(), 3);
    }

    #[test]
    fn a_state_reached_again_with_fewer_moves_asleep_takes_only_those() {
        let mut v = Visited::new(true, false);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[A, B]), Visit::New);
        // More asleep than before: nothing left to take.
        assert_eq!(visit(&mut v, 1, &[10], 0, &[A, B, 0xc]), Visit::Covered);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[A]), Visit::Woken(vec![B]));
        // B has been taken now: only A still counts as asleep there.
        assert_eq!(visit(&mut v, 1, &[10], 0, &[A]), Visit::Covered);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[B]), Visit::Woken(vec![A]));
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::Covered);
        assert_eq!(v.states(), 1);
    }

    #[test]
    fn a_state_covered_by_one_that_slept_takes_what_that_one_slept_through() {
        let mut v = Visited::new(true, false);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[A]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::Woken(vec![A]));
        // Not filed: the same answer again.
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::Woken(vec![A]));
        assert_eq!(visit(&mut v, 1, &[10], 0, &[A]), Visit::Covered);
        assert_eq!(v.states(), 1);

        // Filed when asked to: its next visit finds it.
        let mut v = Visited::new(true, true);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[A]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::Woken(vec![A]));
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::Covered);
        assert_eq!(v.states(), 2);
    }

    #[test]
    fn a_new_state_replaces_only_states_that_slept_through_as_much() {
        let mut v = Visited::new(true, false);
        assert_eq!(visit(&mut v, 1, &[10], 0, &[]), Visit::New);
        assert_eq!(visit(&mut v, 1, &[10, 20], 0, &[A]), Visit::New);
        assert_eq!(v.filed(), 2, "the smaller state took A, the larger did not");
        assert_eq!(visit(&mut v, 2, &[10], 0, &[A]), Visit::New);
        assert_eq!(visit(&mut v, 2, &[10, 20], 0, &[]), Visit::New);
        assert_eq!(v.filed(), 3, "key 2: the larger state took A too");
    }

    #[test]
    fn identities_come_back_as_given() {
        let mut v = Visited::new(true, false);
        let (x, y) = (u64::MAX, 1 << 63);
        assert_eq!(visit(&mut v, 7, &[x], 0, &[y, x]), Visit::New);
        assert_eq!(visit(&mut v, 7, &[x], 0, &[]), Visit::Woken(vec![x, y]));
    }

    #[test]
    fn a_state_too_large_to_file_is_an_error() {
        let mut v = Visited::new(true, false);
        let pool: Vec<u64> = (0..70_000).collect();
        assert!(v.visit(1, &pool, 0, &[]).is_err());
        assert!(v.visit(1, &[], 70_000, &[]).is_err());
        assert_eq!(v.states(), 0);
    }

    #[test]
    fn includes_is_the_subset_test_of_sorted_lists() {
        assert!(includes(&[1, 3, 5], &[1, 5]));
        assert!(includes(&[1, 3, 5], &[3]));
        assert!(includes(&[1, 3, 5], &[]));
        assert!(includes(&[], &[]));
        assert!(!includes(&[1, 3, 5], &[2]));
        assert!(!includes(&[1, 3, 5], &[1, 3, 5, 7]));
        assert!(!includes(&[], &[1]));
    }
}
