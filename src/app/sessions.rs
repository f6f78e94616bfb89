//! Exactly-once: the session table, kept inside the replicated state.
//!
//! A client that times out cannot tell a lost request from a lost reply, so it sends
//! the request again, perhaps to a new leader. Without care, a request whose reply was
//! lost is applied twice: an increment counted twice, an append appended twice. The
//! remedy (Ongaro's thesis, §6.3) is to number requests and remember, *in the state
//! machine*, the replies already given: each replica applies the same table updates in
//! the same log order, so a request retried after a failover finds its first reply on
//! the new leader too. A table kept in a leader's memory would be lost with the leader.
//!
//! The rules, all applied as log entries:
//!
//! - A client first opens a session (an [`AppCommand::Open`] entry); the session's id
//!   is that entry's log index, unique for ever.
//! - Each request carries its session, its number `seq`, and `acked`: every reply below
//!   `acked` has reached the client. The table keeps the replies from `acked` up, so a
//!   pipelined client with several requests in flight is served in any order, each once.
//! - A request already applied is answered with its first reply, and not applied again.
//! - A session idle for longer than the expiry is removed. Idle by which clock? Not a
//!   replica's own: replicas apply entries at different moments, and one that applied
//!   an entry late would expire a session that the others kept, and the copies would
//!   differ. Each entry carries the time its leader proposed it, and the table's clock
//!   is the largest such time applied so far: the same on every replica, at the same
//!   entry. A request of an expired (or never opened) session is refused as expired;
//!   its client cannot know whether it was applied before the expiry, and must report
//!   the operation's outcome as unknown. Registering sessions in the log is what makes
//!   the expiry detectable: a request that opened its session implicitly could, after
//!   an expiry, be applied a second time.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Command, StateMachine};
use crate::types::ClientId;

/// A session's id: the log index of the entry that opened it.
pub type SessionId = u64;

/// What the log carries for the service, one per entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppCommand {
    /// `client` opens a session.
    Open {
        /// Who opens it.
        client: ClientId,
    },
    /// Request number `seq` of `session`.
    Request {
        /// The session.
        session: SessionId,
        /// The request's number in the session, from 1.
        seq: u64,
        /// Every reply below this number has reached the client: the table may forget
        /// them.
        acked: u64,
        /// What it asks.
        command: Command,
    },
    /// Nothing: a new leader's no-op, or a hole filled.
    Noop,
}

/// What applying an entry answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// The session `session` is open for `client`.
    Opened {
        /// The client that asked.
        client: ClientId,
        /// Its session's id.
        session: SessionId,
    },
    /// Request `seq` of `session` returned `output`.
    Done {
        /// The session.
        session: SessionId,
        /// The request.
        seq: u64,
        /// Its output (the first one, for a request applied before).
        output: String,
        /// Whether this entry applied it; `false` for a duplicate, answered from the
        /// table.
        applied: bool,
    },
    /// The session does not exist (it expired, or was never opened): the request was
    /// not applied now, and whether it was before, nobody can say.
    Expired {
        /// The session.
        session: SessionId,
        /// The request.
        seq: u64,
    },
    /// A duplicate of a request whose reply the client has already acknowledged:
    /// nothing to do, and no one waiting.
    Stale {
        /// The session.
        session: SessionId,
        /// The request.
        seq: u64,
    },
    /// A no-op was applied.
    Nothing,
}

/// One client's session.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Session {
    /// Its client.
    client: ClientId,
    /// Replies of requests applied, from `acked` up.
    replies: BTreeMap<u64, String>,
    /// Every request below this has been answered and acknowledged.
    acked: u64,
    /// The table's clock when the session was last used, in microseconds.
    last_used_us: u64,
}

/// A state machine behind the session table: what every replica applies the log to.
pub struct Service {
    /// The machine.
    machine: Box<dyn StateMachine>,
    /// Open sessions.
    sessions: BTreeMap<SessionId, Session>,
    /// Open sessions by when they were last used, oldest first: what expiry pops.
    idle: BTreeSet<(u64, SessionId)>,
    /// The largest proposal time of any entry applied: the table's clock.
    clock_us: u64,
    /// How long a session may stay idle before it is removed.
    expiry_us: u64,
}

