//! Which of a node's timers are armed and when each is due, shared by both runtimes.
//!
//! A runtime wakes a node for a timer by queueing a *wake-up*: an entry in its event
//! queue (the simulator's) or its timer heap (a node thread's), keyed by a time and a
//! sequence number. Re-arming a timer must be cheap: Raft's followers push their election
//! timeout back on every AppendEntries, so at a million messages a second a queue push
//! per re-arm would be the hot path. So the table keeps each timer's *deadline* apart from
//! its *wake-up*:
//!
//! - arming a timer that has no wake-up queued, or whose wake-up comes later than the new
//!   deadline, queues one (the runtime pushes what [`TimerTable::arm`] returns);
//! - re-arming it for later, the common case, only writes the new deadline: the wake-up
//!   already queued comes first, finds the deadline moved, and is queued again for the
//!   deadline ([`Woken::Requeue`]): one queue push per firing, not one per re-arm;
//! - a wake-up left behind by a cancel, or by a re-arm for *earlier*, finds itself no
//!   longer the timer's wake-up and is skipped ([`Woken::Stale`]): lazy deletion, so
//!   nothing is ever searched for in a queue.
//!
//! Each arming carries the sequence number the runtime would have given its wake-up, and
//! a wake-up queued again keeps it, so timers due at the same instant fire in the order
//! they were armed, exactly as if every re-arm had queued its own wake-up.

use super::node::Timer;
use crate::types::Time;

/// A wake-up's key in a runtime's queue: when it comes due, and the sequence number
/// that orders it among entries due at the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Wake {
    /// When the wake-up comes due.
    pub at: Time,
    /// Its place among entries due at the same time.
    pub seq: u64,
}

/// What a wake-up that came due finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Woken<T> {
    /// The timer is due: it fires, and is disarmed.
    Fire(T),
    /// The timer was re-armed for later: queue this wake-up in its place.
    Requeue(Wake),
    /// The wake-up is left over from a cancel or an earlier arming: skip it.
    Stale,
}

/// One armed timer.
#[derive(Clone, Debug)]
struct Armed<T> {
    timer: T,
    /// When it is due, and its order among timers due then: the arming's own key.
    due: Wake,
    /// The one wake-up queued for it that will act (never later than `due`).
    wake: Wake,
}

/// A node's armed timers: their deadlines and their queued wake-ups.
#[derive(Clone, Debug)]
pub struct TimerTable<T> {
    armed: Vec<Armed<T>>,
}

impl<T> Default for TimerTable<T> {
    fn default() -> Self {
        TimerTable { armed: Vec::new() }
    }
}

impl<T: Timer> TimerTable<T> {
    /// Arms `timer` (replacing its earlier arming) to be due at `at`, ordered by `seq`
    /// among entries due then (the runtime's next sequence number). Returns the wake-up
    /// the runtime must queue, or `None` when the one already queued comes soon enough.
    pub fn arm(&mut self, timer: T, at: Time, seq: u64) -> Option<Wake> {
        let due = Wake { at, seq };
        match self.armed.iter_mut().find(|a| a.timer == timer) {
            Some(a) => {
                a.due = due;
                // Whole keys compare: a wake-up queued for the same instant but an
                // earlier place in it still comes first, and finds the timer moved on.
                if a.wake <= due {
                    return None;
                }
                a.wake = due;
            }
            None => self.armed.push(Armed {
                timer,
                due,
                wake: due,
            }),
        }
        Some(due)
    }

    /// Disarms `timer` if it is armed (its queued wake-up will find itself stale).
    pub fn cancel(&mut self, timer: &T) {
        self.armed.retain(|a| a.timer != *timer);
    }

    /// The wake-up `wake` came due: the timer fires if it is due now, is queued again if
    /// it was re-armed for later, and nothing happens if the wake-up is stale.
    pub fn wake(&mut self, wake: Wake) -> Woken<T> {
        let Some(pos) = self.armed.iter().position(|a| a.wake == wake) else {
            return Woken::Stale;
        };
        let a = &mut self.armed[pos];
        if a.due <= wake {
            return Woken::Fire(self.armed.swap_remove(pos).timer);
        }
        a.wake = a.due;
        Woken::Requeue(a.due)
    }

