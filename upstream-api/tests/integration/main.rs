//! Integration tests of `upstream-api`, one test binary: in-process handler tests,
//! storage tests on SQLite and PostgreSQL, and the real binary started as a process.

mod api;
mod binary;
mod common;
mod redis;
mod storage;
