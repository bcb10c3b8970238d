require "rails"
require "active_record/railtie"
module GateApp
  class Application < Rails::Application
    config.load_defaults 6.1
    config.eager_load = false
    config.logger = Logger.new(nil)
  end
end
