//! Recognises what a user hands us (binary trace, text form, or a `.test` file) by its content.
