//! TEMPORARY stub until the storage module lands.
use crate::error::{Error, Result};
use crate::runtime::NodeId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
#[derive(Default, Debug, Clone)]
struct Data { meta: BTreeMap<String, Vec<u8>>, log: Vec<Vec<u8>> }
/// stub
pub struct Storage { data: Arc<Mutex<Data>> }
/// stub
#[derive(Clone, Debug)]
pub enum Location { /// stub
 Memory(Arc<Mutex<Data>>), /// stub
 Sqlite { /// stub
 path: PathBuf, /// stub
 cluster_id: String, /// stub
 node: NodeId } }
fn poisoned() -> Error { Error::Runtime("poisoned".into()) }
impl Location {
    /// stub
    pub fn memory() -> Location { Location::Memory(Arc::default()) }
    /// stub
    pub fn sqlite(dir: &Path, cluster_id: &str, node: NodeId) -> Location { Location::Sqlite { path: dir.join(format!("{node}.db")), cluster_id: cluster_id.into(), node } }
    /// stub
    pub fn open(&self) -> Result<Storage> { match self { Location::Memory(d) => Ok(Storage { data: d.clone() }), _ => Err(Error::Config("stub".into())) } }
}
impl Storage {
    /// stub
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>> { Ok(self.data.lock().map_err(|_| poisoned())?.meta.get(key).cloned()) }
    /// stub
    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> { self.data.lock().map_err(|_| poisoned())?.meta.insert(key.into(), value.to_vec()); Ok(()) }
    /// stub
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> { Ok(self.get(key)?.map(|v| { let mut b = [0u8; 8]; b.copy_from_slice(&v[..8]); u64::from_be_bytes(b) })) }
    /// stub
    pub fn put_u64(&mut self, key: &str, value: u64) -> Result<()> { self.put(key, &value.to_be_bytes()) }
}
