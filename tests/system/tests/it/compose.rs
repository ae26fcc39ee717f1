//! The container wiring, checked against the settings the code reads.
