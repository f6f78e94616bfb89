//! Made-up histories that are linearizable by construction, for testing the
//! linearizability checker and timing it.
//!
//! Each client runs its operations one after another; each operation takes effect at
//! a random instant between its call and its return, and its output is what the service's
//! own machine (`app`) gives when the operations are applied in the order of those
//! instants. So the instants are a linearization, and the history is linearizable. A fraction of the
//! operations never answer; half of those never took effect at all.

use crate::app::Command;
use crate::check::history::{OpKind, Operation, Workload};
use crate::runtime::Rng;

/// What to make up.
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// The workload, which decides the operations.
    pub workload: Workload,
    /// How many clients.
    pub clients: usize,
    /// How many operations in all.
    pub ops: usize,
    /// How many keys.
    pub keys: usize,
    /// The chance that an operation never answers.
    pub unanswered: f64,
    /// The longest an operation takes from call to return, in microseconds (its
    /// overlap with others grows with it).
    pub max_latency_us: u64,
    /// Key-value only: also deletes and compare-and-sets; without them, the mix of
    /// Porcupine's test histories (get, put, append), whose values only grow between
    /// puts: the harder kind to check.
    pub deletes_and_cas: bool,
}

/// A linearizable history as `spec` says, drawn from `seed`.
pub fn synthetic(spec: &Synthetic, seed: u64) -> Vec<Operation> {
    let mut rng = Rng::new(seed);
    let clients = spec.clients.max(1);
    // Each client's operations in turn, a little after the last one returned.
    let mut free_at = vec![0u64; clients];
    let mut drafts: Vec<(u64, Operation, bool)> = Vec::with_capacity(spec.ops);
    for i in 0..spec.ops {
        let client = i % clients;
        let call = free_at[client] + rng.between(0, 10);
        let latency = rng.between(1, spec.max_latency_us.max(1));
        let effect = call + rng.between(0, latency);
        let unanswered = rng.chance(spec.unanswered);
        let returned = call + latency;
        free_at[client] = returned + 1;
        let op = draw_op(spec, &mut rng, client, i);
        let happens = !unanswered || rng.chance(0.5);
        let mut op = Operation {
            call_us: call,
            return_us: (!unanswered).then_some(returned),
            ..op
        };
        op.output.clear();
        drafts.push((effect, op, happens));
    }
    // Apply in the order the operations took effect, to the service's own machine.
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| (drafts[i].0, i));
    let mut machine = crate::app::machine(spec.workload);
    for i in order {
        let (_, op, happens) = &mut drafts[i];
        if *happens {
            op.output = machine.apply(&Command {
                op: op.op,
                key: op.key.clone(),
                value: op.value.clone(),
                expected: op.expected.clone(),
            });
        }
    }
    drafts.into_iter().map(|(_, op, _)| op).collect()
}

/// An operation of the workload, on a random key, with a value unique to it.
fn draw_op(spec: &Synthetic, rng: &mut Rng, client: usize, i: usize) -> Operation {
    let key = format!("{}", rng.index(spec.keys.max(1)));
    let unique = format!("x {client} {i} y");
    let (op, value, expected) = match spec.workload {
        Workload::Kv => match rng.index(if spec.deletes_and_cas { 7 } else { 4 }) {
            0 | 1 => (OpKind::Get, String::new(), None),
            2 => (OpKind::Put, unique, None),
            3 => (OpKind::Append, unique, None),
            4 => (OpKind::Delete, String::new(), None),
            // A cas expecting the empty value, or a value some put may have left.
            5 => (OpKind::Cas, unique, Some(String::new())),
            _ => {
                // Operations go to clients in turn, so this client's k-th operation back
                // is `clients * k` before this one.
                let back = spec.clients.max(1) * clients_back(rng);
                let earlier = format!("x {client} {} y", i.saturating_sub(back));
                (OpKind::Cas, unique, Some(earlier))
            }
        },
        Workload::Counter => match rng.index(3) {
            0 => (OpKind::Incr, String::new(), None),
            1 => (OpKind::Decr, "2".to_string(), None),
            _ => (OpKind::Read, String::new(), None),
        },
        Workload::Fib => (OpKind::Next, String::new(), None),
    };
    Operation {
        client: client as u64,
        op,
        key,
        value,
        expected,
        output: String::new(),
        call_us: 0,
        return_us: None,
    }
}

/// How many of its own operations back a cas looks for its expected value.
fn clients_back(rng: &mut Rng) -> usize {
    rng.index(4) + 1
}
