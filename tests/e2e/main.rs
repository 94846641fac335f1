//! End-to-end tests: the `temper` binary on tiny generated data.

mod bad_input;
mod cli;
mod harness;
mod resume;
mod runs;
