//! Faults at chosen times: crash a node at 1 s, partition the cluster from 2 s to 4 s.
//!
//! An [`Action`] is one thing the harness does to the world. Both runtimes carry out the
//! same actions; a [`Schedule`] lists them by time. The chapter binaries build a schedule
//! from their `--crash` and `--partition` flags, whose grammar is parsed here:
//!
//! - `--crash 3@1s` crashes n3 at 1 s for good; `--crash 3@1s..2s` restarts it at 2 s.
//! - `--partition 1,2|3,4,5@1s..3s` cuts {n1,n2} from {n3,n4,n5} both ways from 1 s to
//!   3 s; `--partition 3|*@1s` cuts n3 from everyone from 1 s on; `--partition 1>2@0s..1s`
//!   cuts only the direction n1 -> n2. Without `@…` a partition lasts the whole run.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::id::NodeId;
use super::net::Faults;
use super::time::{format_duration, parse_duration};

/// One thing the harness does to the world.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Crash a node: its struct is dropped, its timers die, its storage survives.
    Crash(NodeId),
    /// Rebuild a crashed node from its storage and start it again.
    Restart(NodeId),
    /// Cut the links between groups `a` and `b` (`on = true`) or restore them.
    Partition {
        /// One side.
        a: Vec<NodeId>,
        /// The other side.
        b: Vec<NodeId>,
        /// Only the links from `a` to `b` are cut.
        one_way: bool,
        /// Apply (`true`) or lift (`false`).
        on: bool,
    },
    /// Cut a node off from everyone.
    Disconnect(NodeId),
    /// Restore every link of a node.
    Connect(NodeId),
    /// Lift every partition.
    Heal,
    /// Replace the random faults (drop, delay, duplication).
    SetFaults(Faults),
    /// Mark a node slow or not (exercise 0.2).
    Slow(NodeId, bool),
}

impl Action {
    /// Every node the action names.
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            Action::Crash(n) | Action::Restart(n) | Action::Disconnect(n) | Action::Connect(n) => {
                vec![*n]
            }
            Action::Slow(n, _) => vec![*n],
            Action::Partition { a, b, .. } => a.iter().chain(b).copied().collect(),
            Action::Heal | Action::SetFaults(_) => Vec::new(),
        }
    }

    /// Refuses an action that names a node outside a cluster of `nodes`, so that a typo
    /// in a test fails loudly instead of cutting off the wrong node or nothing at all.
    pub fn check(&self, nodes: usize) -> crate::Result<()> {
        match self
            .nodes()
            .into_iter()
            .find(|n| n.index_in(nodes).is_none())
        {
            Some(bad) => Err(crate::Error::Config(format!(
                "'{self}' names {bad}, but the cluster has only n1..=n{nodes}"
            ))),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[NodeId]| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Action::Crash(n) => write!(f, "crash {n}"),
            Action::Restart(n) => write!(f, "restart {n}"),
            Action::Partition { a, b, one_way, on } => {
                let arrow = if *one_way { ">" } else { "|" };
                let verb = if *on { "partition" } else { "end partition" };
                write!(f, "{verb} {}{arrow}{}", list(a), list(b))
            }
            Action::Disconnect(n) => write!(f, "disconnect {n}"),
            Action::Connect(n) => write!(f, "connect {n}"),
            Action::Heal => write!(f, "heal"),
            Action::SetFaults(x) => write!(
                f,
                "faults drop={} delay={}..{} duplicate={}",
                x.drop,
                format_duration(x.delay.0),
                format_duration(x.delay.1),
                x.duplicate
            ),
            Action::Slow(n, s) => write!(f, "slow {n} {s}"),
        }
    }
}

/// Actions at times since the start of the run, in the order they were added.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    /// `(when, what)` pairs.
    pub actions: Vec<(Duration, Action)>,
}

impl Schedule {
    /// Adds `action` at `at`.
    pub fn at(&mut self, at: Duration, action: Action) {
        self.actions.push((at, action));
    }

    /// When the last action happens (zero for an empty schedule): from then on, the
    /// faults are whatever the schedule left.
    pub fn last_at(&self) -> Duration {
        self.actions
            .iter()
            .map(|(at, _)| *at)
            .max()
            .unwrap_or_default()
    }

