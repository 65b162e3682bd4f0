//! End-to-end tests for Hallmark. The tests live in `tests/`; `src/bin` holds helper programs the
//! tests run as child processes (so that they can be killed for real).
