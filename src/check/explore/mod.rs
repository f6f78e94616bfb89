//! Model checking: the parts of an exhaustive explorer that know no protocol.
//!
//! An explorer (a model checker) proves a property of a small configuration by
//! reaching every state the protocol can be in: from each state it takes every move the
//! world allows (deliver any message in flight, fire any timer, crash any node), checks
//! the properties after each, and files each state it explores so that it never
//! explores it again. What a state is and what moves it has belong to the protocol and
//! to the world that runs it; how states are recognised, which ones need no exploring,
//! and how interchangeable nodes are renamed do not. Those are here, for every
//! chapter's explorer: chapter 1's Paxos explorer (`paxos::explore`) is built on them,
//! and a Multi-Paxos or Raft explorer can be.
//!
//! - [`fx`]: **fingerprints.** A state is recognised by a 64-bit hash of its parts
//!   ([`hash_of`], with the fast [`Fx`] hasher), compared instead of the state.
//! - [`symmetry`]: **renamings.** When some nodes are interchangeable, a state and its
//!   renamings have the same future, so exploring one explores them all: the
//!   [`permutations`] of `n` nodes, a node [`renamed`], per-node data [`permuted`].
//! - [`visited`]: **the states explored** ([`Visited`]), with two reductions: a state
//!   *covered* by one explored (the same key, a subset of its messages in flight) is
//!   not explored again, and *sleep sets* skip the orders of commuting moves that
//!   reach a state already reached. [`Visited::visit`] says what is left to explore
//!   from a state ([`Visit`]).
//!
//! States and moves reach this module as opaque 64-bit identities the caller computes,
//! so nothing here imports a protocol or the runtime: a reduction is only as sound as
//! the caller's choice of what goes in a key, a pool, or a sleep set, and the caller's
//! essay must say why (as `paxos::explore`'s does).

pub mod fx;
pub mod symmetry;
pub mod visited;

pub use fx::{hash_of, BuildFx, Fx};
pub use symmetry::{permutations, permuted, renamed};
pub use visited::{includes, Visit, Visited};