    /// The schedule of the shared `--crash` and `--partition` flags in a cluster of
    /// `nodes` nodes; an id outside `1..=nodes` is an error naming the flag.
    pub fn from_specs(
        nodes: usize,
        crashes: &[CrashSpec],
        partitions: &[PartitionSpec],
    ) -> Result<Schedule, String> {
        let mut s = Schedule::default();
        let check = |flag: &str, spec: &dyn fmt::Display, id: NodeId| {
            if id.0 == 0 || id.index() >= nodes {
                Err(format!(
                    "{flag} {spec}: there is no node {id} in a cluster of {nodes} (ids are 1..={nodes})"
                ))
            } else {
                Ok(())
            }
        };
        for c in crashes {
            check("--crash", c, c.node)?;
            s.at(c.at, Action::Crash(c.node));
            if let Some(r) = c.restart {
                s.at(r, Action::Restart(c.node));
            }
        }
        for p in partitions {
            let a = p.a.clone();
            let b = match &p.b {
                Some(b) => b.clone(),
                None => NodeId::all(nodes)
                    .into_iter()
                    .filter(|n| !a.contains(n))
                    .collect(),
            };
            for &id in a.iter().chain(&b) {
                check("--partition", p, id)?;
            }
            let act = |on| Action::Partition {
                a: a.clone(),
                b: b.clone(),
                one_way: p.one_way,
                on,
            };
            s.at(p.from, act(true));
            if let Some(until) = p.until {
                s.at(until, act(false));
            }
        }
        Ok(s)
    }
}

/// `--crash N@T` or `--crash N@T..R`: crash node N at T, restart it at R.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashSpec {
    /// The node to crash.
    pub node: NodeId,
    /// When it crashes.
    pub at: Duration,
    /// When it restarts, if it does.
    pub restart: Option<Duration>,
}

/// `--partition A|B@T..U` (both ways) or `A>B@T..U` (one way); `*` for B means every
/// node not in A.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionSpec {
    /// The first group.
    pub a: Vec<NodeId>,
    /// The second group (`None`: everyone not in `a`).
    pub b: Option<Vec<NodeId>>,
    /// Only `a -> b` is cut.
    pub one_way: bool,
    /// When the partition starts.
    pub from: Duration,
    /// When it ends (`None`: at the end of the run).
    pub until: Option<Duration>,
}

fn parse_node(text: &str) -> Result<NodeId, String> {
    let t = text.trim().trim_start_matches('n');
    match t.parse::<u32>() {
        Ok(0) => Err(format!("node ids start at 1, not '{text}'")),
        Ok(n) => Ok(NodeId(n)),
        Err(_) => Err(format!("'{text}' is not a node id (write 3 or n3)")),
    }
}

fn parse_group(text: &str) -> Result<Vec<NodeId>, String> {
    if text.trim().is_empty() {
        return Err("a group of nodes is empty".to_string());
    }
    text.split(',').map(parse_node).collect()
}

/// `@T` or `@T..U` after a spec; `None` when absent.
fn parse_window(text: &str) -> Result<(Duration, Option<Duration>), String> {
    match text.split_once("..") {
        Some((from, until)) => {
            let from = if from.is_empty() {
                Duration::ZERO
            } else {
                parse_duration(from)?
            };
            let until = parse_duration(until)?;
            if until <= from {
                return Err(format!("the window {text} ends before it starts"));
            }
            Ok((from, Some(until)))
        }
        None => Ok((parse_duration(text)?, None)),
    }
}

impl FromStr for CrashSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<CrashSpec, String> {
        let (node, when) = s.split_once('@').ok_or_else(|| {
            format!(
                "'{s}' should look like 3@1s (crash n3 at 1s) or 3@1s..2s (and restart it at 2s)"
            )
        })?;
        let node = parse_node(node)?;
        let (at, restart) = parse_window(when)?;
        Ok(CrashSpec { node, at, restart })
    }
}

impl fmt::Display for CrashSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.node.0, format_duration(self.at))?;
        if let Some(r) = self.restart {
            write!(f, "..{}", format_duration(r))?;
        }
        Ok(())
    }
}

