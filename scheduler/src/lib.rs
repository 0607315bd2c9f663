//! no_std cooperative scheduler traced by the encoder.
#![no_std]
