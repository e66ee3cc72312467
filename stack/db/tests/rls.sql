-- pgTAP proof of the access matrix in stack/db/README.md, run as a superuser
-- (postgres or supabase_admin) inside one transaction that is rolled back:
--   pg_prove -h HOST -p PORT -U postgres -d postgres stack/db/tests/rls.sql
--   psql -v ON_ERROR_STOP=1 -h HOST -p PORT -U postgres -f stack/db/tests/rls.sql
-- Fixture ids (>= 910000) and uuids are private to this file, so it can run against a
-- database that already holds data.
\set ON_ERROR_STOP on
\set QUIET on
SET client_min_messages = warning;
BEGIN;
SET LOCAL search_path = public, extensions;
SELECT plan(61);

-- ------------------------------------------------------------------ fixtures
-- alice + bob in team A (910001), carol in team B (910002)
\set alice '\'a11ce000-0000-4000-8000-00000000000a\''
\set bob   '\'b0b00000-0000-4000-8000-00000000000b\''
\set carol '\'ca201000-0000-4000-8000-00000000000c\''
\set claims_alice '\'{"sub":"a11ce000-0000-4000-8000-00000000000a","role":"authenticated"}\''
\set claims_bob   '\'{"sub":"b0b00000-0000-4000-8000-00000000000b","role":"authenticated"}\''
\set claims_carol '\'{"sub":"ca201000-0000-4000-8000-00000000000c","role":"authenticated"}\''

INSERT INTO notes (id, owner_id, body) VALUES
  (910001, :alice, 'alice note'), (910002, :bob, 'bob note');
INSERT INTO teams (id, name) VALUES (910001, 'team A'), (910002, 'team B');
INSERT INTO team_members (team_id, user_id) VALUES
  (910001, :alice), (910001, :bob), (910002, :carol);
INSERT INTO team_docs (id, team_id, title, created_by) VALUES
  (910101, 910001, 'A by alice', :alice),
  (910102, 910001, 'A by bob', :bob),
  (910103, 910002, 'B by carol', :carol);
INSERT INTO announcements (id, title, published) VALUES
  (910201, 'published', true), (910202, 'draft', false);
INSERT INTO messages (id, room, owner_id, body) VALUES
  (910301, 'pgtap-room', :alice, 'hi from alice'),
  (910302, 'pgtap-room', :bob, 'hi from bob');

-- ------------------------------------------------------------------ structure (12)
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity),
          0::bigint, 'RLS is enabled on every table in public');
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)),
          0::bigint, 'every table in public has at least one policy');
SELECT ok(EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                  AND schemaname = 'public' AND tablename = 'messages'),
          'messages is in publication supabase_realtime');
SELECT is((SELECT relreplident::text FROM pg_class WHERE oid = 'public.messages'::regclass),
          'f', 'messages has REPLICA IDENTITY FULL');
SELECT ok((SELECT rolbypassrls AND NOT rolcanlogin FROM pg_roles WHERE rolname = 'service_role'),
          'service_role: NOLOGIN BYPASSRLS');
SELECT ok((SELECT rolcanlogin AND NOT rolinherit FROM pg_roles WHERE rolname = 'authenticator'),
          'authenticator: LOGIN NOINHERIT');
SELECT ok(pg_has_role('authenticator', 'anon', 'MEMBER')
          AND pg_has_role('authenticator', 'authenticated', 'MEMBER')
          AND pg_has_role('authenticator', 'service_role', 'MEMBER'),
          'authenticator may switch to anon, authenticated, service_role');
SELECT ok((SELECT rolsuper FROM pg_roles WHERE rolname = 'supabase_admin'), 'supabase_admin is superuser');
SELECT is((SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'auth'),
          'supabase_auth_admin', 'supabase_auth_admin owns schema auth');
SELECT ok(pg_has_role('metrics_reader', 'pg_monitor', 'MEMBER'), 'metrics_reader is in pg_monitor');
SELECT ok((SELECT 'statement_timeout=3s' = ANY (rolconfig) FROM pg_roles WHERE rolname = 'anon'),
          'anon statement_timeout 3s');
SELECT ok((SELECT 'statement_timeout=8s' = ANY (rolconfig) FROM pg_roles WHERE rolname = 'authenticated'),
          'authenticated statement_timeout 8s');

-- ------------------------------------------------------------------ auth helpers (5)
SELECT set_config('request.jwt.claims', :claims_alice, true) \g /dev/null
SELECT is(auth.uid(), :alice::uuid, 'auth.uid() reads sub from request.jwt.claims');
SELECT is(auth.role(), 'authenticated', 'auth.role() reads role from request.jwt.claims');
SELECT is(auth.jwt() ->> 'sub', :alice, 'auth.jwt() returns the claims');
SELECT set_config('request.jwt.claims', '', true) \g /dev/null
SELECT set_config('request.jwt.claim.sub', :bob, true) \g /dev/null
SELECT set_config('request.jwt.claim.role', 'anon', true) \g /dev/null
SELECT is(auth.uid(), :bob::uuid, 'auth.uid() falls back to request.jwt.claim.sub');
SELECT is(auth.role(), 'anon', 'auth.role() falls back to request.jwt.claim.role');
SELECT set_config('request.jwt.claim.sub', '', true) \g /dev/null
SELECT set_config('request.jwt.claim.role', '', true) \g /dev/null

