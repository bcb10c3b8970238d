# Many `rake` command lines in one Ruby process, for the differential (tests/tools_rails.rs):
# each `rake` boots the application (2-8 s), this boots it once. Run in an application made from
# scripts/peers/rails/app (config/database.yml, db/migrate, DATABASE_URL set):
#
#   ruby scripts/peers/rails/session.rb
#
# Prints `== ready`, then reads one command line a line (`db:migrate`, `db:migrate:down
# VERSION=20240101000002`: task names and NAME=value settings, as rake takes them) and answers
# with what the tasks printed (stdout and stderr) and `== exit N`: 0, the status of an `abort`,
# or 1 with "rake aborted!" and the error, as rake exits.
#
# Between commands it forgets what one process would otherwise carry over and a fresh `rake`
# would not have: every task is re-enabled (rake runs each once per process), the NAME=value
# settings are undone, the connection is closed with its schema cache, the models' column
# information is reset, and the migration files are forgotten ($LOADED_FEATURES and the classes
# they defined), since Active Record `require`s them and an edited file would not be read again.
require "rake"
require "stringio"

Rake.application.init("rake", [])
Rake.application.load_rakefile
Rake::Task["db:load_config"].invoke
$stdout.sync = true
ORIGINAL_CONSTANTS = Object.constants
MIGRATE_DIR = File.expand_path("db/migrate")

def forget
  Rake::Task.tasks.each(&:reenable)
  ($LOADED_FEATURES.select { |f| f.start_with?(MIGRATE_DIR + "/") }).each do |f|
    $LOADED_FEATURES.delete(f)
  end
  (Object.constants - ORIGINAL_CONSTANTS).each do |name|
    value = Object.const_get(name)
    Object.send(:remove_const, name) if value.is_a?(Class) && value < ActiveRecord::Migration
  end
  ActiveRecord::Base.connection_handler.connection_pool_list.each do |pool|
    pool.disconnect!
    pool.schema_cache&.clear!
  end
  [ActiveRecord::SchemaMigration, ActiveRecord::InternalMetadata].each(&:reset_column_information)
end

def run(line)
  words = line.split
  settings, tasks = words.partition { |w| w.include?("=") }
  saved = {}
  settings.each do |s|
    name, value = s.split("=", 2)
    saved[name] = ENV[name]
    ENV[name] = value
  end
  out = StringIO.new
  $stdout = $stderr = out
  code = 0
  begin
    tasks.each { |t| Rake::Task[t].invoke }
  rescue SystemExit => e
    code = e.status
  rescue Exception => e # rubocop:disable Lint/RescueException -- rake reports every error
    out.puts "rake aborted!", "#{e.class}: #{e.message}"
    code = 1
  ensure
    $stdout = STDOUT
    $stderr = STDERR
    saved.each { |name, value| ENV[name] = value }
  end
  forget
  [code, out.string]
end

forget
puts "== ready"
$stdin.each_line do |line|
  code, text = run(line)
  print text
  print "\n" unless text.empty? || text.end_with?("\n")
  puts "== exit #{code}"
end