impl Service {
    /// A fresh service: `machine`, no sessions, sessions that expire after `expiry_us`
    /// of log time without a request.
    pub fn new(machine: Box<dyn StateMachine>, expiry_us: u64) -> Service {
        Service {
            machine,
            sessions: BTreeMap::new(),
            idle: BTreeSet::new(),
            clock_us: 0,
            expiry_us,
        }
    }

    /// Answers a read-only command from the machine's current state, outside the log
    /// ([`StateMachine::query`]).
    pub fn query(&self, command: &Command) -> Option<String> {
        self.machine.query(command)
    }

    /// How many sessions are open.
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    // ANCHOR: apply
    /// Applies the entry at log index `index`, proposed at `proposed_us` by its leader.
    pub fn apply(&mut self, index: u64, proposed_us: u64, entry: &AppCommand) -> Reply {
        self.clock_us = self.clock_us.max(proposed_us);
        self.expire();
        match entry {
            AppCommand::Open { client } => self.open(index, *client),
            AppCommand::Request {
                session,
                seq,
                acked,
                command,
            } => self.request(*session, *seq, *acked, command),
            AppCommand::Noop => Reply::Nothing,
        }
    }
    // ANCHOR_END: apply

    /// Opens a session for `client`, named by the index of the entry that opens it.
    fn open(&mut self, index: u64, client: ClientId) -> Reply {
        let session = Session {
            client,
            replies: BTreeMap::new(),
            acked: 1,
            last_used_us: self.clock_us,
        };
        if let Some(old) = self.sessions.insert(index, session) {
            // Only a log that repeats an index does this; keep `idle` in step anyway.
            self.idle.remove(&(old.last_used_us, index));
        }
        self.idle.insert((self.clock_us, index));
        Reply::Opened {
            client,
            session: index,
        }
    }

    // ANCHOR: request
    /// Request `seq` of session `id`: applied once, answered from the table after.
    fn request(&mut self, id: SessionId, seq: u64, acked: u64, command: &Command) -> Reply {
        let Some(session) = self.sessions.get_mut(&id) else {
            return Reply::Expired { session: id, seq };
        };
        self.idle.remove(&(session.last_used_us, id));
        session.last_used_us = self.clock_us;
        self.idle.insert((self.clock_us, id));
        if acked > session.acked {
            session.acked = acked; // the client has these replies: forget them
            session.replies = session.replies.split_off(&acked);
        }
        if seq < session.acked {
            return Reply::Stale { session: id, seq };
        }
        let (output, applied) = match session.replies.get(&seq) {
            Some(first) => (first.clone(), false), // a retry: its first reply again
            None => {
                let output = self.machine.apply(command);
                session.replies.insert(seq, output.clone());
                (output, true)
            }
        };
        Reply::Done {
            session: id,
            seq,
            output,
            applied,
        }
    }
    // ANCHOR_END: request

