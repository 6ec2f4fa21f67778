//! The integration tests: one binary that drives the real `tessera` executable (and, for the
//! web front end, the real router) against fresh instances in temporary directories.

mod core;
mod jwt;
mod packages;
mod quickstart;
mod support;
mod web;
