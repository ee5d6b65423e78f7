//! Oracle adapter (issue 3).
