//! Chapter 3 experiment (in progress).
