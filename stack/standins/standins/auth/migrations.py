"""The auth schema's tables, created at start like GoTrue's own migrations.

Tables and columns are modelled on GoTrue's (supabase/auth migrations) so that SQL
written against a real stack (RLS helpers, triggers on auth.users, dashboards) finds
the same names. Everything is idempotent and runs in one transaction under an
advisory lock, so several replicas may start at once.
"""
from __future__ import annotations

import logging

import psycopg

log = logging.getLogger("standins.auth")

# pg_advisory_xact_lock key: any constant that other services do not use
LOCK_KEY = 0x5A_B0_A7_00_01

VERSION = "20250101000000_standin_auth_v1"

DDL = r"""
CREATE TABLE IF NOT EXISTS auth.schema_migrations (
    version character varying(255) NOT NULL PRIMARY KEY
);

DO $$ BEGIN
    CREATE TYPE auth.aal_level AS ENUM ('aal1', 'aal2', 'aal3');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS auth.users (
    instance_id uuid NULL,
    id uuid NOT NULL PRIMARY KEY,
    aud character varying(255) NULL,
    "role" character varying(255) NULL,
    email character varying(255) NULL,
    encrypted_password character varying(255) NULL,
    email_confirmed_at timestamptz NULL,
    invited_at timestamptz NULL,
    confirmation_token character varying(255) NULL DEFAULT '',
    confirmation_sent_at timestamptz NULL,
    recovery_token character varying(255) NULL DEFAULT '',
    recovery_sent_at timestamptz NULL,
    email_change_token_new character varying(255) NULL DEFAULT '',
    email_change character varying(255) NULL DEFAULT '',
    email_change_sent_at timestamptz NULL,
    last_sign_in_at timestamptz NULL,
    raw_app_meta_data jsonb NULL,
    raw_user_meta_data jsonb NULL,
    is_super_admin bool NULL,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    phone text NULL DEFAULT NULL,
    phone_confirmed_at timestamptz NULL,
    phone_change text NULL DEFAULT '',
    phone_change_token character varying(255) NULL DEFAULT '',
    phone_change_sent_at timestamptz NULL,
    confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    email_change_token_current character varying(255) NULL DEFAULT '',
    email_change_confirm_status smallint NULL DEFAULT 0
        CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2),
    banned_until timestamptz NULL,
    reauthentication_token character varying(255) NULL DEFAULT '',
    reauthentication_sent_at timestamptz NULL,
    is_sso_user boolean NOT NULL DEFAULT false,
    deleted_at timestamptz NULL,
    is_anonymous boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE auth.users IS 'Auth: Stores user login data within a secure schema.';
-- GoTrue lower-cases emails before storing them; the index makes uniqueness
-- case-insensitive even for rows written by other tools.
CREATE UNIQUE INDEX IF NOT EXISTS users_email_partial_key ON auth.users (lower(email))
    WHERE is_sso_user = false AND email IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS users_phone_key ON auth.users (phone) WHERE phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS users_instance_id_idx ON auth.users (instance_id);
CREATE INDEX IF NOT EXISTS users_is_anonymous_idx ON auth.users (is_anonymous);
CREATE INDEX IF NOT EXISTS users_created_at_idx ON auth.users (created_at DESC);

CREATE TABLE IF NOT EXISTS auth.identities (
    provider_id text NOT NULL,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    identity_data jsonb NOT NULL,
    provider text NOT NULL,
    last_sign_in_at timestamptz NULL,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    email text GENERATED ALWAYS AS (lower(identity_data ->> 'email')) STORED,
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)
);
COMMENT ON TABLE auth.identities IS 'Auth: Stores identities associated to a user.';
CREATE INDEX IF NOT EXISTS identities_user_id_idx ON auth.identities (user_id);
CREATE INDEX IF NOT EXISTS identities_email_idx ON auth.identities (email text_pattern_ops);

CREATE TABLE IF NOT EXISTS auth.sessions (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    factor_id uuid NULL,
    aal auth.aal_level NULL,
    not_after timestamptz NULL,
    refreshed_at timestamp without time zone NULL,
    user_agent text NULL,
    ip inet NULL,
    tag text NULL
);
COMMENT ON TABLE auth.sessions IS 'Auth: Stores session data associated to a user.';
CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON auth.sessions (user_id);
CREATE INDEX IF NOT EXISTS user_id_created_at_idx ON auth.sessions (user_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_not_after_idx ON auth.sessions (not_after DESC);

CREATE TABLE IF NOT EXISTS auth.refresh_tokens (
    instance_id uuid NULL,
    id bigserial NOT NULL PRIMARY KEY,
    "token" character varying(255) NULL,
    user_id character varying(255) NULL,
    revoked bool NULL,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    parent character varying(255) NULL,
    session_id uuid NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    CONSTRAINT refresh_tokens_token_unique UNIQUE ("token")
);
COMMENT ON TABLE auth.refresh_tokens IS 'Auth: Store of tokens used to refresh JWT tokens once they expire.';
CREATE INDEX IF NOT EXISTS refresh_tokens_instance_id_idx ON auth.refresh_tokens (instance_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_instance_id_user_id_idx ON auth.refresh_tokens (instance_id, user_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_parent_idx ON auth.refresh_tokens (parent);
CREATE INDEX IF NOT EXISTS refresh_tokens_session_id_revoked_idx ON auth.refresh_tokens (session_id, revoked);
CREATE INDEX IF NOT EXISTS refresh_tokens_updated_at_idx ON auth.refresh_tokens (updated_at DESC);

CREATE TABLE IF NOT EXISTS auth.mfa_amr_claims (
    session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    authentication_method text NOT NULL,
    id uuid NOT NULL PRIMARY KEY,
    CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey UNIQUE (session_id, authentication_method)
);
COMMENT ON TABLE auth.mfa_amr_claims IS 'auth: stores authenticator method reference claims for multi factor authentication';

CREATE TABLE IF NOT EXISTS auth.audit_log_entries (
    instance_id uuid NULL,
    id uuid NOT NULL PRIMARY KEY,
    payload json NULL,
    created_at timestamptz NULL,
    ip_address character varying(64) NOT NULL DEFAULT ''
);
COMMENT ON TABLE auth.audit_log_entries IS 'Auth: Audit trail for user actions.';
"""

