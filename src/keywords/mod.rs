//! The keyword engine: parses templates with `%keyword^modifier:arg%` replacements and renders
//! them against a set of values. Pure: no I/O.