impl FromStr for PartitionSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<PartitionSpec, String> {
        let hint =
            "write 1,2|3,4,5@1s..3s (both ways), 1>2@1s (one way) or 3|*@1s (n3 from everyone)";
        let (groups, window) = match s.split_once('@') {
            Some((g, w)) => (g, Some(w)),
            None => (s, None),
        };
        let (a, b, one_way) = if let Some((a, b)) = groups.split_once('|') {
            (a, b, false)
        } else if let Some((a, b)) = groups.split_once('>') {
            (a, b, true)
        } else {
            return Err(format!(
                "'{s}' has no '|' or '>' between two groups; {hint}"
            ));
        };
        let a = parse_group(a).map_err(|e| format!("'{s}': {e}; {hint}"))?;
        let b = if b.trim() == "*" {
            None
        } else {
            let b = parse_group(b).map_err(|e| format!("'{s}': {e}; {hint}"))?;
            if let Some(n) = b.iter().find(|n| a.contains(n)) {
                return Err(format!("'{s}': {n} is on both sides"));
            }
            Some(b)
        };
        let (from, until) = match window {
            Some(w) => parse_window(w).map_err(|e| format!("'{s}': {e}"))?,
            None => (Duration::ZERO, None),
        };
        Ok(PartitionSpec {
            a,
            b,
            one_way,
            from,
            until,
        })
    }
}

impl fmt::Display for PartitionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[NodeId]| {
            v.iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let b = self
            .b
            .as_deref()
            .map(list)
            .unwrap_or_else(|| "*".to_string());
        let arrow = if self.one_way { ">" } else { "|" };
        write!(
            f,
            "{}{arrow}{b}@{}",
            list(&self.a),
            format_duration(self.from)
        )?;
        if let Some(u) = self.until {
            write!(f, "..{}", format_duration(u))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_specs() {
        let c: CrashSpec = "3@1s".parse().unwrap();
        assert_eq!(
            (c.node, c.at, c.restart),
            (NodeId(3), Duration::from_secs(1), None)
        );
        let c: CrashSpec = "n2@500ms..2s".parse().unwrap();
        assert_eq!(c.restart, Some(Duration::from_secs(2)));
        assert!("3".parse::<CrashSpec>().is_err());
        assert!("0@1s".parse::<CrashSpec>().is_err());
        assert!("3@2s..1s"
            .parse::<CrashSpec>()
            .unwrap_err()
            .contains("ends before"));
    }

    #[test]
    fn partition_specs() {
        let p: PartitionSpec = "1,2|3,4,5@1s..3s".parse().unwrap();
        assert_eq!(p.a, vec![NodeId(1), NodeId(2)]);
        assert_eq!(p.b.as_ref().unwrap().len(), 3);
        assert!(!p.one_way);
        let p: PartitionSpec = "1>2@1s".parse().unwrap();
        assert!(p.one_way && p.until.is_none());
        let p: PartitionSpec = "3|*".parse().unwrap();
        assert_eq!(p.b, None);
        assert!("1,2".parse::<PartitionSpec>().is_err());
        assert!("1|1"
            .parse::<PartitionSpec>()
            .unwrap_err()
            .contains("both sides"));
        assert!("1|x".parse::<PartitionSpec>().is_err());
    }

    #[test]
    fn schedule_checks_ids_against_the_cluster() {
        let crash: CrashSpec = "7@1s".parse().unwrap();
        let err = Schedule::from_specs(5, &[crash], &[]).unwrap_err();
        assert!(err.contains("--crash") && err.contains("n7"), "{err}");
        let part: PartitionSpec = "3|*@1s..2s".parse().unwrap();
        let s = Schedule::from_specs(3, &[], &[part]).unwrap();
        assert_eq!(s.actions.len(), 2);
        match &s.actions[0].1 {
            Action::Partition { b, .. } => assert_eq!(b, &vec![NodeId(1), NodeId(2)]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn specs_print_as_they_parse() {
        for text in ["3@1s", "3@1s..2s"] {
            assert_eq!(text.parse::<CrashSpec>().unwrap().to_string(), text);
        }
        for text in ["1,2|3@1s..3s", "1>2@0ms", "3|*@1s"] {
            assert_eq!(text.parse::<PartitionSpec>().unwrap().to_string(), text);
        }
    }
}
