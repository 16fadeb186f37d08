//! Notifications: invitation emails, arrival notices, signed webhooks (issue 13 item 3).