    /// Removes every session idle for longer than the expiry, by the table's clock.
    fn expire(&mut self) {
        while let Some(&(used, id)) = self.idle.first() {
            if used.saturating_add(self.expiry_us) >= self.clock_us {
                break;
            }
            self.idle.pop_first();
            if let Some(s) = self.sessions.remove(&id) {
                log::debug!("session {id} of {} expired", s.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{machine, OpKind, Workload};

    const MINUTE: u64 = 60_000_000;

    fn incr(session: SessionId, seq: u64, acked: u64) -> AppCommand {
        AppCommand::Request {
            session,
            seq,
            acked,
            command: Command::new(OpKind::Incr, "c", ""),
        }
    }

    fn output(reply: Reply) -> (String, bool) {
        match reply {
            Reply::Done {
                output, applied, ..
            } => (output, applied),
            other => panic!("not done: {other:?}"),
        }
    }

    #[test]
    fn a_retried_request_is_applied_once_and_answered_with_its_first_reply() {
        let mut s = Service::new(machine(Workload::Counter), MINUTE);
        assert_eq!(
            s.apply(
                1,
                0,
                &AppCommand::Open {
                    client: ClientId(7)
                }
            ),
            Reply::Opened {
                client: ClientId(7),
                session: 1
            }
        );
        assert_eq!(output(s.apply(2, 10, &incr(1, 1, 1))), ("1".into(), true));
        // The reply was lost; the client retries, and the log now holds the request twice.
        assert_eq!(output(s.apply(3, 20, &incr(1, 1, 1))), ("1".into(), false));
        assert_eq!(output(s.apply(4, 30, &incr(1, 2, 2))), ("2".into(), true));
        // A copy of request 1 delayed in the network, after the client acknowledged it.
        assert_eq!(
            s.apply(5, 40, &incr(1, 1, 2)),
            Reply::Stale { session: 1, seq: 1 }
        );
    }

    #[test]
    fn pipelined_requests_are_each_applied_once_in_whatever_order_they_come() {
        let mut s = Service::new(machine(Workload::Counter), MINUTE);
        s.apply(
            1,
            0,
            &AppCommand::Open {
                client: ClientId(1),
            },
        );
        let mut index = 2;
        for seq in [3, 1, 2, 3, 1, 5, 4, 2, 5] {
            s.apply(index, index, &incr(1, seq, 1));
            index += 1;
        }
        let read = AppCommand::Request {
            session: 1,
            seq: 6,
            acked: 1,
            command: Command::new(OpKind::Read, "c", ""),
        };
        assert_eq!(output(s.apply(index, index, &read)), ("5".into(), true));
    }

    #[test]
    fn acknowledged_replies_are_forgotten() {
        let mut s = Service::new(machine(Workload::Counter), MINUTE);
        s.apply(
            1,
            0,
            &AppCommand::Open {
                client: ClientId(1),
            },
        );
        for seq in 1..=100 {
            s.apply(1 + seq, seq, &incr(1, seq, seq));
        }
        let kept = s.sessions[&1].replies.len();
        assert_eq!(
            kept, 1,
            "only the last reply, not yet acknowledged, is kept"
        );
    }

    #[test]
    fn an_idle_session_expires_by_log_time_and_its_requests_are_refused() {
        let mut s = Service::new(machine(Workload::Counter), MINUTE);
        s.apply(
            1,
            0,
            &AppCommand::Open {
                client: ClientId(1),
            },
        );
        s.apply(
            2,
            0,
            &AppCommand::Open {
                client: ClientId(2),
            },
        );
        output(s.apply(3, MINUTE / 2, &incr(2, 1, 1)));
        // A stamp from an older leader's clock does not turn the table's clock back.
        s.apply(4, MINUTE + 1, &AppCommand::Noop);
        s.apply(5, 10, &AppCommand::Noop);
        assert_eq!(
            s.open_sessions(),
            1,
            "session 1 idle for over a minute is gone"
        );
        assert_eq!(
            s.apply(6, MINUTE + 2, &incr(1, 1, 1)),
            Reply::Expired { session: 1, seq: 1 }
        );
        assert_eq!(
            output(s.apply(7, MINUTE + 3, &incr(2, 2, 2))),
            ("2".into(), true)
        );
        // Reopened, the client gets a new session: its old numbers mean nothing there.
        assert_eq!(
            s.apply(
                8,
                MINUTE + 4,
                &AppCommand::Open {
                    client: ClientId(1)
                }
            ),
            Reply::Opened {
                client: ClientId(1),
                session: 8
            }
        );
    }

    #[test]
    fn replicas_applying_the_same_log_give_the_same_replies() {
        let log: Vec<(u64, AppCommand)> = (1..=300u64)
            .map(|i| {
                let entry = match i % 7 {
                    0 => AppCommand::Open {
                        client: ClientId(i),
                    },
                    3 => AppCommand::Noop,
                    _ => incr(7 * (i / 13), i % 5, i % 3),
                };
                (i * 1000 + (i % 4) * 7_000_000, entry)
            })
            .collect();
        let run = || {
            let mut s = Service::new(machine(Workload::Counter), 5_000_000);
            log.iter()
                .enumerate()
                .map(|(i, (t, e))| s.apply(i as u64 + 1, *t, e))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}