# Upstream (supabase/postgres) lets postgres and the dashboard role read auth's
# tables; service_role may read users (admin tooling in SQL). anon and authenticated
# get nothing. Roles that do not exist (a bare Postgres) are skipped.
GRANTS = r"""
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['postgres', 'dashboard_user', 'supabase_admin'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) AND r <> current_user THEN
            EXECUTE format('GRANT USAGE ON SCHEMA auth TO %I', r);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA auth TO %I', r);
            EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA auth TO %I', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        EXECUTE 'GRANT USAGE ON SCHEMA auth TO service_role';
        EXECUTE 'GRANT SELECT ON auth.users, auth.identities TO service_role';
    END IF;
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM %I', r);
        END IF;
    END LOOP;
END $$;
"""


async def migrate(conn: psycopg.AsyncConnection) -> bool:
    """Create or complete the auth tables. Returns True when this call applied them."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        cur = await conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'auth'")
        if await cur.fetchone() is None:
            await conn.execute("CREATE SCHEMA auth")
        await conn.execute("SET LOCAL client_min_messages = warning")
        cur = await conn.execute("SELECT to_regclass('auth.schema_migrations') IS NOT NULL")
        row = await cur.fetchone()
        if row and row[0]:
            cur = await conn.execute("SELECT 1 FROM auth.schema_migrations WHERE version = %s", (VERSION,))
            applied = await cur.fetchone() is not None
        else:
            applied = False
        if not applied:
            # idempotent DDL, all in this transaction: never half-applied
            await conn.execute(DDL)
            await conn.execute("INSERT INTO auth.schema_migrations (version) VALUES (%s) ON CONFLICT DO NOTHING",
                               (VERSION,))
        await conn.execute(GRANTS)  # every start: roles may have appeared since
        return not applied
