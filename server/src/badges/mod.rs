//! Printable visitor badges (issue 13 item 6).
