//! Space-time diagrams of a trace (placeholder until the renderer lands).
