//! A naive replication: a primary that answers before its backup has the write, and a
//! backup that takes over when the primary falls silent.
//!
//! It looks reasonable, and it is how many systems began. n1 serves: it applies each
//! request, answers the client at once, and then sends the command to its backup, n2.
//! n2 applies what it receives and listens for n1's heartbeats; after a silence of
//! [`TAKEOVER`], it concludes that n1 has failed and serves in its place. n3 only
//! redirects.
//!
//! Two of the world's ordinary faults break it. A lost copy leaves the backup without a
//! write the primary already acknowledged: after a takeover, a client reads a value
//! older than one it was told was written. And a silence is not a crash (chapter 0):
//! when the primary's heartbeats are lost but the primary is alive, both serve, each
//! with its own state. Either way some history is not linearizable, and the checker
//! says which operations show it. A replicated log fixes both: a write is answered
//! only once a majority holds it, and a new leader is elected by a majority that
//! includes a holder of every answered write.

use std::time::Duration;

use crate::app::sessions::{AppCommand, Service};
use crate::app::{machine, Workload};
use crate::client::{Request, Response};
use crate::error::Result;
use crate::runtime::trace::NoEvent;
use crate::runtime::{CallId, Context, Message, Node, NodeId, Time};

use super::single::SESSION_EXPIRY_US;

/// How often the primary tells the backup it is alive.
pub const HEARTBEAT: Duration = Duration::from_millis(20);

/// How long a silence the backup takes for the primary's failure.
pub const TAKEOVER: Duration = Duration::from_millis(100);

/// Where a backup that takes over starts numbering its entries (and so its sessions):
/// far above any index its predecessor can have reached.
pub const TAKEOVER_INDEX_BASE: u64 = 1 << 40;

/// What the primary sends its backup.
#[derive(Clone, Debug)]
pub enum NaiveMsg {
    /// Apply this entry, number `index`, proposed at `at_us`.
    Copy {
        /// The primary's count of entries.
        index: u64,
        /// When the primary applied it.
        at_us: u64,
        /// The entry.
        entry: AppCommand,
    },
    /// "I am alive."
    Heartbeat,
}

impl Message for NaiveMsg {}

/// The naive replication's timers.
#[derive(Clone, Debug, PartialEq)]
pub enum NaiveTimer {
    /// The primary's heartbeat.
    Heartbeat,
    /// The backup's check for a silent primary.
    Watch,
}

/// A node of the naive replication.
pub struct Naive {
    me: NodeId,
    /// The node this one believes serves.
    primary: NodeId,
    /// Its copy of the state.
    service: Service,
    /// Entries applied.
    applied: u64,
    /// When the primary was last heard from (the backup's view).
    last_heard: Time,
}

impl Naive {
    /// Node `me` of a naive replication of `workload`.
    pub fn new(me: NodeId, workload: Workload) -> Naive {
        Naive {
            me,
            primary: NodeId(1),
            service: Service::new(machine(workload), SESSION_EXPIRY_US),
            applied: 0,
            last_heard: Time::ZERO,
        }
    }

    /// The backup of the first primary.
    const BACKUP: NodeId = NodeId(2);

    fn serving(&self) -> bool {
        self.primary == self.me
    }
}

impl Node for Naive {
    type Msg = NaiveMsg;
    type Timer = NaiveTimer;
    type Event = NoEvent;
    type Request = Request;
    type Response = Response;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) -> Result<()> {
        if self.serving() {
            ctx.set_timer(NaiveTimer::Heartbeat, HEARTBEAT);
        } else if self.me == Self::BACKUP {
            self.last_heard = ctx.now();
            ctx.set_timer(NaiveTimer::Watch, TAKEOVER);
        }
        Ok(())
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        msg: NaiveMsg,
    ) -> Result<()> {
        if from != self.primary {
            return Ok(());
        }
        self.last_heard = ctx.now();
        if let NaiveMsg::Copy {
            index,
            at_us,
            entry,
        } = msg
        {
            // Apply what arrives, in the order it arrives: a lost copy is simply missing.
            if index > self.applied {
                self.applied = index;
                self.service.apply(index, at_us, &entry);
            }
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: NaiveTimer) -> Result<()> {
        match timer {
            NaiveTimer::Heartbeat => {
                if self.serving() && self.me != Self::BACKUP {
                    ctx.send(Self::BACKUP, NaiveMsg::Heartbeat);
                    ctx.set_timer(NaiveTimer::Heartbeat, HEARTBEAT);
                }
            }
            NaiveTimer::Watch => {
                if !self.serving() && ctx.now().since(self.last_heard) >= TAKEOVER {
                    ctx.log(format_args!("{} silent: takes over", self.primary));
                    self.primary = self.me;
                    // Its own entries are numbered in a range of their own, so that the
                    // sessions it opens never take ids its predecessor gave out in
                    // copies that never arrived.
                    self.applied = self.applied.max(TAKEOVER_INDEX_BASE);
                } else {
                    ctx.set_timer(NaiveTimer::Watch, TAKEOVER);
                }
            }
        }
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        call: CallId,
        req: Request,
    ) -> Result<()> {
        if !self.serving() {
            ctx.reply(
                call,
                Response::NotLeader {
                    leader: Some(self.primary),
                },
            );
            return Ok(());
        }
        self.applied += 1;
        let at_us = ctx.now().as_micros();
        let entry = req.into_entry();
        // The mistake: answer first, copy after, and never wait for the copy.
        let reply = self.service.apply(self.applied, at_us, &entry);
        if let Some(response) = Response::to_client(reply) {
            ctx.reply(call, response);
        }
        if self.me != Self::BACKUP {
            ctx.send(
                Self::BACKUP,
                NaiveMsg::Copy {
                    index: self.applied,
                    at_us,
                    entry,
                },
            );
        }
        Ok(())
    }

    fn role(&self) -> String {
        match self.serving() {
            true => "primary".to_string(),
            false => "backup".to_string(),
        }
    }
}
