-- Released entries: a holder who waited at a door (an escorted visitor, the first of a
-- two-person pair) is let in by another holder's presentation, and the door agent
-- journals that entry as its own event (`released_entry`). These columns say who
-- released it (`released_by`: a person or visit id) and by which event (`release_of`:
-- the releasing presentation's id here). Both are NULL on every other event. Adding
-- nullable columns keeps the rows, and the append-only triggers stay as they are.
ALTER TABLE access_events ADD COLUMN released_by BLOB;
ALTER TABLE access_events ADD COLUMN release_of BLOB;
