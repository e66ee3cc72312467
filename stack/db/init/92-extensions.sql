-- 92-extensions.sql: extensions in schema `extensions` (as upstream), publication.
-- wal2json is a logical decoding output plugin: nothing to create, it only has to be
-- installed (pg_create_logical_replication_slot('slot', 'wal2json')).
\set ON_ERROR_STOP on
SET client_min_messages = warning;

CREATE SCHEMA IF NOT EXISTS extensions;
GRANT USAGE ON SCHEMA extensions TO anon, authenticated, service_role, metrics_reader;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pgtap WITH SCHEMA extensions;

-- unqualified names (pg_stat_statements, pgTAP's plan()/is()) resolve for every role
DO $$
BEGIN
  EXECUTE format('ALTER DATABASE %I SET search_path = "$user", public, extensions', current_database());
END
$$;
ALTER ROLE metrics_reader SET search_path = "$user", public, extensions;

-- Realtime: the publication the realtime service reads (tables are added by 93-app-schema)
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
    CREATE PUBLICATION supabase_realtime;
  END IF;
END
$$;
