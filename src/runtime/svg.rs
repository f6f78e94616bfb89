//! Space-time diagrams (stub until the renderer lands).
use super::trace::Record;
/// stub
#[derive(Default)]
pub struct SvgOptions {
    /// stub
    pub title: String,
}
/// stub
pub fn write_svg(
    path: &std::path::Path,
    records: &[Record],
    nodes: usize,
    options: &SvgOptions,
) -> crate::Result<()> {
    let _ = (path, records, nodes, options);
    Ok(())
}
