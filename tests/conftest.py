pytest_plugins = ["tests.sandbox_fixtures", "tests.turn_server", "tests.field.fixtures"]
