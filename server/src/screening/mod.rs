//! Watchlist screening of visitors (issue 13 item 4).
