-- A least-privilege role for schema-gate: it may read goose's version table and nothing else.
-- schema-gate never creates, alters or writes anything. Run as the database owner, connected to
-- the application's database (the grant names it through psql's DBNAME, whatever it is called),
-- once the app's role (honeydue_app) and goose's (migrator) exist:
--   psql "$GOOSE_DBSTRING" -v ON_ERROR_STOP=1 -v gate_password="'…'" -f k8s/sql/schema-gate-role.sql
CREATE ROLE schema_gate LOGIN PASSWORD :gate_password;
-- Neon/PgBouncer: the role must also be known to the pooler (Neon: create it in the console/API).
GRANT CONNECT ON DATABASE :"DBNAME" TO schema_gate;
GRANT USAGE ON SCHEMA public TO schema_gate;
-- The table is named schema-qualified, for the gate and goose alike (GOOSE_TABLE and goose's
-- -table): public.goose_db_version.
GRANT SELECT ON TABLE public.goose_db_version TO schema_gate;
-- Nothing else: no default privileges, no other tables, no sequences.

-- No tables of its own in public. PostgreSQL 13 and 14 let every role create in public (PUBLIC
-- holds CREATE there; 15 revoked it): whoever holds the gate's credentials could create
-- public.goose_db_version before goose's first run, with a row for every migration, and the gate
-- would open on a database where nothing was migrated (goose, finding its table, would apply
-- nothing either). On a database created by 15 or later this is already so; one upgraded or
-- restored from 13/14 keeps PUBLIC's CREATE. goose needs CREATE there, so it
-- gets it by name (on 13 and 14 only the schema's owner may grant it: as another role, psql
-- prints "no privileges could be revoked"; run this file as a superuser there, or revoke by hand).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CREATE ON SCHEMA public TO migrator;
-- The app: only if it creates tables or extensions in public at run time (on 13/14 it could
-- until now; on a database made by 15 it never could), uncomment:
-- GRANT CREATE ON SCHEMA public TO honeydue_app;

-- No temporary tables for the gate's role. Through a transaction-mode pooler a temporary table
-- outlives the client that made it: it stays on the pooled server connection, which the next
-- client of the same role gets, and Postgres searches it before public. Whoever holds the gate's
-- credentials could leave a goose_db_version there for the gate's next check. (The gate reads
-- the schema-qualified table and refuses a temporary one in any case; this takes the tool away.)
-- Every role has TEMPORARY through PUBLIC, so revoking it from schema_gate alone changes
-- nothing: revoke it from PUBLIC and grant it back to the roles that need it. The database
-- owner keeps it.
REVOKE TEMPORARY ON DATABASE :"DBNAME" FROM PUBLIC;
-- goose: migrations may use temporary tables (goose connects directly, not through the pooler).
GRANT TEMPORARY ON DATABASE :"DBNAME" TO migrator;
-- The app: keep this line only if it creates temporary tables (without it, CREATE TEMP TABLE
-- fails with "permission denied to create temporary tables in database"). Through the pooler its
-- temporary tables outlive the transaction on a server connection that other clients of its role
-- reuse: create them inside a transaction with ON COMMIT DROP.
GRANT TEMPORARY ON DATABASE :"DBNAME" TO honeydue_app;
