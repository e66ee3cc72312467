-- A second application schema, unlike the bundled one, for the access-spec integration test
-- (tests/integration/test_access_check.py): organisations with members, projects, tasks,
-- comments, profiles tied to auth.users, service-only invoices, public tags, an audit log,
-- a view and a SECURITY DEFINER membership function. Created in its own database and
-- dropped afterwards.
CREATE SCHEMA IF NOT EXISTS auth;
CREATE TABLE auth.users (id uuid PRIMARY KEY, email text);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(coalesce(current_setting('request.jwt.claims', true)::jsonb ->> 'sub',
                         current_setting('request.jwt.claim.sub', true)), '')::uuid
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION auth.uid() TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

CREATE TYPE public.task_state AS ENUM ('open', 'done');
CREATE TABLE public.organizations (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE public.org_members (
  org_id bigint NOT NULL REFERENCES public.organizations ON DELETE CASCADE,
  member_id uuid NOT NULL REFERENCES auth.users,
  role text NOT NULL DEFAULT 'member',
  PRIMARY KEY (org_id, member_id));
CREATE TABLE public.projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id bigint NOT NULL REFERENCES public.organizations ON DELETE CASCADE,
  title text NOT NULL);
CREATE TABLE public.tasks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES public.projects ON DELETE CASCADE,
  org_id bigint NOT NULL REFERENCES public.organizations,
  state public.task_state NOT NULL,
  due date NOT NULL,
  title text NOT NULL);
CREATE TABLE public.comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES public.tasks ON DELETE CASCADE,
  author uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users,
  body text NOT NULL);
CREATE TABLE public.profiles (
  user_id uuid PRIMARY KEY REFERENCES auth.users,
  display_name text NOT NULL,
  settings jsonb NOT NULL);
CREATE TABLE public.invoices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id bigint NOT NULL REFERENCES public.organizations,
  amount numeric(10, 2) NOT NULL CHECK (amount > 0));
CREATE TABLE public.tags (id serial PRIMARY KEY, label text NOT NULL UNIQUE);
CREATE TABLE public.audit_log (
  at timestamptz NOT NULL DEFAULT now(),
  actor uuid NOT NULL,
  action text NOT NULL);

CREATE FUNCTION public.is_org_member(org bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT EXISTS (SELECT 1 FROM public.org_members m WHERE m.org_id = org AND m.member_id = auth.uid())
$$;
REVOKE ALL ON FUNCTION public.is_org_member(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.is_org_member(bigint) TO authenticated, service_role;

CREATE VIEW public.open_tasks WITH (security_invoker = true) AS
  SELECT t.id, t.title, p.title AS project FROM public.tasks t JOIN public.projects p ON p.id = t.project_id
  WHERE t.state = 'open';

GRANT ALL ON ALL TABLES IN SCHEMA public TO authenticated, service_role;
GRANT SELECT ON public.tags TO anon;
REVOKE ALL ON public.invoices, public.audit_log FROM authenticated;
GRANT INSERT ON public.audit_log TO authenticated;
-- profiles: a user may change their name and settings, never the row's user
REVOKE UPDATE ON public.profiles FROM authenticated;
GRANT UPDATE (display_name, settings) ON public.profiles TO authenticated;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO authenticated, service_role;

ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.org_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY organizations_member ON public.organizations FOR SELECT TO authenticated
  USING (public.is_org_member(id));
CREATE POLICY org_members_self ON public.org_members FOR SELECT TO authenticated
  USING (member_id = (SELECT auth.uid()));
CREATE POLICY projects_member ON public.projects FOR ALL TO authenticated
  USING (public.is_org_member(org_id)) WITH CHECK (public.is_org_member(org_id));
CREATE POLICY tasks_member_read ON public.tasks FOR SELECT TO authenticated
  USING (public.is_org_member(org_id));
CREATE POLICY tasks_member_write ON public.tasks FOR UPDATE TO authenticated
  USING (public.is_org_member(org_id)) WITH CHECK (public.is_org_member(org_id));
CREATE POLICY comments_read ON public.comments FOR SELECT TO authenticated USING (true);
CREATE POLICY comments_write ON public.comments FOR INSERT TO authenticated
  WITH CHECK (author = (SELECT auth.uid()));
CREATE POLICY comments_edit ON public.comments FOR UPDATE TO authenticated
  USING (author = (SELECT auth.uid()));
CREATE POLICY comments_remove ON public.comments FOR DELETE TO authenticated
  USING (author = (SELECT auth.uid()));
CREATE POLICY profiles_read ON public.profiles FOR SELECT TO authenticated USING (true);
CREATE POLICY profiles_own ON public.profiles FOR UPDATE TO authenticated
  USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
CREATE POLICY tags_public ON public.tags FOR SELECT TO anon, authenticated USING (true);
CREATE POLICY audit_log_append ON public.audit_log FOR INSERT TO authenticated
  WITH CHECK (actor = (SELECT auth.uid()));
