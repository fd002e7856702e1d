-- No query reads messages by sender and time: the index only cost every
-- stored message one more index entry to write.
DROP INDEX IF EXISTS messages_sender;
