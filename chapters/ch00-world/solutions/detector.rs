//! Exercise 0.1, reference solution: the failure detector suspects a silent peer, and
//! trusts it again when it hears from it.

use crate::detector::{Detector, Event, GapHistory, Timer};
use crate::runtime::{Context, NodeId};

impl Detector {
    // ANCHOR: on_heartbeat
    /// A heartbeat from `from`, number `seq` of its incarnation `incarnation`.
    pub fn on_heartbeat(
        &mut self,
        ctx: &mut Context<'_, Self>,
        from: NodeId,
        incarnation: u64,
        seq: u64,
    ) {
        let Some(i) = self.peers.iter().position(|&p| p == from) else {
            return;
        };
        let now = ctx.now();
        let view = &mut self.views[i];
        if incarnation < view.incarnation
            || (incarnation == view.incarnation && seq <= view.last_seq)
        {
            // From before the peer's last restart, a duplicate, or overtaken by a newer
            // heartbeat: it proves nothing the newer one did not, and counting it would
            // put a near-zero gap into the history.
            return;
        }
        // ANCHOR_END: on_heartbeat
        // ANCHOR: on_heartbeat_news
        if view.incarnation != 0 && incarnation > view.incarnation {
            ctx.trace(Event::Restarted {
                peer: from,
                incarnation,
            });
            ctx.log(format_args!(
                "sees {from} restarted (incarnation {incarnation})"
            ));
            view.gaps = GapHistory::default();
        } else if let Some(last) = view.last_heard {
            view.gaps.push(now - last);
        }
        view.incarnation = incarnation;
        view.last_seq = seq;
        view.last_heard = Some(now);
        if view.suspected {
            view.suspected = false;
            ctx.trace(Event::Trust { peer: from });
            ctx.log(format_args!("trusts {from} again"));
        }
        ctx.set_timer(Timer::Suspect(from), self.timeout_for(from));
    }
    // ANCHOR_END: on_heartbeat_news

    // ANCHOR: on_silence
    /// `peer`'s suspect timer fired: nothing was heard from it for a whole timeout.
    pub fn on_silence(&mut self, ctx: &mut Context<'_, Self>, peer: NodeId) {
        let timeout = self.timeout_for(peer);
        let Some(i) = self.peers.iter().position(|&p| p == peer) else {
            return;
        };
        if !self.views[i].suspected {
            self.views[i].suspected = true;
            ctx.trace(Event::Suspect { peer });
            ctx.log(format_args!("suspects {peer}: silent for {timeout:?}"));
        }
    }
    // ANCHOR_END: on_silence
}
