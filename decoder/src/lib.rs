//! Host-side reader and validator of Go execution traces.
