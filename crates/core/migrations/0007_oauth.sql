-- OAuth2 sign-in (issue 18): how a profile authenticates, its OAuth2 client,
-- and the tokens of each mailbox (or of the profile, for app-only access).
-- Existing profiles keep signing in with passwords; switching one to oauth2
-- changes only these columns, so its mailboxes and their sync state stay.
ALTER TABLE email_server_profiles ADD COLUMN auth TEXT NOT NULL DEFAULT 'password'
    CHECK (auth IN ('password', 'oauth2'));
ALTER TABLE email_server_profiles ADD COLUMN oauth_provider TEXT
    CHECK (oauth_provider IS NULL OR oauth_provider IN ('microsoft', 'google', 'custom'));
ALTER TABLE email_server_profiles ADD COLUMN oauth_client_id TEXT;
ALTER TABLE email_server_profiles ADD COLUMN oauth_client_secret_enc BLOB;
ALTER TABLE email_server_profiles ADD COLUMN oauth_tenant TEXT;
ALTER TABLE email_server_profiles ADD COLUMN oauth_issuer TEXT;
ALTER TABLE email_server_profiles ADD COLUMN oauth_authorize_url TEXT;
ALTER TABLE email_server_profiles ADD COLUMN oauth_token_url TEXT;
ALTER TABLE email_server_profiles ADD COLUMN oauth_device_url TEXT;
ALTER TABLE email_server_profiles ADD COLUMN oauth_scopes TEXT;

-- One row per mailbox signed in through a profile (mailbox_id set), or per
-- profile for an app-only token (mailbox_id NULL). Both tokens are encrypted
-- with the store's credential key, like passwords.
CREATE TABLE oauth_tokens (
    id          INTEGER PRIMARY KEY,
    profile_id  INTEGER NOT NULL REFERENCES email_server_profiles(id) ON DELETE CASCADE,
    mailbox_id  INTEGER REFERENCES mailboxes(id) ON DELETE CASCADE,
    access_enc  BLOB,
    refresh_enc BLOB,
    expires_on  TEXT,
    scope       TEXT,
    updated_on  TEXT NOT NULL
);
CREATE UNIQUE INDEX oauth_tokens_mailbox ON oauth_tokens(profile_id, mailbox_id) WHERE mailbox_id IS NOT NULL;
CREATE UNIQUE INDEX oauth_tokens_profile ON oauth_tokens(profile_id) WHERE mailbox_id IS NULL;
