CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    plan VARCHAR(20) NOT NULL DEFAULT 'trial'
);
CREATE INDEX ix_subscriptions_user_id ON subscriptions (user_id);
