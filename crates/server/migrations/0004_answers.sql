-- Feedback answers: a rating, an NPS score or a choice index; never text.
ALTER TABLE events ADD COLUMN answer BIGINT;