    /// Whether `wake` is the wake-up some armed timer waits for.
    pub fn is_current(&self, wake: Wake) -> bool {
        self.armed.iter().any(|a| a.wake == wake)
    }

    /// Every armed timer with its deadline key, in arming order.
    pub fn armed(&self) -> impl Iterator<Item = (&T, Wake)> {
        self.armed.iter().map(|a| (&a.timer, a.due))
    }

    /// Disarms the timer whose arming has key `due`, returning it: how a model checker
    /// fires (or drops) one timer out of its turn.
    pub fn take(&mut self, due: Wake) -> Option<T> {
        let pos = self.armed.iter().position(|a| a.due == due)?;
        Some(self.armed.swap_remove(pos).timer)
    }

    /// Disarms everything (the node crashed).
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.armed.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, Debug)]
    enum T {
        Election,
        Heartbeat,
    }

    fn at(t: u64) -> Time {
        Time(t)
    }

    #[test]
    fn rearming_for_later_queues_nothing_and_the_old_wakeup_requeues() {
        let mut t = TimerTable::default();
        let first = t
            .arm(T::Election, at(100), 1)
            .expect("a first arming queues");
        assert_eq!(t.arm(T::Election, at(150), 2), None, "later: no push");
        assert_eq!(t.arm(T::Election, at(180), 3), None, "later again: no push");
        assert_eq!(t.len(), 1);
        let again = Wake {
            at: at(180),
            seq: 3,
        };
        assert_eq!(t.wake(first), Woken::Requeue(again));
        assert_eq!(t.wake(again), Woken::Fire(T::Election));
        assert!(t.is_empty());
    }

    #[test]
    fn rearming_for_earlier_queues_and_leaves_the_old_wakeup_stale() {
        let mut t = TimerTable::default();
        let first = t.arm(T::Election, at(300), 1).unwrap();
        let second = t.arm(T::Election, at(200), 2).expect("earlier: a push");
        assert_eq!(t.wake(second), Woken::Fire(T::Election));
        assert_eq!(t.wake(first), Woken::Stale, "the old wake-up must not fire");
    }

    /// Re-armed for the same instant after another timer was armed for it, a timer
    /// fires after that other timer, as it would had the re-arm queued a wake-up of its
    /// own: its old wake-up comes first and finds it moved to a later place.
    #[test]
    fn rearming_for_the_same_instant_keeps_the_order_of_arming() {
        let mut t = TimerTable::default();
        let e1 = t.arm(T::Election, at(100), 1).unwrap();
        let h = t.arm(T::Heartbeat, at(100), 2).unwrap();
        assert_eq!(t.arm(T::Election, at(100), 3), None);
        let e3 = Wake {
            at: at(100),
            seq: 3,
        };
        assert_eq!(
            t.wake(e1),
            Woken::Requeue(e3),
            "not yet: its place is now 3"
        );
        assert_eq!(t.wake(h), Woken::Fire(T::Heartbeat));
        assert_eq!(t.wake(e3), Woken::Fire(T::Election));
    }

    #[test]
    fn cancel_take_and_clear() {
        let mut t = TimerTable::default();
        let e = t.arm(T::Election, at(10), 1).unwrap();
        let h = t.arm(T::Heartbeat, at(20), 2).unwrap();
        t.cancel(&T::Election);
        assert_eq!(t.wake(e), Woken::Stale);
        assert!(t.is_current(h));
        assert_eq!(t.armed().count(), 1);
        assert_eq!(t.take(h), Some(T::Heartbeat));
        assert_eq!(t.wake(h), Woken::Stale);
        t.arm(T::Heartbeat, at(30), 3);
        t.clear();
        assert!(t.is_empty());
    }
}
