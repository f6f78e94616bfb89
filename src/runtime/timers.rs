//! Which of a node's timers are armed, shared by both runtimes.
//!
//! Each time a timer is armed it gets a fresh generation number, and the runtime queues
//! a wake-up carrying that number. Re-arming or cancelling a timer just forgets the old
//! number, so its queued wake-up finds nothing when it comes due and is skipped: lazy
//! deletion, which keeps both arming and cancelling O(timers of one node).

use super::node::Timer;

/// A node's armed timers and their current generations.
#[derive(Clone, Debug)]
pub struct TimerTable<T> {
    armed: Vec<(T, u64)>,
    next_gen: u64,
}

impl<T> Default for TimerTable<T> {
    fn default() -> Self {
        TimerTable {
            armed: Vec::new(),
            next_gen: 0,
        }
    }
}

impl<T: Timer> TimerTable<T> {
    /// Arms `timer`, replacing its earlier arming; returns the generation the runtime
    /// must queue with the wake-up.
    pub fn arm(&mut self, timer: T) -> u64 {
        let generation = self.next_gen;
        self.next_gen += 1;
        match self.armed.iter_mut().find(|(t, _)| *t == timer) {
            Some(entry) => entry.1 = generation,
            None => self.armed.push((timer, generation)),
        }
        generation
    }

    /// Disarms `timer` if it is armed.
    pub fn cancel(&mut self, timer: &T) {
        self.armed.retain(|(t, _)| t != timer);
    }

    /// The wake-up of generation `generation` came due: if that arming is still
    /// current, disarm the timer and return it; if it was re-armed or cancelled, `None`.
    pub fn fire(&mut self, generation: u64) -> Option<T> {
        let pos = self.armed.iter().position(|(_, g)| *g == generation)?;
        Some(self.armed.swap_remove(pos).0)
    }

    /// Whether the wake-up of `generation` would fire a timer.
    pub fn is_current(&self, generation: u64) -> bool {
        self.armed.iter().any(|(_, g)| *g == generation)
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

    #[test]
    fn rearming_makes_the_old_wakeup_stale() {
        let mut t = TimerTable::default();
        let first = t.arm(T::Election);
        let second = t.arm(T::Election);
        assert_eq!(t.len(), 1);
        assert_eq!(t.fire(first), None, "stale wake-up must not fire");
        assert_eq!(t.fire(second), Some(T::Election));
        assert!(t.is_empty());
    }

    #[test]
    fn cancel_and_clear() {
        let mut t = TimerTable::default();
        let e = t.arm(T::Election);
        let h = t.arm(T::Heartbeat);
        t.cancel(&T::Election);
        assert_eq!(t.fire(e), None);
        assert!(t.is_current(h));
        t.clear();
        assert_eq!(t.fire(h), None);
    }
}
