//! Watchlist screening (issue 13 item 4): the list's store on both databases, its API,
//! and precision and recall of the matching on a generated test list.

mod api;
mod store;
