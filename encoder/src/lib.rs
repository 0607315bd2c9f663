//! no_std writer of Go 1.22 execution traces.
#![no_std]
