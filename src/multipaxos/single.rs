//! One server: the whole service on n1, every other node pointing clients to it.
//!
//! It is linearizable for the simplest of reasons: one copy of the state, changed by
//! one thread, one request at a time, each request taking effect at the instant the
//! server handles it, between its call and its return. Its weakness is as plain: when
//! n1 crashes, the service is gone, and everything it held with it (its state lives in
//! memory; a server that came back empty would answer reads with nothing, which is not
//! linearizable either, so a crashed server stays down). Replication is what lets a
//! service outlive a server; the rest of the chapter builds it.

use crate::app::sessions::Service;
use crate::app::{machine, Workload};
use crate::client::{Request, Response};
use crate::error::Result;
use crate::runtime::trace::NoEvent;
use crate::runtime::{CallId, Context, Message, Node, NodeId};

/// The server's node: n1 serves, the others redirect.
pub struct SingleServer {
    me: NodeId,
    /// The state machine behind its session table (only n1's is used).
    service: Service,
    /// How many requests the server has applied: its "log index", which names sessions.
    applied: u64,
}

/// How long a session may stay idle on the server: a minute of its clock.
pub const SESSION_EXPIRY_US: u64 = 60_000_000;

/// The node that serves.
pub const SERVER: NodeId = NodeId(1);

impl SingleServer {
    /// Node `me` of a single-server service of `workload`.
    pub fn new(me: NodeId, workload: Workload) -> SingleServer {
        SingleServer {
            me,
            service: Service::new(machine(workload), SESSION_EXPIRY_US),
            applied: 0,
        }
    }
}

impl SingleServer {
    /// The service this node holds (only the server's is used).
    pub fn service(&self) -> &Service {
        &self.service
    }
}

/// The servers send each other nothing.
#[derive(Clone, Debug)]
pub enum Never {}

impl Message for Never {}

impl Node for SingleServer {
    type Msg = Never;
    type Timer = ();
    type Event = NoEvent;
    type Request = Request;
    type Response = Response;

    fn on_start(&mut self, _ctx: &mut Context<'_, Self>) -> Result<()> {
        Ok(())
    }

    fn on_message(
        &mut self,
        _ctx: &mut Context<'_, Self>,
        _from: NodeId,
        msg: Never,
    ) -> Result<()> {
        match msg {}
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Self>, _timer: ()) -> Result<()> {
        Ok(())
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<'_, Self>,
        call: CallId,
        req: Request,
    ) -> Result<()> {
        if self.me != SERVER {
            ctx.reply(
                call,
                Response::NotLeader {
                    leader: Some(SERVER),
                },
            );
            return Ok(());
        }
        self.applied += 1;
        let entry = req.into_entry();
        let reply = self
            .service
            .apply(self.applied, ctx.now().as_micros(), &entry);
        if let Some(response) = Response::to_client(reply) {
            ctx.reply(call, response);
        }
        Ok(())
    }

    fn role(&self) -> String {
        match self.me == SERVER {
            true => "server".to_string(),
            false => "redirect".to_string(),
        }
    }
}
