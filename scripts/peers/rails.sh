#!/usr/bin/env bash
# Rails' migrations (Active Record 6.1) from Debian's packages, used offline: ruby-railties,
# ruby-activerecord and ruby-pg. Debian's `rails` package itself cannot be installed here (it
# pulls node packages whose dependencies are not satisfiable), and `rails new` runs `bundle
# install`, which needs rubygems.org; so the differential runs a minimal application
# (scripts/peers/rails/app: config/application.rb with the Active Record railtie, a Rakefile),
# with no Gemfile, against the system gems. Installs the packages when missing (as root).
# Prints the path of `rake` (`rake db:migrate`, `db:migrate:status`, `db:rollback` in an app
# directory made from scripts/peers/rails/app, with config/database.yml and db/migrate/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091
. "$here/lib.sh"

packages=(ruby-railties ruby-activerecord ruby-pg rake)
if ! ruby -e 'require "rails"; require "active_record/railtie"; require "pg"' >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "rails.sh: missing ${packages[*]}: sudo apt-get install --no-install-recommends ${packages[*]}" >&2
    exit 1
  fi
  peer_log "installing ${packages[*]} from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2; }
fi
version=$(ruby -e 'require "active_record"; print ActiveRecord.version')
case $version in
  6.1.*) ;;
  *) echo "rails.sh: Active Record $version, expected 6.1 (Debian 12)" >&2; exit 1 ;;
esac
command -v rake
