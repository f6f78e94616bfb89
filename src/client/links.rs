//! The links between clients and nodes, as both worlds draw them: what becomes of a
//! request or a reply (lost, delayed, delivered twice), clients cut off for a while,
//! and first replies lost on purpose. The simulator and the client threads share these
//! rules, so a client's network is the same in both.

use std::collections::HashSet;
use std::time::Duration;

use super::{ClientSpec, Response};
use crate::app::sessions::Reply;
use crate::runtime::{Faults, Rng};
use crate::types::{ClientId, Time};

/// The client links of one run.
pub(crate) struct Links {
    faults: Faults,
    cut_off: Vec<(ClientId, Time, Time)>,
    lose_first_replies: bool,
    /// Requests (client, session, seq) whose first reply has been lost on purpose.
    lost_first: HashSet<(ClientId, u64, u64)>,
}

/// When the copies of one message arrive: none, one or two.
pub(crate) type Arrivals = std::iter::Flatten<std::array::IntoIter<Option<Time>, 2>>;

impl Links {
    /// The links `spec` describes.
    pub(crate) fn new(spec: &ClientSpec) -> Links {
        Links {
            faults: spec.faults.clone(),
            cut_off: spec.cut_off.clone(),
            lose_first_replies: spec.lose_first_replies,
            lost_first: HashSet::new(),
        }
    }

    /// Whether the links deliver everything at once, so that no draw is needed.
    pub(crate) fn is_perfect(&self) -> bool {
        self.faults == Faults::reliable() && self.cut_off.is_empty() && !self.lose_first_replies
    }

    /// Whether `client` is cut off at `t`.
    fn is_cut(&self, client: ClientId, t: Time) -> bool {
        self.cut_off
            .iter()
            .any(|&(c, from, until)| c == client && from <= t && t < until)
    }

    /// When the copies of a request `client` sends at `now` reach their node.
    pub(crate) fn request(&self, client: ClientId, now: Time, rng: &mut Rng) -> Arrivals {
        if self.is_cut(client, now) {
            return [None, None].into_iter().flatten();
        }
        self.fates(now, rng)
    }

    /// When the copies of `response`, sent to `client` at `now`, reach it.
    pub(crate) fn reply(
        &mut self,
        client: ClientId,
        now: Time,
        response: &Response,
        rng: &mut Rng,
    ) -> Arrivals {
        let lost = self.is_cut(client, now)
            || (self.lose_first_replies
                && matches!(response, Response::Applied(Reply::Done { session, seq, .. })
                    if self.lost_first.insert((client, *session, *seq))));
        if lost {
            return [None, None].into_iter().flatten();
        }
        self.fates(now, rng)
    }

    /// How many copies of a message arrive, and when, as the faults draw it.
    fn fates(&self, now: Time, rng: &mut Rng) -> Arrivals {
        let f = &self.faults;
        if rng.chance(f.drop) {
            return [None, None].into_iter().flatten();
        }
        let (lo, hi) = f.delay;
        let dup = rng.chance(f.duplicate);
        let first = now + rng.duration_between(lo, hi);
        let second = dup.then(|| {
            let jitter = hi.max(Duration::from_millis(1));
            now + rng.duration_between(lo, hi) + rng.duration_between(Duration::ZERO, jitter)
        });
        [Some(first), second].into_iter().flatten()
    }
}