-- ------------------------------------------------------------------ anon (11)
SET LOCAL ROLE anon;
SELECT set_config('request.jwt.claims', '{"role":"anon"}', true) \g /dev/null
SELECT is((SELECT count(*) FROM notes), 0::bigint, 'anon: sees no notes');
SELECT throws_ok($$INSERT INTO notes (owner_id, body) VALUES ('a11ce000-0000-4000-8000-00000000000a', 'x')$$,
                 '42501', NULL, 'anon: cannot insert notes');
SELECT is((SELECT count(*) FROM teams), 0::bigint, 'anon: sees no teams');
SELECT is((SELECT count(*) FROM team_docs), 0::bigint, 'anon: sees no team_docs');
SELECT is((SELECT count(*) FROM messages), 0::bigint, 'anon: sees no messages');
SELECT is((SELECT array_agg(id ORDER BY id) FROM announcements WHERE id >= 910000),
          ARRAY[910201::bigint], 'anon: sees published announcements only');
SELECT throws_ok($$INSERT INTO announcements (title) VALUES ('x')$$, '42501', NULL,
                 'anon: cannot insert announcements');
SELECT results_eq($$WITH u AS (UPDATE announcements SET title = 'hacked' WHERE id = 910201 RETURNING 1)
                    SELECT count(*) FROM u$$, $$VALUES (0::bigint)$$,
                  'anon: update of announcements changes no row');
SELECT results_eq($$WITH d AS (DELETE FROM announcements WHERE id = 910201 RETURNING 1)
                    SELECT count(*) FROM d$$, $$VALUES (0::bigint)$$,
                  'anon: delete of announcements removes no row');
SELECT is(public.echo('hello'), 'hello', 'anon: can call echo()');
SELECT lives_ok($$SELECT public.slow(0.01)$$, 'anon: can call slow()');
RESET ROLE;

-- ------------------------------------------------------------------ alice (24)
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', :claims_alice, true) \g /dev/null
SELECT is((SELECT array_agg(id ORDER BY id) FROM notes WHERE id >= 910000),
          ARRAY[910001::bigint], 'alice: sees only her own note');
SELECT lives_ok($$INSERT INTO notes (body) VALUES ('alice second note')$$,
                'alice: inserts a note (owner_id defaults to auth.uid())');
SELECT throws_ok($$INSERT INTO notes (owner_id, body) VALUES ('b0b00000-0000-4000-8000-00000000000b', 'forged')$$,
                 '42501', NULL, 'alice: cannot insert a note owned by bob');
SELECT results_eq($$WITH u AS (UPDATE notes SET body = 'x' WHERE id = 910002 RETURNING 1) SELECT count(*) FROM u$$,
                  $$VALUES (0::bigint)$$, 'alice: cannot update bob''s note');
SELECT results_eq($$WITH d AS (DELETE FROM notes WHERE id = 910002 RETURNING 1) SELECT count(*) FROM d$$,
                  $$VALUES (0::bigint)$$, 'alice: cannot delete bob''s note');
SELECT results_eq($$WITH u AS (UPDATE notes SET body = 'edited' WHERE id = 910001 RETURNING 1) SELECT count(*) FROM u$$,
                  $$VALUES (1::bigint)$$, 'alice: updates her own note');
SELECT throws_ok($$UPDATE notes SET owner_id = 'b0b00000-0000-4000-8000-00000000000b' WHERE id = 910001$$,
                 '42501', NULL, 'alice: cannot give her note to bob');
SELECT is((SELECT array_agg(id ORDER BY id) FROM teams WHERE id >= 910000),
          ARRAY[910001::bigint], 'alice: sees only her team');
SELECT is((SELECT array_agg(team_id ORDER BY team_id) FROM team_members WHERE team_id >= 910000),
          ARRAY[910001::bigint], 'alice: sees only her own membership');
SELECT throws_ok($$INSERT INTO teams (name) VALUES ('mine')$$, '42501', NULL, 'alice: cannot create teams');
SELECT throws_ok($$INSERT INTO team_members (team_id, user_id) VALUES (910002, 'a11ce000-0000-4000-8000-00000000000a')$$,
                 '42501', NULL, 'alice: cannot join team B');
SELECT is((SELECT array_agg(id ORDER BY id) FROM team_docs WHERE id >= 910000),
          ARRAY[910101::bigint, 910102], 'alice: sees team A docs only');
