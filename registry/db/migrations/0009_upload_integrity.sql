-- Upload integrity.
--
-- upload_sessions.writes counts the writers ever opened on a session, cut-off ones included:
-- a process trusts its in-memory hash of an upload only when no other writer touched the
-- upload between its own chunks. Otherwise the digest is computed from the stored bytes.
ALTER TABLE upload_sessions ADD COLUMN writes BIGINT NOT NULL DEFAULT 0;

-- blobs.verified: the bytes at the blob's path were hashed to its digest when they were
-- stored. Rows from before this column may name bytes that were never checked; a push of the
-- same digest replaces those bytes with its own verified copy instead of deduplicating onto
-- them, and a mount never links them.
ALTER TABLE blobs ADD COLUMN verified BOOLEAN NOT NULL DEFAULT FALSE;
