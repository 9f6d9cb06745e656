//! The `joule` command line.
fn main() {}
