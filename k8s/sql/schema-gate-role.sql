-- A least-privilege role for schema-gate: it may read goose's version table and nothing else.
-- schema-gate never creates, alters or writes anything. Run as the database owner, connected to
-- the application's database (the grant names it through psql's DBNAME, whatever it is called):
--   psql "$GOOSE_DBSTRING" -v ON_ERROR_STOP=1 -v gate_password="'…'" -f k8s/sql/schema-gate-role.sql
CREATE ROLE schema_gate LOGIN PASSWORD :gate_password;
-- Neon/PgBouncer: the role must also be known to the pooler (Neon: create it in the console/API).
GRANT CONNECT ON DATABASE :"DBNAME" TO schema_gate;
GRANT USAGE ON SCHEMA public TO schema_gate;
GRANT SELECT ON TABLE public.goose_db_version TO schema_gate;
-- Nothing else: no default privileges, no other tables, no sequences.
