//! The search's bookkeeping: a fast hasher for fingerprints, the renamings of acceptors
//! (symmetry), and the set of states explored, with covering and sleep sets.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::error::Result;
use crate::runtime::NodeId;

/// A fast 64-bit hasher for fingerprints (the multiply-rotate step of rustc's
/// `FxHasher`). The explorer hashes every state it reaches, so the hasher is its
/// inner loop; it needs speed and spread, not resistance to an adversary.
#[derive(Default)]
pub(super) struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn finish(&self) -> u64 {
        // A final avalanche (splitmix64's), so that the low bits the hash set uses
        // depend on every input bit.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub(super) fn hash_of(value: impl Hash) -> u64 {
    let mut h = Fx::default();
    value.hash(&mut h);
    h.finish()
}

/// `node` renamed by `perm` (`perm[i]` is the new index of the node of index `i`;
/// empty: unchanged).
pub(super) fn renamed(node: NodeId, perm: &[usize]) -> NodeId {
    match node.index_in(perm.len()) {
        Some(i) => NodeId::from_index(perm[i]),
        None => node,
    }
}

/// Every permutation of `0..n`, the identity first.
pub(super) fn permutations(n: usize) -> Vec<Vec<usize>> {
    let mut out = vec![(0..n).collect::<Vec<usize>>()];
    // Heap's algorithm, iteratively.
    let mut perm: Vec<usize> = (0..n).collect();
    let mut c = vec![0usize; n];
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                perm.swap(0, i);
            } else {
                perm.swap(c[i], i);
            }
            out.push(perm.clone());
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    out
}

/// A [`Hasher`] builder for the explorer's sets, whose keys are hashes already.
pub(super) type BuildFx = std::hash::BuildHasherDefault<Fx>;

/// A state explored: its events pending and crash budget (its node states and history
/// are the key it is filed under), and the moves asleep when it was explored, both as
/// sorted lists of small numbers (see [`Visited`]) kept in one shared vector.
struct Seen {
    /// Where the two lists start in [`Visited::data`]: the pending events, then the
    /// moves asleep.
    at: usize,
    pool_len: u16,
    asleep_len: u16,
    crashes_left: u16,
}

/// What [`Visited::visit`] found.
pub(super) enum Visit {
    /// A state not covered by any explored before: explore it.
    New,
    /// Covered: an explored state has the same node states, every message this one has
    /// in flight, and at least its crash budget, and it took every move awake here.
    Covered,
    /// Covered by a state explored with more moves asleep: take only these.
    Woken(Vec<u64>),
}

/// The states explored, filed by node states and acceptance history.
///
/// With `subsume` set, a state is *covered* by an explored state that has the same node
/// states and history, a superset of its messages in flight, and a crash budget at
/// least as large: every run from the smaller state is a run from the larger one in
/// which the extra messages are lost, so it reaches the same node states. Without it,
/// only an identical state covers.
///
/// A search keeps tens of millions of states, so each is kept small: every pending
/// event's 64-bit identity is numbered the first time it is seen, and a state's lists
/// hold those numbers (4 bytes each), all in one vector.
pub(super) struct Visited {
    subsume: bool,
    /// File covered states that are woken, too (see [`Visited::visit`]).
    file_woken: bool,
    by_key: HashMap<u64, Vec<Seen>, BuildFx>,
    /// The number of each identity, and the identity of each number.
    numbers: HashMap<u64, u32, BuildFx>,
    identities: Vec<u64>,
    /// Every state's two lists, one after the other.
    data: Vec<u32>,
    /// How many states were explored.
    pub(super) states: usize,
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
    pub(super) fn new(subsume: bool, file_woken: bool) -> Visited {
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

    /// Files the state (`key`, `pool`, `crashes_left`) reached with the moves `asleep`,
    /// and says what is left to explore from it.
    pub(super) fn visit(
        &mut self,
        key: u64,
        pool: &[u64],
        crashes_left: usize,
        asleep: &[u64],
    ) -> Result<Visit> {
        let subsume = self.subsume;
        let pool = self.numbered(pool)?;
        let asleep = self.numbered(asleep)?;
        let too_long =
            || crate::error::Error::Runtime("explorer: a state too large to file".into());
        let pool_len = u16::try_from(pool.len()).map_err(|_| too_long())?;
        let asleep_len = u16::try_from(asleep.len()).map_err(|_| too_long())?;
        let crashes_left = u16::try_from(crashes_left).map_err(|_| too_long())?;
        // Without subsumption, only the identical state matters: file it by all of it.
        let key = if subsume {
            key
        } else {
            hash_of((key, &pool, crashes_left))
        };
        let data = &mut self.data;
        let entries = self.by_key.entry(key).or_default();
        let covers = |e: &Seen, data: &[u32]| {
            if subsume {
                e.crashes_left >= crashes_left && includes(e.pool(data), &pool)
            } else {
                e.crashes_left == crashes_left && e.pool(data) == pool.as_slice()
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
            .find(|e| e.crashes_left == crashes_left && e.pool(data) == pool.as_slice());
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
                !(crashes_left >= e.crashes_left
                    && includes(&pool, e.pool(data))
                    && includes(e.asleep(data), &asleep))
            });
        }
        entries.push(Seen {
            at: data.len(),
            pool_len,
            asleep_len,
            crashes_left,
        });
        data.extend_from_slice(&pool);
        data.extend_from_slice(&asleep);
        self.states += 1;
        Ok(answer)
    }
}

/// Whether the sorted slice `big` holds every element of the sorted slice `small`.
fn includes(big: &[u32], small: &[u32]) -> bool {
    let mut big = big.iter();
    small.iter().all(|x| big.any(|y| y == x))
}
