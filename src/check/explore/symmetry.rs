//! Symmetry: the renamings of interchangeable nodes.
//!
//! Some participants of a protocol are interchangeable: nothing in the protocol or in
//! its properties depends on which of them is which, only on whether two are the same
//! (Paxos's acceptors are such; its proposers are not, since a ballot's tie-break
//! compares their ids). Rename them consistently, in every node's state, every message
//! and every record the checker keeps, and every run of the protocol becomes another
//! run, and a state that breaks a property becomes one that breaks it too. So the
//! states that are renamings of one another have the same futures, up to the renaming,
//! and exploring one of them explores them all: this is *symmetry reduction*
//! (Ip and Dill, 1996). An explorer files each state under one representative of its
//! class, the renaming that gives the smallest fingerprint, so that any renaming of a
//! state already explored is found among the states seen.
//!
//! A renaming of `n` nodes is a permutation `perm` of `0..n`: the node of 0-based index
//! `i` is renamed to the node of index `perm[i]`. [`permutations`] lists them,
//! [`renamed`] renames one node, [`permuted`] moves per-node data to its new names.
//! The caller decides which nodes are interchangeable and when: a renaming is sound
//! only if it keeps every run a run (Paxos, for one, uses none while a crash may
//! still come, since a crash takes an acceptor down with its node's proposer).

use crate::types::NodeId;

/// Every permutation of `0..n`, the identity first: the `n!` renamings of `n` nodes
/// (24 for 4 nodes; an explorer that tries each for every state keeps `n` small).
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
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

/// `node` renamed by `perm` (`perm[i]` is the new index of the node of index `i`;
/// empty: unchanged). A node outside the renaming (an id 0, or beyond `perm.len()`)
/// keeps its name.
#[inline]
pub fn renamed(node: NodeId, perm: &[usize]) -> NodeId {
    match node.index_in(perm.len()) {
        Some(i) => NodeId::from_index(perm[i]),
        None => node,
    }
}

/// Per-node data moved to the nodes' new names: `items[i]` belongs to the node of
/// index `i`, and ends at index `perm[i]`. What the node now named `k` holds is what
/// the node named `perm⁻¹(k)` held. Items beyond `perm.len()` stay where they are.
pub fn permuted<T: Clone>(items: &[T], perm: &[usize]) -> Vec<T> {
    let mut moved = items.to_vec();
    for (i, item) in items.iter().enumerate() {
        if let Some(slot) = perm.get(i).and_then(|&k| moved.get_mut(k)) {
            *slot = item.clone();
        }
    }
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_permutation_once_the_identity_first() {
        let factorial = [1, 1, 2, 6, 24, 120];
        for (n, &count) in factorial.iter().enumerate() {
            let perms = permutations(n);
            assert_eq!(perms.len(), count, "n = {n}");
            assert_eq!(perms[0], (0..n).collect::<Vec<_>>(), "identity first");
            let distinct: BTreeSet<&Vec<usize>> = perms.iter().collect();
            assert_eq!(distinct.len(), count, "n = {n}: a permutation listed twice");
            for p in &perms {
                let mut sorted = p.clone();
                sorted.sort_unstable();
                assert_eq!(
                    sorted,
                    (0..n).collect::<Vec<_>>(),
                    "{p:?} is no permutation"
                );
            }
        }
    }

    #[test]
    fn renaming_follows_the_permutation() {
        let perm = [2, 0, 1]; // n1 -> n3, n2 -> n1, n3 -> n2
        assert_eq!(renamed(NodeId(1), &perm), NodeId(3));
        assert_eq!(renamed(NodeId(2), &perm), NodeId(1));
        assert_eq!(renamed(NodeId(3), &perm), NodeId(2));
        assert_eq!(renamed(NodeId(4), &perm), NodeId(4), "outside the renaming");
        assert_eq!(renamed(NodeId(0), &perm), NodeId(0), "outside the renaming");
        assert_eq!(renamed(NodeId(2), &[]), NodeId(2), "empty: unchanged");
    }

    #[test]
    fn permuted_data_sits_at_the_new_names() {
        let owners: Vec<NodeId> = NodeId::all(4);
        for perm in permutations(4) {
            let moved = permuted(&owners, &perm);
            for &node in &owners {
                assert_eq!(moved[renamed(node, &perm).index()], node, "{perm:?}");
            }
        }
        assert_eq!(permuted(&['a', 'b', 'c'], &[1, 0]), vec!['b', 'a', 'c']);
    }
}
