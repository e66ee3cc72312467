-- 90-roles.sql: Supabase roles, passwords and schema privileges.
-- Idempotent. Runs under psql (local image entrypoint, or upstream supabase/postgres
-- migrate.sh when mounted into /docker-entrypoint-initdb.d/migrations/).
-- The password comes from the environment variable POSTGRES_PASSWORD through psql's
-- backtick expansion (the same technique upstream's volumes/db/roles.sql uses).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
\set pgpass `printf '%s' "$POSTGRES_PASSWORD"`
-- hand the password to the DO blocks below for this session only (not persisted)
SELECT set_config('acceptance.pgpass', :'pgpass', false) IS NOT NULL AS pgpass_set \gset
\unset pgpass

DO $$
DECLARE
  pw text := current_setting('acceptance.pgpass', true);
  r  text;
BEGIN
  IF coalesce(pw, '') = '' THEN
    RAISE EXCEPTION 'POSTGRES_PASSWORD is empty: every LOGIN role needs it';
  END IF;

  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_admin') THEN
    CREATE ROLE supabase_admin LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticator') THEN
    CREATE ROLE authenticator LOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_auth_admin') THEN
    CREATE ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'supabase_realtime_admin') THEN
    CREATE ROLE supabase_realtime_admin NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metrics_reader') THEN
    CREATE ROLE metrics_reader LOGIN;
  END IF;

  -- make the attributes right even where the roles already existed
  ALTER ROLE supabase_admin LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS;
  ALTER ROLE anon NOLOGIN NOINHERIT;
  ALTER ROLE authenticated NOLOGIN NOINHERIT;
  ALTER ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  ALTER ROLE authenticator LOGIN NOINHERIT;
  ALTER ROLE supabase_auth_admin LOGIN NOINHERIT CREATEROLE;
  ALTER ROLE metrics_reader LOGIN;

  -- every LOGIN role (ours and upstream's service roles, where present) gets the password
  FOREACH r IN ARRAY ARRAY['postgres', 'supabase_admin', 'authenticator',
      'supabase_auth_admin', 'metrics_reader', 'supabase_storage_admin',
      'supabase_functions_admin', 'supabase_replication_admin',
      'supabase_read_only_user', 'pgbouncer'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r AND rolcanlogin) THEN
      EXECUTE format('ALTER ROLE %I WITH PASSWORD %L', r, pw);
    END IF;
  END LOOP;
END
$$;

SELECT set_config('acceptance.pgpass', '', false) IS NOT NULL AS pgpass_cleared \gset

GRANT anon, authenticated, service_role TO authenticator;
GRANT pg_monitor TO metrics_reader;

-- statement timeouts applied by PostgREST (and the REST stand-in) per impersonated role
ALTER ROLE anon SET statement_timeout = '3s';
ALTER ROLE authenticated SET statement_timeout = '8s';
ALTER ROLE supabase_auth_admin SET search_path = auth;

DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO authenticator, supabase_auth_admin, metrics_reader, anon, authenticated, service_role', current_database());
  EXECUTE format('GRANT CREATE ON DATABASE %I TO supabase_auth_admin', current_database());
END
$$;

-- public schema: usage for the API roles; broad default privileges (RLS does the work)
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
DO $$
DECLARE
  owner_role text;
BEGIN
  FOREACH owner_role IN ARRAY ARRAY['postgres', 'supabase_admin', current_user] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner_role) THEN
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role', owner_role);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role', owner_role);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role', owner_role);
    END IF;
  END LOOP;
END
$$;

-- The monitoring role reads what the security checks need and the API role may not
-- (suite/checks/db_security.py): pg_hba rules, and each login role's password method,
-- never the hash (pg_authid is superuser-only). Schema monitoring is not exposed.
CREATE SCHEMA IF NOT EXISTS monitoring;
REVOKE ALL ON SCHEMA monitoring FROM PUBLIC;
GRANT USAGE ON SCHEMA monitoring TO metrics_reader;
CREATE OR REPLACE FUNCTION monitoring.role_password_methods()
RETURNS TABLE (role_name name, method text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = ''
AS $$
  SELECT rolname,
         CASE WHEN rolpassword IS NULL THEN 'none'
              WHEN rolpassword LIKE 'SCRAM-SHA-256$%' THEN 'scram-sha-256'
              WHEN rolpassword ~ '^md5[0-9a-f]{32}$' THEN 'md5'
              ELSE 'plain' END
  FROM pg_catalog.pg_authid WHERE rolcanlogin
$$;
REVOKE ALL ON FUNCTION monitoring.role_password_methods() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION monitoring.role_password_methods() TO metrics_reader;
GRANT SELECT ON pg_catalog.pg_hba_file_rules TO metrics_reader;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_hba_file_rules() TO metrics_reader;
