//! What clients ask: random commands of a workload, each write with a value of its own
//! (`x 3 17 y`: client 3's 17th), so that a read shows exactly which writes it saw.

use crate::app::{Command, OpKind, Workload};
use crate::runtime::Rng;

/// Command number `n` of client `client`, drawn from `rng`, on one of `keys` keys.
pub fn command(workload: Workload, keys: usize, client: u64, n: u64, rng: &mut Rng) -> Command {
    let key = format!("{}", rng.index(keys.max(1)));
    let unique = format!("x {client} {n} y");
    match workload {
        Workload::Kv => match rng.index(8) {
            0..=2 => Command::new(OpKind::Get, key, ""),
            3 | 4 => Command::new(OpKind::Append, key, unique),
            5 => Command::new(OpKind::Put, key, unique),
            6 => Command::cas(key, "", unique),
            _ => Command::new(OpKind::Delete, key, ""),
        },
        Workload::Counter => match rng.index(3) {
            0 | 1 => Command::new(OpKind::Incr, key, ""),
            _ => Command::new(OpKind::Read, key, ""),
        },
        Workload::Fib => Command::new(OpKind::Next, key, ""),
    }
}
