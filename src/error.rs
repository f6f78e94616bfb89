//! The crate's one error type.
//!
//! Every error a reader can meet says three things: what was being done (the file,
//! the flag, the node), what is wrong, and how to fix it. Nothing that fails here has
//! changed anything on disk.

use std::fmt;
use std::path::PathBuf;

use crate::types::NodeId;

/// Every fallible function in the library returns this.
pub type Result<T> = std::result::Result<T, Error>;

/// What went wrong, with enough context to fix it.
#[derive(Debug)]
pub enum Error {
    /// A node's database can't be used as it is: someone else's, newer, or damaged.
    /// The file was left exactly as it was found.
    Storage {
        /// The database file.
        path: PathBuf,
        /// What is wrong, in one sentence.
        problem: String,
        /// What the reader can do about it, in one sentence.
        fix: String,
    },
    /// SQLite refused an operation on a node's database.
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's own error.
        source: rusqlite::Error,
    },
    /// An operating-system I/O error (a data directory, a trace file).
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A trace file that can't be read or written as one.
    Trace {
        /// The trace file.
        path: PathBuf,
        /// What is wrong with it, with the line if one is to blame.
        problem: String,
    },
    /// A history file that can't be read as one (see `check::history` for the format).
    History {
        /// The history file.
        path: PathBuf,
        /// What is wrong with it, naming the line to blame and what that line needs.
        problem: String,
    },
    /// A configuration that can't be used (a bad fault schedule, a bad cluster size).
    Config(String),
    /// A node failed and is down: a handler of it failed (its storage did, say), and the
    /// node was crashed, fail-stop, with none of the handler's effects leaving it; or a
    /// restart could not rebuild it from its storage.
    NodeFailed {
        /// The node.
        node: NodeId,
        /// Why its handler failed.
        source: Box<Error>,
    },
    /// A harness check found the cluster other than the test expected (no leader where
    /// one was due, two leaders of one term).
    Harness(String),
    /// The runtime could not carry out a request (a node is crashed, the runtime stopped).
    Runtime(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Storage { path, problem, fix } => {
                write!(f, "{}: {problem}; {fix}", path.display())
            }
            Error::Sqlite { path, source } => write!(f, "{}: sqlite: {source}", path.display()),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Trace { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::History { path, problem } => write!(f, "{}: {problem}", path.display()),
            Error::Config(msg) => write!(f, "invalid configuration: {msg}"),
            Error::NodeFailed { node, source } => {
                write!(f, "{node} failed and is down: {source}")
            }
            Error::Harness(msg) => write!(f, "harness: {msg}"),
            Error::Runtime(msg) => write!(f, "runtime: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Sqlite { source, .. } => Some(source),
            Error::Io { source, .. } => Some(source),
            Error::NodeFailed { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
