//! Shared helpers for the workspace-level integration tests (Go oracle, trace builders).
