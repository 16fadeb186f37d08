//! Watchlist screening (issue 13 item 4): the list's store on both databases, its API
//! and its console pages. Precision and recall of the matching are a unit test
//! (`gatehouse_server::screening::eval`), since they need no server.

mod api;
mod console;
mod import;
mod store;
