#!/bin/sh
# Run once by the postgres image on a new volume (/docker-entrypoint-initdb.d), as the owner POSTGRES_USER: the role
# the app runs as. It gets its rights from `db upgrade` (the migrate service, as the owner, with
# RANCHERSYNC_DB_APP_ROLE): everything on the app's tables except changing or removing an audit event.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_role="${POSTGRES_APP_USER:-ranchersync_app}" -v app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE :"app_role" LOGIN PASSWORD :'app_password';
SQL