SELECT lives_ok($$INSERT INTO team_docs (team_id, title) VALUES (910001, 'new A doc')$$,
                'alice: inserts a doc into team A');
SELECT throws_ok($$INSERT INTO team_docs (team_id, title) VALUES (910002, 'sneaky')$$,
                 '42501', NULL, 'alice: cannot insert into team B');
SELECT results_eq($$WITH u AS (UPDATE team_docs SET body = 'edited by alice' WHERE id = 910102 RETURNING created_by)
                    SELECT created_by::text FROM u$$,
                  $$VALUES ('b0b00000-0000-4000-8000-00000000000b'::text)$$,
                  'alice: updates bob''s team A doc (created_by unchanged)');
SELECT results_eq($$WITH u AS (UPDATE team_docs SET created_by = 'a11ce000-0000-4000-8000-00000000000a' WHERE id = 910102 RETURNING created_by)
                    SELECT created_by::text FROM u$$,
                  $$VALUES ('b0b00000-0000-4000-8000-00000000000b'::text)$$,
                  'alice: cannot take over bob''s doc (created_by is kept)');
SELECT results_eq($$WITH u AS (UPDATE team_docs SET body = 'x' WHERE id = 910103 RETURNING 1) SELECT count(*) FROM u$$,
                  $$VALUES (0::bigint)$$, 'alice: cannot update team B docs');
SELECT throws_ok($$UPDATE team_docs SET team_id = 910002 WHERE id = 910101$$, '42501', NULL,
                 'alice: cannot move a doc into team B');
SELECT results_eq($$WITH d AS (DELETE FROM team_docs WHERE id = 910102 RETURNING 1) SELECT count(*) FROM d$$,
                  $$VALUES (0::bigint)$$, 'alice: cannot delete bob''s doc');
SELECT results_eq($$WITH d AS (DELETE FROM team_docs WHERE id = 910101 RETURNING 1) SELECT count(*) FROM d$$,
                  $$VALUES (1::bigint)$$, 'alice: deletes her own doc');
SELECT is((SELECT array_agg(id ORDER BY id) FROM announcements WHERE id >= 910000),
          ARRAY[910201::bigint], 'alice: sees published announcements only');
SELECT throws_ok($$INSERT INTO announcements (title) VALUES ('x')$$, '42501', NULL,
                 'alice: cannot insert announcements');
SELECT is((SELECT array_agg(id ORDER BY id) FROM messages WHERE id >= 910000),
          ARRAY[910301::bigint], 'alice: sees only her own messages');
SELECT throws_ok($$INSERT INTO messages (room, owner_id, body) VALUES ('pgtap-room', 'b0b00000-0000-4000-8000-00000000000b', 'forged')$$,
                 '42501', NULL, 'alice: cannot post a message as bob');
RESET ROLE;

-- ------------------------------------------------------------------ bob, carol (4)
SET LOCAL ROLE authenticated;
SELECT set_config('request.jwt.claims', :claims_bob, true) \g /dev/null
SELECT results_eq($$WITH u AS (UPDATE messages SET body = 'x' WHERE id = 910301 RETURNING 1) SELECT count(*) FROM u$$,
                  $$VALUES (0::bigint)$$, 'bob: cannot update alice''s message');
SELECT results_eq($$WITH d AS (DELETE FROM messages WHERE id = 910302 RETURNING 1) SELECT count(*) FROM d$$,
                  $$VALUES (1::bigint)$$, 'bob: deletes his own message');
SELECT set_config('request.jwt.claims', :claims_carol, true) \g /dev/null
SELECT is((SELECT array_agg(id ORDER BY id) FROM team_docs WHERE id >= 910000),
          ARRAY[910103::bigint], 'carol: sees team B docs only');
SELECT is((SELECT count(*) FROM notes WHERE id >= 910000), 0::bigint, 'carol: sees nobody else''s notes');
RESET ROLE;

-- ------------------------------------------------------------------ service_role (5)
SET LOCAL ROLE service_role;
SELECT set_config('request.jwt.claims', '{"role":"service_role"}', true) \g /dev/null
SELECT ok((SELECT count(*) FROM notes WHERE id IN (910001, 910002)) = 2, 'service_role: sees every note');
SELECT is((SELECT array_agg(id ORDER BY id) FROM announcements WHERE id >= 910000),
          ARRAY[910201::bigint, 910202], 'service_role: sees unpublished announcements');
SELECT lives_ok($$INSERT INTO teams (id, name) VALUES (910003, 'team C')$$, 'service_role: creates teams');
SELECT lives_ok($$INSERT INTO team_members (team_id, user_id) VALUES (910003, 'a11ce000-0000-4000-8000-00000000000a')$$,
                'service_role: adds members');
SELECT lives_ok($$INSERT INTO announcements (title) VALUES ('from service')$$, 'service_role: writes announcements');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
