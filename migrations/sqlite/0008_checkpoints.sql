-- Signed checkpoints (`regentrace checkpoint`): the ledger position and head hash an Ed25519 key
-- signed, and when; a copy handed to a regulator proves later that the ledger still extends it
-- (docs/ledger-chain.md). Kept as the list of checkpoints taken, append-only like the ledger.
CREATE TABLE checkpoints (
    checkpoint_id INTEGER PRIMARY KEY AUTOINCREMENT,
    position      INTEGER NOT NULL,
    head_hash     TEXT    NOT NULL,
    signed_at     TEXT    NOT NULL,
    key_id        TEXT    NOT NULL,
    public_key    TEXT    NOT NULL,
    signature     TEXT    NOT NULL
);

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE on checkpoints refused');
END;

CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN
    SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE on checkpoints refused');
END;
